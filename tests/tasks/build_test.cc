// build and tag alone: an image over its base's layers and its own, its config extended; a
// `from` kind over its parent's image; unchanged inputs cached; names in the store.
#include <nlohmann/json.hpp>

#include "task_fixture.h"

using namespace flavourgraph;

TEST_CASE("build: base layers plus new ones, config extended; unchanged inputs are cached") {
  fgtest::TaskFixture f;
  BasePullTask pull(*f.env, 0);
  LayerTask layer(*f.env, f.layer_index("/srv/app"));
  REQUIRE(f.run(pull).outcome.state == TaskState::done);
  REQUIRE(f.run(layer).outcome.state == TaskState::done);
  uint32_t b = f.build_index("mediawiki:publish:image");
  BuildTask build(*f.env, b, pull, {&layer});
  auto r = f.run(build);
  CHECK(r.outcome.state == TaskState::done);
  const ImageData& img = build.image();
  REQUIRE(img.parsed.layers.size() == 2);
  CHECK(img.parsed.layers[0].digest == pull.image().parsed.layers[0].digest);
  CHECK(img.parsed.layers[1].digest == layer.blob().blob.digest);
  CHECK(img.config["rootfs"]["diff_ids"].size() == 2);
  CHECK(img.config["rootfs"]["diff_ids"][1] == layer.blob().diff_id.str());
  CHECK(img.config["config"]["Labels"]["io.flavourgraph.arg.PHP_VERSION"] == "8.1");
  CHECK(img.parsed.annotations.at("org.opencontainers.image.base.digest") == pull.image().manifest.digest.str());
  CHECK(f.store->has_blob(img.manifest.digest, img.manifest.size));

  BuildTask again(*f.env, b, pull, {&layer});
  CHECK(f.run(again).outcome.state == TaskState::cached);
  CHECK(again.image().manifest.digest == img.manifest.digest);

  // A kind built `from` it: the parent's layers, and no new one.
  BuildTask debug(*f.env, f.build_index("mediawiki:publish:debug-image"), build, {});
  CHECK(f.run(debug).outcome.state == TaskState::done);
  CHECK(debug.image().parsed.layers.size() == 2);
  CHECK(debug.image().config["history"].back()["empty_layer"] == true);

  // tag: the names in the store, once.
  TagTask tag(*f.env, b, build);
  CHECK(f.run(tag).outcome.state == TaskState::done);
  CHECK(f.store->resolve("restricted/mediawiki:2024-10-29-190315-publish")->digest == img.manifest.digest);
  CHECK(f.store->resolve("restricted/mediawiki:latest")->digest == img.manifest.digest);
  TagTask tag_again(*f.env, b, build);
  CHECK(f.run(tag_again).outcome.state == TaskState::cached);
}

TEST_CASE("build: a base whose config does not match its manifest fails the build") {
  fgtest::TaskFixture f;
  BasePullTask pull(*f.env, 0);
  LayerTask layer(*f.env, f.layer_index("/srv/app"));
  REQUIRE(f.run(pull).outcome.state == TaskState::done);
  REQUIRE(f.run(layer).outcome.state == TaskState::done);
  // A base that failed to pull gives no image to build on.
  BasePullTask never_ran(*f.env, 0);
  BuildTask build(*f.env, f.build_index("mediawiki:publish:image"), never_ran, {&layer});
  CHECK_THROWS_WITH(f.run(build), doctest::Contains("not there"));
}
