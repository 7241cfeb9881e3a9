// The deployments file: production's shapes and semantics (design.md §4), and bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>

#include "flavourgraph/deployments.h"
#include "test_util.h"

using namespace flavourgraph;

namespace {

std::vector<std::string> ids_in_stage(const std::vector<ReleaseTarget>& targets, Stage s) {
  std::vector<std::string> out;
  for (const auto& t : targets)
    if (t.release->stage == s) out.push_back(t.id());
  return out;
}

}  // namespace

TEST_CASE("the scap-tests fixture gives the expected stages") {
  Diagnostics diags;
  auto d = load_deployments(fgtest::fixture("deployments-scap-tests.yaml"), diags);
  REQUIRE_FALSE(diags.has_errors());
  auto targets = expand_targets(d, {}, diags);
  CHECK(ids_in_stage(targets, Stage::testservers) == std::vector<std::string>{"test/main"});
  CHECK(ids_in_stage(targets, Stage::canaries) ==
        std::vector<std::string>{"api2/canary", "api3/canary"});
  CHECK(ids_in_stage(targets, Stage::production) ==
        std::vector<std::string>{"api1/main", "api2/main", "api3/main", "api3/migration"});
  const auto* mig = d.find_release("api3", "migration");
  REQUIRE(mig);
  CHECK(mig->mw_flavour == "exciting-new-mediawiki");
  CHECK(mig->web_flavour == "exciting-new-webserver");
  CHECK(mig->mw_kind == "image");
  // debug: true defaults the kind to debug-image and the stage to testservers.
  const auto* test = d.find_release("test", "main");
  REQUIRE(test);
  CHECK(test->mw_kind == "debug-image");
  CHECK(test->stage == Stage::testservers);
}

TEST_CASE("the mapping-form fixture: scopes, clusters, kinds, deploy: false, 18 files") {
  Diagnostics diags;
  auto d = load_deployments(fgtest::fixture("deployments-mapping-form.yaml"), diags);
  REQUIRE_FALSE(diags.has_errors());
  auto targets = expand_targets(d, {"eqiad", "codfw"}, diags);
  REQUIRE_FALSE(diags.has_errors());
  CHECK(targets.size() == 18);
  auto ts = ids_in_stage(targets, Stage::testservers);
  CHECK(ts == std::vector<std::string>{"mw-debug/pinkunicorn@eqiad", "mw-debug/next@eqiad",
                                       "mw-debug/pinkunicorn@codfw", "mw-debug/next@codfw"});
  auto can = ids_in_stage(targets, Stage::canaries);
  CHECK(can == std::vector<std::string>{"mw-pretrain/web-canary@eqiad", "mw-pretrain/web-canary@codfw",
                                        "mw-web/canary@eqiad", "mw-web/canary@codfw"});
  std::vector<std::string> files;
  for (const auto& t : targets) files.push_back(t.values_file());
  CHECK(std::count(files.begin(), files.end(), "mw-cron-main-eqiad.yaml") == 1);
  CHECK(std::count(files.begin(), files.end(), "mw-cron-main-codfw.yaml") == 0);
  CHECK(std::count(files.begin(), files.end(), "dumps-production-eqiad.yaml") == 1);
  const auto* next = d.find_release("mw-debug", "next");
  CHECK(next->mw_kind == "debug-image");
  CHECK(next->mw_flavour == "publish-81");
  const auto* dumps = d.find_release("dumps", "production");
  CHECK(dumps->mw_kind == "cli-image");
  CHECK_FALSE(dumps->deploy);
  for (const auto& ns : d.namespaces) {
    if (ns.name == "mw-pretrain") CHECK(ns.scope == "pretrain");
    if (ns.name == "mw-cron") CHECK(ns.scope == "train");
    if (ns.name == "dumps") CHECK(ns.dir == "dse-k8s-services");
  }
  // mw-web/next overrides the namespace flavour.
  CHECK(d.find_release("mw-web", "next")->mw_flavour == "publish");
  CHECK(d.find_release("mw-web", "main")->mw_flavour == "publish-81");
}

