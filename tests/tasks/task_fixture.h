#pragma once
// The tasks alone, one at a time: a small configuration (mediawiki with an image and a debug
// kind built `from` it, and the webserver), a fresh store in a temp directory, and an in-memory
// registry (FakeRegistry) holding the base image and receiving the pushes. Each test makes the
// tasks it needs, in dependency order, and runs them by hand: no executor, no socket.

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "fake_registry.h"
#include "flavourgraph/config.h"
#include "flavourgraph/deployments.h"
#include "flavourgraph/oci/image_io.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/plan.h"
#include "flavourgraph/tasks/tasks.h"
#include "test_util.h"

namespace fgtest {

inline constexpr const char* kTaskImages = R"(
registry: registry.test/prefix
tag: "{timestamp}-{flavour}"
latest_tag: latest
images:
  mediawiki:
    flavours:
      publish:
        args: {PHP_VERSION: "8.1"}
        metadata: {php_version: "8.1"}
    kinds:
      image:
        repository: restricted/mediawiki
        base: registry.test/base:1
        layers:
          - source: app
            dest: /srv/app
            owner: "33:33"
      debug-image:
        repository: restricted/mediawiki-debug
        from: image
  webserver:
    flavours:
      webserver: {}
    kinds:
      image:
        repository: restricted/webserver
        base: registry.test/base:1
)";

inline constexpr const char* kTaskDeployments = R"(
- namespace: mw-web
  mw_flavour: publish
  web_flavour: webserver
  releases:
    main: {}
)";

/// The base image `registry.test/base:1`: one layer, a config naming it.
struct BaseImage {
  std::string layer = "base layer bytes";
  std::string config, manifest;
  BaseImage() {
    using flavourgraph::oci::Digest;
    std::string diff = Digest::sha256_of(layer).str();
    config = R"({"architecture":"amd64","config":{"Env":["PATH=/bin"]},"os":"linux","rootfs":{"diff_ids":[")" +
             diff + R"("],"type":"layers"}})";
    manifest = R"({"config":{"digest":")" + Digest::sha256_of(config).str() +
               R"(","mediaType":"application/vnd.oci.image.config.v1+json","size":)" + std::to_string(config.size()) +
               R"(},"layers":[{"digest":")" + diff +
               R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":)" +
               std::to_string(layer.size()) +
               R"(}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2})";
  }
  void publish(FakeRegistry& reg, const std::string& repo = "base") const {
    reg.put_blob(repo, layer);
    reg.put_blob(repo, config);
    reg.put_manifest(repo, "1", manifest, "application/vnd.oci.image.manifest.v1+json");
  }
};

struct TaskFixture {
  TempDir tmp;
  FakeRegistry registry{"registry.test"};
  BaseImage base;
  std::shared_ptr<flavourgraph::ImagesConfig> cfg;
  std::shared_ptr<flavourgraph::DeploymentsFile> dep;
  flavourgraph::Plan plan;
  flavourgraph::BuildSettings settings;
  flavourgraph::CancelSource cancel;
  std::unique_ptr<flavourgraph::oci::Layout> store;
  std::unique_ptr<flavourgraph::RegistryPool> pool;
  std::unique_ptr<flavourgraph::oci::ImageSink> sink;
  std::unique_ptr<flavourgraph::ValuesDir> values;
  std::unique_ptr<flavourgraph::BuildEnv> env;

  TaskFixture() {
    using namespace flavourgraph;
    write_file(tmp / "cfg/app/index.php", "<?php echo 1;\n");
    write_file(tmp / "cfg/app/lib/a.php", "<?php // a\n");
    base.publish(registry);
    Diagnostics diags;
    cfg = std::make_shared<ImagesConfig>(parse_images_config(kTaskImages, "images.yaml", tmp / "cfg", diags));
    dep = std::make_shared<DeploymentsFile>(parse_deployments(kTaskDeployments, "deployments.yaml", diags));
    REQUIRE_FALSE(diags.has_errors());
    PlanOptions opts;
    opts.timestamp = "2024-10-29-190315";
    Selection every;
    every.all_flavours = true;  // the debug kind too, which no release runs
    plan = expand(cfg, dep, every, opts, diags);
    REQUIRE_FALSE(diags.has_errors());
    settings.store_dir = tmp / "store";
    settings.values_dir = tmp / "values";
    store = oci::Layout::open(settings.store_dir, true);
    pool = std::make_unique<RegistryPool>(RegistrySettings{}, cancel, registry);
    sink = std::make_unique<oci::RegistrySink>(pool->client("registry.test"), cancel);
    values = std::make_unique<ValuesDir>(settings.values_dir, false);
    auto target = oci::Target::parse(plan.registry, tmp.path());
    REQUIRE(target);
    env = std::make_unique<BuildEnv>(plan, settings, *store, *target, *sink, *pool, values.get());
  }

  [[nodiscard]] uint32_t build_index(const std::string& id_suffix) const {
    for (uint32_t i = 0; i < plan.builds.size(); ++i)
      if (plan.builds[i].id_suffix() == id_suffix) return i;
    FAIL("no build " << id_suffix);
    return 0;
  }
  [[nodiscard]] uint32_t layer_index(const std::string& dest) const {
    for (uint32_t i = 0; i < plan.layers.size(); ++i)
      if (plan.layers[i].spec.dest == dest) return i;
    FAIL("no layer to " << dest);
    return 0;
  }

  /// Runs a task as the executor would, returning its outcome, the bytes it counted and the
  /// progress it reported (done, total).
  struct Ran {
    flavourgraph::TaskOutcome outcome;
    uint64_t bytes_in = 0, bytes_out = 0;
    std::vector<std::string> warnings;
    std::vector<std::pair<uint64_t, uint64_t>> progress;
  };
  Ran run(flavourgraph::Task& task) {
    struct Progress : flavourgraph::Status {
      std::vector<std::pair<uint64_t, uint64_t>>* out;
      void task_progress(uint32_t, uint64_t done, uint64_t total) override { out->emplace_back(done, total); }
    } progress;
    Ran r;
    progress.out = &r.progress;
    flavourgraph::TaskContext ctx(cancel, &progress, 0);
    r.outcome = task.run(ctx);
    r.bytes_in = ctx.bytes_in();
    r.bytes_out = ctx.bytes_out();
    r.warnings = ctx.take_warnings();
    return r;
  }
};

}  // namespace fgtest
