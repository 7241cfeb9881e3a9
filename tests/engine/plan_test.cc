// Plan expansion: stable ids, sharing, selection, determinism, cross-file validation, names.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <map>
#include <set>

#include "example.h"
#include "flavourgraph/plan.h"
#include "flavourgraph/plan_graph.h"
#include "test_util.h"

using namespace flavourgraph;

namespace {

struct Fixture {
  std::shared_ptr<ImagesConfig> cfg;
  std::shared_ptr<DeploymentsFile> dep;
  Diagnostics diags;

  explicit Fixture(const std::string& deployments = fgtest::source_dir() + "/configs/example/deployments.yaml") {
    cfg = std::make_shared<ImagesConfig>(
        load_images_config(fgtest::source_dir() + "/configs/example/images.yaml", diags));
    dep = std::make_shared<DeploymentsFile>(load_deployments(deployments, diags));
    REQUIRE_FALSE(diags.has_errors());
  }

  Plan plan(const Selection& sel = {}, PlanOptions opts = {}) {
    if (opts.timestamp.empty()) opts.timestamp = "2024-10-29-190315";
    diags = Diagnostics{};
    return expand(cfg, dep, sel, opts, diags);
  }
};

std::vector<std::string> ids_of(const Plan& p, TaskKind k) {
  std::vector<std::string> out;
  for (const auto& t : p.tasks)
    if (t.kind == k) out.push_back(t.id);
  return out;
}

bool has(const Plan& p, const std::string& id) { return p.find(id) >= 0; }

}  // namespace

TEST_CASE("the example expands to shared work with stable ids") {
  Fixture f;
  Plan p = f.plan();
  REQUIRE_FALSE(f.diags.has_errors());
  // Two mediawiki flavours × three kinds + webserver, after the PHP bases they are built on
  // (build:php-base/...): the incremental app layer compares the bases of its images.
  CHECK(ids_of(p, TaskKind::build) ==
        std::vector<std::string>{"build:php-base:php7.4:image", "build:php-base:php8.1:image",
                                 "build:mediawiki:publish:image", "build:mediawiki:publish:cli-image",
                                 "build:mediawiki:publish:debug-image", "build:mediawiki:publish-81:image",
                                 "build:mediawiki:publish-81:cli-image",
                                 "build:mediawiki:publish-81:debug-image",
                                 "build:webserver:webserver:image"});
  // One RUN build per PHP version serves image and cli-image (and debug-image on image).
  CHECK(ids_of(p, TaskKind::run) == std::vector<std::string>{"run:php-base:php7.4:image", "run:php-base:php8.1:image"});
  for (const auto& r : p.runs) CHECK(r.builds.size() == 1);
  const PlanBuild& cli81 = p.builds[p.tasks[static_cast<size_t>(p.find("build:mediawiki:publish-81:cli-image"))].subject];
  REQUIRE(cli81.base_build >= 0);
  CHECK(p.builds[static_cast<size_t>(cli81.base_build)].id_suffix() == "php-base:php8.1:image");
  CHECK_FALSE(p.builds[static_cast<size_t>(cli81.base_build)].published);  // a base only
  // One app layer serves image and cli-image of both flavours: built once.
  auto layers = ids_of(p, TaskKind::layer);
  CHECK(layers.size() == 3);
  int app = -1;
  for (size_t i = 0; i < p.layers.size(); ++i)
    if (p.layers[i].spec.name == "app") app = static_cast<int>(i);
  REQUIRE(app >= 0);
  CHECK(p.layers[static_cast<size_t>(app)].builds.size() == 4);
  // One base-pull per distinct base ref: the RUN builds' busybox, and the webserver's.
  CHECK(ids_of(p, TaskKind::base_pull) ==
        std::vector<std::string>{"base-pull:oci:shell:busybox", "base-pull:oci:bases:httpd"});
  // debug-image builds on image of the same flavour.
  const auto& dbg = p.tasks[static_cast<size_t>(p.find("build:mediawiki:publish-81:debug-image"))];
  CHECK(std::count(dbg.deps.begin(), dbg.deps.end(),
                   static_cast<uint32_t>(p.find("build:mediawiki:publish-81:image"))) == 1);
  // A render task depends on exactly the two pushes it names.
  const auto& r = p.tasks[static_cast<size_t>(p.find("render-values:mw-web/next@codfw"))];
  std::set<std::string> deps;
  for (auto d : r.deps) deps.insert(p.tasks[d].id);
  CHECK(deps == std::set<std::string>{"push:mediawiki:publish-81:image", "push:webserver:webserver:image"});
  CHECK(p.builds[static_cast<size_t>(p.tasks[static_cast<size_t>(p.find("build:mediawiki:publish-81:image"))].subject)].tag ==
        "2024-10-29-190315-publish-81");
}