TEST_CASE("the 2024 fixture without clusters gives <ns>-<release>.yaml names") {
  Diagnostics diags;
  auto d = load_deployments(fgtest::fixture("deployments-2024-10.yaml"), diags);
  REQUIRE_FALSE(diags.has_errors());
  auto targets = expand_targets(d, {}, diags);
  CHECK(targets.size() == 16);
  CHECK(ids_in_stage(targets, Stage::testservers).size() == 3);
  CHECK(ids_in_stage(targets, Stage::canaries).size() == 5);
  CHECK(ids_in_stage(targets, Stage::production).size() == 8);
  CHECK(targets.front().values_file() == "mw-debug-pinkunicorn.yaml");
  CHECK(d.find_release("mw-misc", "main")->stage == Stage::testservers);
  CHECK(d.find_release("mw-web", "canary")->stage == Stage::canaries);
}

TEST_CASE("a canaries release in a debug namespace is dropped with a warning") {
  Diagnostics diags;
  auto d = parse_deployments(R"(- namespace: mw-debug
  releases:
    main: {}
    canary:
      stage: canaries
  mw_flavour: publish
  web_flavour: webserver
  debug: true
)",
                             "d.yaml", diags);
  CHECK_FALSE(diags.has_errors());
  CHECK(diags.mentions("d.yaml:4:5: warning: mw-debug.releases.canary"));
  CHECK(diags.mentions("dropped"));
  REQUIRE(d.namespaces.size() == 1);
  CHECK(d.namespaces[0].releases.size() == 1);
}

TEST_CASE("the old release:/canary: format is rejected with a conversion hint") {
  Diagnostics diags;
  load_deployments(fgtest::fixture("deployments-old-format.yaml"), diags);
  CHECK(diags.error_count() == 2);
  CHECK(diags.mentions("deployments-old-format.yaml:4:3: mw-debug: the 'release:'/'canary:' form"));
  CHECK(diags.mentions("      canary:\n        stage: canaries"));
  CHECK(diags.mentions("releases:\n      pinkunicorn: {}"));
}

TEST_CASE("errors name file, line, column and field, and all are reported") {
  Diagnostics diags;
  parse_deployments(R"(- namespace: mw-web
  releases:
    main:
      mw_flavor: publish
      deploy: maybe
    next:
      mw_flavour: ""
      stage: staging
    Bad_Name: {}
  web_flavour: webserver
  clusters: eqiad
- namespace: ../../x
  releases: {main: {}}
  mw_flavour: publish
  web_flavour: webserver
)",
                    "d.yaml", diags);
  INFO(diags.str());
  CHECK(diags.mentions("d.yaml:4:7: mw-web.releases.main.mw_flavor: unknown key 'mw_flavor' (did you mean 'mw_flavour'?)"));
  CHECK(diags.mentions("d.yaml:5:15: mw-web.releases.main.deploy: expected a boolean (true or false), got a string 'maybe'"));
  CHECK(diags.mentions("d.yaml:3:5: mw-web.releases.main: \"main\" in \"mw-web\" has no mw_flavour set"));
  CHECK(diags.mentions("d.yaml:7:7: mw-web.releases.next.mw_flavour: empty value"));
  CHECK(diags.mentions("unsupported stage \"staging\""));
  CHECK(diags.mentions("d.yaml:9:5: mw-web.releases.Bad_Name: release name 'Bad_Name' is not valid"));
  CHECK(diags.mentions("d.yaml:11:13: mw-web.clusters: expected a list of cluster names (e.g. [eqiad])"));
  CHECK(diags.mentions("d.yaml:12:14: ../../x.namespace: '../../x' is not a Kubernetes namespace name"));
  CHECK(diags.error_count() >= 8);
}

TEST_CASE("a namespace may appear once per cluster") {
  const char* text = R"(- namespace: mw-web
  releases: {main: {}}
  mw_flavour: publish
  web_flavour: webserver
  clusters: [eqiad]
- namespace: mw-web
  releases: {next: {}}
  mw_flavour: publish
  web_flavour: webserver
  clusters: [codfw]
- namespace: mw-web
  releases: {other: {}}
  mw_flavour: publish
  web_flavour: webserver
)";
  Diagnostics diags;
  auto d = parse_deployments(text, "d.yaml", diags);
  REQUIRE_FALSE(diags.has_errors());
  Diagnostics no_default;
  expand_targets(d, {}, no_default);
  CHECK_FALSE(no_default.has_errors());  // eqiad, codfw and no cluster: three distinct places
  Diagnostics with_default;
  expand_targets(d, {"eqiad", "codfw"}, with_default);
  CHECK(with_default.mentions(
      "d.yaml:11:3: mw-web: \"mw-web\" deployment is already defined for cluster \"eqiad\""));
  CHECK(with_default.error_count() == 2);
}

