// images.yaml's run variables: declared with defaults, replaced by --set, expanded in
// templates and in layers' source, include and exclude (a list: one pattern per item).
#include <doctest/doctest.h>

#include "flavourgraph/config.h"
#include "flavourgraph/plan.h"
#include "test_util.h"

using namespace flavourgraph;

namespace {

const char* kConfig = R"(registry: r.example.org
tag: "{timestamp}-{flavour}-{train}"
variables:
  train: "t1"
  versions: [1.42.0]
  tree: app
layers:
  app:
    source: "{tree}"
    dest: /srv/mediawiki
    include: ["/php-{versions}/**", "/w/**"]
    exclude: ["/php-{versions}/cache/"]
images:
  mediawiki:
    flavours:
      publish: {}
    kinds:
      image:
        repository: "restricted/mw-{train}"
        base: oci:b:x
        layers: [app]
)";

struct Loaded {
  fgtest::TempDir tmp;
  Diagnostics diags;
  ImagesConfig cfg;
  explicit Loaded(const std::vector<std::string>& sets, const std::string& text = kConfig) {
    fgtest::write_file(tmp / "images.yaml", text);
    cfg = load_images_config(tmp / "images.yaml", diags, sets);
  }
  const LayerSpec& app() const { return cfg.images.at(0).kinds.at(0).layers.at(0); }
};

}  // namespace

TEST_CASE("variables: defaults expand in templates and layers; a list gives one pattern per item") {
  Loaded l({});
  INFO(l.diags.str());
  REQUIRE_FALSE(l.diags.has_errors());
  CHECK(l.app().include == std::vector<std::string>{"/php-1.42.0/**", "/w/**"});
  CHECK(l.app().exclude == std::vector<std::string>{"/php-1.42.0/cache/"});
  CHECK(l.app().source == "app");
  CHECK(l.app().source_path == (l.tmp / "app").lexically_normal());
  REQUIRE(l.cfg.variable("versions"));
  CHECK(l.cfg.variable("versions")->str() == "[1.42.0]");
}

TEST_CASE("variables: --set replaces defaults, a list expands to every item, and the plan uses them") {
  Loaded l({"versions=[1.42.0, 1.43.0-wmf.1]", "train=t2", "tree=other"});
  INFO(l.diags.str());
  REQUIRE_FALSE(l.diags.has_errors());
  CHECK(l.app().include == std::vector<std::string>{"/php-1.42.0/**", "/php-1.43.0-wmf.1/**", "/w/**"});
  CHECK(l.app().exclude == std::vector<std::string>{"/php-1.42.0/cache/", "/php-1.43.0-wmf.1/cache/"});
  CHECK(l.app().source_path == (l.tmp / "other").lexically_normal());
  CHECK(l.cfg.variable("train")->set);

  auto cfg = std::make_shared<ImagesConfig>(l.cfg);
  Selection sel;
  sel.all_flavours = true;
  PlanOptions opts;
  opts.timestamp = "2024-10-29-190315";
  Diagnostics d;
  Plan p = expand(cfg, nullptr, sel, opts, d);
  INFO(d.str());
  REQUIRE_FALSE(d.has_errors());
  REQUIRE(p.builds.size() == 1);
  CHECK(p.builds[0].repository == "restricted/mw-t2");
  CHECK(p.builds[0].tag == "2024-10-29-190315-publish-t2");
  std::string text = plan_to_text(p);
  CHECK(text.find("variables: train=t2 (--set), versions=[1.42.0, 1.43.0-wmf.1] (--set), tree=other (--set)") !=
        std::string::npos);
  auto j = nlohmann::json::parse(plan_to_json(p));
  CHECK(j["summary"]["variables"]["versions"] == nlohmann::json::array({"1.42.0", "1.43.0-wmf.1"}));
  CHECK(j["summary"]["variables"]["train"] == "t2");
}

TEST_CASE("variables: bad --set values and bad uses are errors naming the place") {
  Loaded unknown({"verisons=[1.0]"});
  CHECK(unknown.diags.mentions("--set: 'verisons' is not a variable of"));
  CHECK(unknown.diags.mentions("did you mean 'versions'?"));
  Loaded no_eq({"versions"});
  CHECK(no_eq.diags.mentions("--set: 'versions' is not NAME=VALUE"));
  Loaded list_into_string({"train=[a, b]"});
  CHECK(list_into_string.diags.mentions("--set: train is a string"));
  Loaded none({"versions=[]"});  // no version staged: the patterns that name it are gone
  CHECK_FALSE(none.diags.has_errors());
  CHECK(none.app().include == std::vector<std::string>{"/w/**"});

  std::string in_tag = kConfig;
  in_tag.replace(in_tag.find("{train}\""), 7, "{versions}");
  Loaded list_in_tag({}, in_tag);
  CHECK(list_in_tag.diags.mentions("'{versions}' is a list variable: only layers' include and exclude patterns"));

  std::string flavour_arg = kConfig;
  flavour_arg.replace(flavour_arg.find("\"/w/**\""), 7, "\"/{PHP_VERSION}/**\"");
  Loaded arg_in_layer({}, flavour_arg);
  CHECK(arg_in_layer.diags.mentions("layers.app.include: '{PHP_VERSION}' is not a variable"));

  std::string bad_name = kConfig;
  bad_name.replace(bad_name.find("  tree: app"), 11, "  kind: app");
  Loaded reserved({}, bad_name);
  CHECK(reserved.diags.mentions("variables.kind: a variable's name"));
}