TEST_CASE("tasks are topologically ordered and ids are unique") {
  Fixture f;
  Plan p = f.plan();
  std::set<std::string> seen;
  for (size_t i = 0; i < p.tasks.size(); ++i) {
    CHECK(seen.insert(p.tasks[i].id).second);
    for (uint32_t d : p.tasks[i].deps) CHECK(d < i);
  }
}

TEST_CASE("only what some release needs is built, unless --all-flavours") {
  Fixture f(fgtest::fixture("deployments-scap-tests.yaml"));
  // scap-tests names flavours that images.yaml lacks: cross-file validation.
  Plan bad = f.plan();
  CHECK(f.diags.mentions("deployments-scap-tests.yaml:31:7: api3.releases.migration.mw_flavour: unknown flavour "
                         "'exciting-new-mediawiki' of image 'mediawiki' (known: publish, publish-81)"));

  Fixture g(fgtest::fixture("deployments-2024-10.yaml"));
  Plan p = g.plan();
  REQUIRE_FALSE(g.diags.has_errors());
  // Only publish is used: image (main releases), debug-image (debug namespaces), webserver.
  CHECK(ids_of(p, TaskKind::push) ==
        std::vector<std::string>{"push:mediawiki:publish:image", "push:mediawiki:publish:debug-image",
                                 "push:webserver:webserver:image"});
  Selection all;
  all.all_flavours = true;
  Plan q = g.plan(all);
  CHECK(ids_of(q, TaskKind::push).size() == 9);  // and the two PHP bases
}

TEST_CASE("a selection keeps the chosen tasks and their ancestors only") {
  Fixture f;
  Selection only;
  only.only = {"mediawiki:publish-81:debug-image"};
  Plan p = f.plan(only);
  REQUIRE_FALSE(f.diags.has_errors());
  CHECK(ids_of(p, TaskKind::push) == std::vector<std::string>{"push:mediawiki:publish-81:debug-image"});
  CHECK(has(p, "build:mediawiki:publish-81:image"));       // the parent kind is built...
  CHECK_FALSE(has(p, "push:mediawiki:publish-81:image"));  // ...but not published
  CHECK(ids_of(p, TaskKind::render_values).empty());
  CHECK(ids_of(p, TaskKind::base_pull) == std::vector<std::string>{"base-pull:oci:shell:busybox"});
  CHECK(ids_of(p, TaskKind::run) == std::vector<std::string>{"run:php-base:php8.1:image"});

  Selection rel;
  rel.releases = {"mw-cron/main"};
  Plan c = f.plan(rel);
  CHECK(ids_of(c, TaskKind::render_values) == std::vector<std::string>{"render-values:mw-cron/main@eqiad"});
  CHECK(ids_of(c, TaskKind::push) ==
        std::vector<std::string>{"push:mediawiki:publish-81:cli-image", "push:webserver:webserver:image"});

  Selection stage;
  stage.stage = Stage::testservers;
  Plan t = f.plan(stage);
  CHECK(ids_of(t, TaskKind::render_values).size() == 4);
  CHECK(ids_of(t, TaskKind::push) ==
        std::vector<std::string>{"push:mediawiki:publish:debug-image",
                                 "push:mediawiki:publish-81:debug-image",
                                 "push:webserver:webserver:image"});

  Selection bad;
  bad.only = {"mediawiki:publish-82"};
  f.plan(bad);
  CHECK(f.diags.mentions("--only: unknown flavour 'publish-82' of image 'mediawiki' (known: publish, publish-81)"));
  Selection nobody;
  nobody.releases = {"mw-web/nope"};
  f.plan(nobody);
  CHECK(f.diags.mentions("--release: 'mw-web/nope' matches no release"));
}