TEST_CASE("the mapping form needs deployment_targets; other shapes are refused") {
  Diagnostics a;
  parse_deployments("supervision_rules: []\n", "d.yaml", a);
  CHECK(a.mentions("mapping is missing the \"deployment_targets\" key"));
  Diagnostics b;
  parse_deployments("just a string\n", "d.yaml", b);
  CHECK(b.mentions("expected a list of namespaces"));
  Diagnostics c;
  auto ok = parse_deployments(R"(deployment_targets:
  - namespace: a
    releases: {main: {}}
    mw_flavour: p
    web_flavour: w
supervision_rules:
  - scope: train
)",
                              "d.yaml", c);
  CHECK_FALSE(c.has_errors());
  CHECK(ok.namespaces.size() == 1);
}

TEST_CASE("duplicate keys are errors") {
  Diagnostics diags;
  parse_deployments(R"(- namespace: a
  releases: {main: {}}
  mw_flavour: p
  mw_flavour: q
  web_flavour: w
)",
                    "d.yaml", diags);
  CHECK(diags.mentions("d.yaml:4:3: a.mw_flavour: duplicate key 'mw_flavour' (first given at line 3)"));
}

TEST_CASE("hostile input gives an error, not a crash or a hang") {
  Diagnostics nul;
  parse_deployments(std::string("- namespace: a\0b\n", 17), "d.yaml", nul);
  CHECK(nul.mentions("d.yaml:1:15: NUL byte in input"));

  Diagnostics deep;
  parse_deployments(std::string(5000, '[') + std::string(5000, ']'), "d.yaml", deep);
  CHECK(deep.has_errors());

  // Billion laughs: aliases share nodes, and nothing walks them recursively.
  std::string bomb = "a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n";
  for (int i = 1; i < 30; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ",*a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  bomb += "deployment_targets: *a29\n";
  Diagnostics laughs;
  parse_deployments(bomb, "d.yaml", laughs);
  CHECK(laughs.has_errors());

  Diagnostics bad_utf8;
  parse_deployments("- namespace: \xff\n", "d.yaml", bad_utf8);
  CHECK(bad_utf8.mentions("invalid UTF-8"));

  Diagnostics two_docs;
  parse_deployments("- a\n---\n- b\n", "d.yaml", two_docs);
  CHECK(two_docs.mentions("more than one YAML document"));
}

TEST_CASE("two releases that would write the same values file are refused") {
  Diagnostics diags;
  auto d = parse_deployments(R"(- namespace: mw
  releases: {web-main: {}}
  mw_flavour: p
  web_flavour: w
- namespace: mw-web
  releases: {main: {}}
  mw_flavour: p
  web_flavour: w
)",
                             "d.yaml", diags);
  REQUIRE_FALSE(diags.has_errors());
  expand_targets(d, {}, diags);
  CHECK(diags.mentions("d.yaml:6:14: mw-web.releases.main: release 'mw-web/main' and release 'mw/web-main' "
                       "would both write the values file 'mw-web-main.yaml'"));
}

TEST_CASE("aliases that fan out to huge documents are refused quickly") {
  std::string text = "x: &ns\n  namespace: a\n  mw_flavour: p\n  web_flavour: w\n  releases:\n";
  for (int i = 0; i < 2000; ++i) text += "    r" + std::to_string(i) + ": {}\n";
  text += "deployment_targets: [";
  for (int i = 0; i < 2000; ++i) text += (i ? ",*ns" : "*ns");
  text += "]\n";
  Diagnostics diags;
  // The entry cap is what bounds the work (no wall-clock bound here: it flaked under the
  // sanitizers on a loaded machine); the file is refused by it.
  parse_deployments(text, "d.yaml", diags);
  CHECK(diags.mentions("more than a million entries"));
}
