// base-pull alone: a registry base pinned by digest, its config in the store, its layers left
// on the registry when the push target is the same registry; a layout base copied whole.
#include "task_fixture.h"

using namespace flavourgraph;

TEST_CASE("base-pull: a registry base on the push target's registry is pinned; layers stay there") {
  fgtest::TaskFixture f;
  BasePullTask pull(*f.env, 0);
  auto r = f.run(pull);
  CHECK(r.outcome.state == TaskState::done);
  const ImageData& img = pull.image();
  auto digest = oci::Digest::sha256_of(f.base.manifest).str();
  CHECK(img.name == "registry.test/base:1@" + digest);
  CHECK(r.outcome.output == img.name);
  CHECK(img.parsed.layers.size() == 1);
  CHECK(f.store->has_blob(img.parsed.config.digest));
  CHECK_FALSE(f.store->has_blob(img.parsed.layers[0].digest));  // mounted at push time, never downloaded
  CHECK(img.remote_host == "registry.test");
  CHECK(img.remote_repo == "base");
  CHECK(r.bytes_in == f.base.config.size());
  CHECK(r.progress == std::vector<std::pair<uint64_t, uint64_t>>{{f.base.config.size(), f.base.config.size()}});
  BasePullTask again(*f.env, 0);
  CHECK(f.run(again).outcome.state == TaskState::cached);
}

TEST_CASE("base-pull: a base from another registry brings its layers into the store; an index picks the platform") {
  fgtest::TaskFixture f;
  // The push target is now another registry: the base's layers must be local.
  auto target = oci::Target::parse("elsewhere.test", f.tmp.path());
  REQUIRE(target);
  BuildEnv env(f.plan, f.settings, *f.store, *target, *f.sink, *f.pool, f.values.get());
  std::string index = R"({"manifests":[{"digest":")" + oci::Digest::sha256_of(f.base.manifest).str() +
                      R"(","mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"architecture":"amd64","os":"linux"},"size":)" +
                      std::to_string(f.base.manifest.size()) +
                      R"(}],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2})";
  f.registry.put_manifest("base", "1", index, "application/vnd.oci.image.index.v1+json");
  BasePullTask pull(env, 0);
  auto r = f.run(pull);
  CHECK(r.outcome.state == TaskState::done);
  CHECK(pull.image().manifest.digest == oci::Digest::sha256_of(f.base.manifest));  // the platform's, not the index
  CHECK(f.store->has_blob(pull.image().parsed.layers[0].digest));
  CHECK(pull.image().remote_repo.empty());
  CHECK(r.bytes_in == f.base.config.size() + f.base.layer.size());
  uint64_t all = f.base.config.size() + f.base.layer.size();
  CHECK(r.progress == std::vector<std::pair<uint64_t, uint64_t>>{{f.base.config.size(), all}, {all, all}});
}

TEST_CASE("base-pull: a base the registry lacks fails naming it") {
  fgtest::TaskFixture f;
  f.registry.fail_next(1, 404, [](const oci::HttpRequest& r) { return r.url.find("/manifests/1") != std::string::npos; });
  BasePullTask pull(*f.env, 0);
  CHECK_THROWS_WITH(f.run(pull), doctest::Contains("base registry.test/base:1"));
  CHECK_FALSE(pull.has_image());
}