TEST_CASE("a 2025-format file: one render task per release and cluster, only the builds it needs") {
  // 12 namespaces, 27 releases: mw_kind, explicit stages, deploy: false, dir, clusters.
  Fixture f(fgtest::source_dir() + "/tests/data/deployments-2025.yaml");
  size_t releases = 0, namespaces = f.dep->namespaces.size();
  for (const auto& ns : f.dep->namespaces) releases += ns.releases.size();
  CHECK(namespaces == 12);
  CHECK(releases == 27);
  Plan p = f.plan();
  REQUIRE_FALSE(f.diags.has_errors());

  // Every (release, cluster) renders exactly once: 23 releases on both clusters, 4 on eqiad.
  auto renders = ids_of(p, TaskKind::render_values);
  CHECK(renders.size() == 50);
  CHECK(std::set<std::string>(renders.begin(), renders.end()).size() == renders.size());
  std::map<std::string, std::set<std::string>> clusters_of;  // ns/release -> clusters rendered
  for (const auto& r : p.releases) clusters_of[r.target.ns->name + "/" + r.target.release->name].insert(r.target.cluster);
  CHECK(clusters_of.size() == 27);
  for (const auto& [id, cl] : clusters_of) {
    bool eqiad_only = id.starts_with("mw-wikifunctions/") || id.starts_with("mw-cron/") || id.starts_with("dumps/");
    CHECK_MESSAGE(cl == (eqiad_only ? std::set<std::string>{"eqiad"} : std::set<std::string>{"eqiad", "codfw"}), id);
  }
  CHECK(has(p, "render-values:dumps/production@eqiad"));
  CHECK(has(p, "render-values:mw-script/main@codfw"));  // deploy: false still gets its values

  // One build per needed (image, flavour, kind), plus the from: parent of publish-81
  // debug-image and the PHP bases they are built on.
  auto builds = ids_of(p, TaskKind::build);
  CHECK(std::set<std::string>(builds.begin(), builds.end()) ==
        std::set<std::string>{"build:php-base:php7.4:image", "build:php-base:php8.1:image",
                              "build:mediawiki:publish:image", "build:mediawiki:publish:cli-image",
                              "build:mediawiki:publish-81:image", "build:mediawiki:publish-81:debug-image",
                              "build:webserver:webserver:image"});
  CHECK(builds.size() == 7);
  CHECK_FALSE(has(p, "push:mediawiki:publish-81:image"));  // the parent is built, not published
  CHECK(ids_of(p, TaskKind::push).size() == 4);

  // One base-pull per distinct base.
  auto bases = ids_of(p, TaskKind::base_pull);
  CHECK(std::set<std::string>(bases.begin(), bases.end()) ==
        std::set<std::string>{"base-pull:oci:shell:busybox", "base-pull:oci:bases:httpd"});
  CHECK(bases.size() == 2);

  // Kinds and stages as written.
  const auto* maint = f.dep->find_release("mw-cron", "maintenance");
  REQUIRE(maint);
  CHECK(maint->mw_kind == "cli-image");
  CHECK_FALSE(maint->deploy);
  CHECK(f.dep->find_release("mw-misc", "staging")->stage == Stage::testservers);
  CHECK(f.dep->find_release("mw-web", "canary")->stage == Stage::canaries);
  CHECK(f.dep->find_release("mw-web", "next")->stage == Stage::production);
}

TEST_CASE("--scope keeps one scope's releases; an unknown scope is an error") {
  Fixture f(fgtest::fixture("deployments-mapping-form.yaml"));
  Selection s;
  s.scope = "pretrain";
  Plan p = f.plan(s);
  REQUIRE_FALSE(f.diags.has_errors());
  CHECK(ids_of(p, TaskKind::render_values).size() == 4);
  s.scope = "nope";
  f.plan(s);
  CHECK(f.diags.mentions("--scope: 'nope' matches no deployment targets"));
}

TEST_CASE("the JSON plan is deterministic and names every dependency") {
  Fixture f;
  std::string a = plan_to_json(f.plan());
  std::string b = plan_to_json(f.plan());
  CHECK(a == b);
  auto j = nlohmann::json::parse(a);
  std::set<std::string> ids;
  for (const auto& t : j["tasks"]) ids.insert(t["id"].get<std::string>());
  for (const auto& t : j["tasks"]) {
    std::string kind = t["kind"];
    CHECK(std::set<std::string>{"base-pull", "run", "layer", "build", "tag", "push", "render-values"}.count(kind));
    for (const auto& d : t["deps"]) CHECK(ids.count(d.get<std::string>()));
  }
  CHECK(j["summary"]["values_files"] == 17);
  CHECK(j["summary"]["layers"]["uses"] == 7);
}

