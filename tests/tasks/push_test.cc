// push alone: blobs first (base layers mounted from the base's repository, new ones uploaded),
// then every tag; a second push sends nothing and is cached.
#include "task_fixture.h"

using namespace flavourgraph;

namespace {

struct Pushed {
  fgtest::TaskFixture f;
  std::unique_ptr<BasePullTask> pull;
  std::unique_ptr<LayerTask> layer;
  std::unique_ptr<BuildTask> build;
  uint32_t b = 0;
  Pushed() {
    pull = std::make_unique<BasePullTask>(*f.env, 0);
    layer = std::make_unique<LayerTask>(*f.env, f.layer_index("/srv/app"));
    REQUIRE(f.run(*pull).outcome.state == TaskState::done);
    REQUIRE(f.run(*layer).outcome.state == TaskState::done);
    b = f.build_index("mediawiki:publish:image");
    build = std::make_unique<BuildTask>(*f.env, b, *pull, std::vector<const LayerTask*>{layer.get()});
    REQUIRE(f.run(*build).outcome.state == TaskState::done);
  }
};

}  // namespace

TEST_CASE("push: base layers mounted, new blobs uploaded, the manifest named by every tag") {
  Pushed p;
  PushTask push(*p.f.env, p.b, *p.build);
  auto r = p.f.run(push);
  CHECK(r.outcome.state == TaskState::done);
  const ImageData& img = p.build->image();
  std::string repo = "prefix/restricted/mediawiki";
  for (const auto& l : img.parsed.layers) CHECK(p.f.registry.has_blob(repo, l.digest.str()));
  CHECK(p.f.registry.has_blob(repo, img.parsed.config.digest.str()));
  CHECK(p.f.registry.count("POST", "mount=" + img.parsed.layers[0].digest.str().substr(0, 7)) == 1);  // from base
  CHECK(p.f.registry.manifest(repo, "2024-10-29-190315-publish") == p.f.store->read_blob(img.manifest.digest));
  CHECK(p.f.registry.manifest(repo, "latest"));
  // The new layer, the config, and the manifest under each of its two names.
  CHECK(r.bytes_out == static_cast<uint64_t>(img.parsed.layers[1].size + img.parsed.config.size + 2 * img.manifest.size));
  CHECK(push.pushed().ref ==
        "registry.test/prefix/restricted/mediawiki:2024-10-29-190315-publish@" + img.manifest.digest.str());
  // Progress by whole blobs, the mounted base layer counted too; blobs this small are heard of
  // only at the start and the end (the context's throttle).
  uint64_t blobs = static_cast<uint64_t>(img.parsed.layers[0].size + img.parsed.layers[1].size + img.parsed.config.size);
  CHECK(r.progress == std::vector<std::pair<uint64_t, uint64_t>>{{0, blobs}, {blobs, blobs}});

  size_t before = p.f.registry.requests().size();
  PushTask again(*p.f.env, p.b, *p.build);
  auto r2 = p.f.run(again);
  CHECK(r2.outcome.state == TaskState::cached);
  CHECK(r2.bytes_out == 0);
  for (size_t i = before; i < p.f.registry.requests().size(); ++i)
    CHECK(p.f.registry.requests()[i].method == "HEAD");
}

TEST_CASE("push: a registry failing mid-push leaves no tag") {
  Pushed p;
  p.f.registry.fail_next(100, 500, [](const oci::HttpRequest& r) { return r.method == "PUT"; });
  PushTask push(*p.f.env, p.b, *p.build);
  CHECK_THROWS_AS(p.f.run(push), oci::RegistryError);
  CHECK_FALSE(push.has_pushed());
  CHECK_FALSE(p.f.registry.manifest("prefix/restricted/mediawiki", "2024-10-29-190315-publish"));
}

TEST_CASE("push: to an oci: layout, blobs and names in its index") {
  fgtest::TaskFixture f;
  auto dst = oci::Layout::open(f.tmp / "target", true);
  oci::LayoutSink sink(*dst);
  auto target = oci::Target::parse("oci:target", f.tmp.path());
  REQUIRE(target);
  // Not a registry target: the base's layers come into the store at pull time.
  BuildEnv env(f.plan, f.settings, *f.store, *target, sink, *f.pool, f.values.get());
  BasePullTask pull(env, 0);
  LayerTask layer(env, f.layer_index("/srv/app"));
  REQUIRE(f.run(pull).outcome.state == TaskState::done);
  REQUIRE(f.run(layer).outcome.state == TaskState::done);
  uint32_t b = f.build_index("mediawiki:publish:image");
  BuildTask build(env, b, pull, {&layer});
  REQUIRE(f.run(build).outcome.state == TaskState::done);
  PushTask push(env, b, build);
  auto r = f.run(push);
  CHECK(r.outcome.state == TaskState::done);
  CHECK(dst->resolve("restricted/mediawiki:2024-10-29-190315-publish")->digest == build.image().manifest.digest);
  for (const auto& l : build.image().parsed.layers) CHECK(dst->has_blob(l.digest, l.size));
  PushTask again(env, b, build);
  CHECK(f.run(again).outcome.state == TaskState::cached);
}