TEST_CASE("timestamps") {
  CHECK(format_timestamp(1730229795) == "2024-10-29-192315");
  CHECK(parse_timestamp("2024-10-29-190315") == 1730228595);
  CHECK(parse_timestamp("1730228595") == 1730228595);
  CHECK_FALSE(parse_timestamp("2024-02-31-000000"));
  CHECK_FALSE(parse_timestamp("yesterday"));
}

TEST_CASE("--no-push plans no push and no values; --atomic puts one publish task between pushes and values") {
  Fixture f;
  PlanOptions opts;
  opts.push = false;
  Plan local = f.plan({}, opts);
  REQUIRE_FALSE(f.diags.has_errors());
  CHECK(local.count(TaskKind::push) == 0);
  CHECK(local.count(TaskKind::render_values) == 0);
  CHECK(local.count(TaskKind::tag) == 7);  // the images still get their names in the store
  CHECK_FALSE(local.releases.empty());

  opts = {};
  opts.atomic = true;
  Plan atomic = f.plan({}, opts);
  REQUIRE(atomic.publish_task >= 0);
  const PlanTask& publish = atomic.tasks[static_cast<size_t>(atomic.publish_task)];
  CHECK(publish.kind == TaskKind::publish);
  CHECK(publish.deps.size() == 7);
  for (uint32_t d : publish.deps) CHECK(atomic.tasks[d].kind == TaskKind::push);
  for (const auto& r : atomic.releases)
    CHECK(atomic.tasks[static_cast<size_t>(r.task)].deps == std::vector<uint32_t>{static_cast<uint32_t>(atomic.publish_task)});
  CHECK(f.plan().publish_task == -1);
}

TEST_CASE("plan: every task has a unique name for people; layers by their images.yaml name") {
  Fixture f;
  Plan p = f.plan();
  REQUIRE_FALSE(f.diags.has_errors());
  std::map<std::string, std::string> names;
  for (const auto& t : p.tasks) names[t.id] = t.name;
  std::set<std::string> unique;
  for (const auto& t : p.tasks) {
    CHECK_FALSE(t.name.empty());
    CHECK_MESSAGE(unique.insert(t.name).second, t.name);
  }
  auto layer_of = [&](const std::string& source) {
    for (const auto& t : p.tasks)
      if (t.kind == TaskKind::layer && p.layers[t.subject].spec.source == source) return t.name;
    return std::string();
  };
  CHECK(layer_of("app") == "layer app");            // a named layer
  CHECK(layer_of("debug") == "layer debug");        // inline layers by their source
  CHECK(layer_of("webserver") == "layer webserver");
  CHECK(names["build:mediawiki:publish-81:image"] == "build mediawiki:publish-81:image");
  CHECK(names["tag:mediawiki:publish:cli-image"] == "tag mediawiki:publish:cli-image");
  CHECK(names["push:webserver:webserver:image"] == "push webserver:webserver:image");
  CHECK(names["base-pull:oci:shell:busybox"] == "pull oci:shell:busybox");
  CHECK(names["run:php-base:php7.4:image"] == "run php-base:php7.4:image");
  CHECK(names["render-values:mw-web/main@eqiad"] == "values mw-web/main@eqiad");
  // The executor's graph carries them.
  ExecGraph g = exec_graph(p, nullptr);
  for (size_t i = 0; i < p.tasks.size(); ++i) CHECK(g.tasks[i].name == p.tasks[i].name);
}

TEST_CASE("plan: layers that would share a name are told apart by their first image") {
  fgtest::TempDir tmp;
  std::filesystem::copy(fgtest::source_dir() + "/configs/example", tmp / "cfg",
                        std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  // The webserver's inline layer from the same source as debug-image's, to another place.
  fgtest::edit_config(tmp / "cfg", "- source: webserver\n", "- source: debug\n");
  Fixture f;
  f.cfg = std::make_shared<ImagesConfig>(load_images_config(tmp / "cfg" / "images.yaml", f.diags));
  Plan p = f.plan();
  REQUIRE_FALSE(f.diags.has_errors());
  std::vector<std::string> layers;
  for (const auto& t : p.tasks)
    if (t.kind == TaskKind::layer) layers.push_back(t.name);
  std::sort(layers.begin(), layers.end());
  CHECK(layers == std::vector<std::string>{"layer app", "layer debug (mediawiki:publish:debug-image)",
                                           "layer debug (webserver:webserver:image)"});
}
