// images.yaml: the schema, templates, `from:` chains and the errors bad input gets.
#include <doctest/doctest.h>

#include "flavourgraph/config.h"
#include "test_util.h"

using namespace flavourgraph;

TEST_CASE("the bundled example loads") {
  Diagnostics diags;
  auto cfg = load_images_config(fgtest::source_dir() + "/configs/example/images.yaml", diags);
  INFO(diags.str());
  REQUIRE_FALSE(diags.has_errors());
  const ImageSpec* mw = cfg.image("mediawiki");
  REQUIRE(mw);
  CHECK(mw->flavour_names() == std::vector<std::string>{"publish", "publish-81"});
  CHECK(mw->kind_names() == std::vector<std::string>{"image", "debug-image", "cli-image"});
  CHECK(mw->kind("debug-image")->from == "image");
  CHECK(mw->flavour("publish-81")->metadata ==
        StringPairs{{"php_version", "8.1"}});
  const auto& app = mw->kind("image")->layers.at(0);
  CHECK(app.name == "app");
  CHECK(app.dest == "/srv/mediawiki");
  CHECK(app.uid == 33);
  CHECK(app.gid == 33);
  CHECK(app.exclude == std::vector<std::string>{".git", "**/cache/l10n/upstream"});
  CHECK(cfg.clusters == std::vector<std::string>{"eqiad", "codfw"});
  CHECK(cfg.compression.format == Compression::gzip);
  REQUIRE(cfg.image("webserver"));
}

TEST_CASE("templates expand flavour args and report unknown names") {
  std::vector<std::string> unknown;
  CHECK(expand_template("php{PHP_VERSION}-fpm", {{"PHP_VERSION", "8.1"}}, &unknown) == "php8.1-fpm");
  CHECK(unknown.empty());
  CHECK(expand_template("{{literal}} {X}", {}, &unknown) == "{literal} ");
  CHECK(unknown == std::vector<std::string>{"X"});
}

namespace {

Diagnostics parse(const std::string& text) {
  Diagnostics d;
  parse_images_config(text, "images.yaml", "/tmp", d);
  return d;
}

const char* kGood = R"(registry: registry.example.org
images:
  mediawiki:
    flavours:
      publish:
        base: "oci:bases:php{PHP_VERSION}"
        args: {PHP_VERSION: "7.4"}
    kinds:
      image:
        repository: restricted/mediawiki-multiversion
)";

}  // namespace

TEST_CASE("a minimal configuration is valid") { CHECK_FALSE(parse(kGood).has_errors()); }

TEST_CASE("unknown keys, bad owners and bad paths are reported with their place") {
  auto d = parse(R"(registry: r.example.org
tagg: x
layers:
  app:
    source: app
    dest: srv/x
    owner: www-data
images:
  mediawiki:
    flavours:
      publish:
        argz: {}
    kinds:
      image:
        repository: Restricted/MW
        base: oci:b:x
        layers: [ap]
        config:
          workdir: relative
          entrypoint: php-fpm
)");
  INFO(d.str());
  CHECK(d.mentions("images.yaml:2:1: tagg: unknown key 'tagg' (did you mean 'tag'?)"));
  CHECK(d.mentions("images.yaml:6:11: layers.app.dest: 'srv/x' must be an absolute path"));
  CHECK(d.mentions("images.yaml:7:12: layers.app.owner: 'www-data' is not a numeric owner"));
  CHECK(d.mentions("images.yaml:12:9: images.mediawiki.flavours.publish.argz: unknown key 'argz' (did you mean 'args'?)"));
  CHECK(d.mentions("images.yaml:17:18: images.mediawiki.kinds.image.layers[0]: unknown layer 'ap' (did you mean 'app'?)"));
  CHECK(d.mentions("config.workdir: must be an absolute path"));
  CHECK(d.mentions("config.entrypoint: expected a list of strings"));
}

TEST_CASE("from: must name a kind of the same image, without cycles") {
  auto d = parse(R"(registry: r.example.org
images:
  mediawiki:
    flavours:
      publish: {base: "oci:b:x"}
    kinds:
      a: {repository: r/a, from: b}
      b: {repository: r/b, from: c}
      c: {repository: r/c, from: a}
      d: {repository: r/d, from: image}
)");
  INFO(d.str());
  CHECK(d.mentions("'from' forms a cycle"));
  CHECK(d.error_count() == 2);
  CHECK(d.mentions("images.mediawiki.kinds.d.from: unknown kind 'image' of image 'mediawiki'"));
}

TEST_CASE("a kind needs a base for every flavour, and template names must exist") {
  auto d = parse(R"(registry: r.example.org
tag: "{timestamp}-{flavour}-{BUILD}"
images:
  mediawiki:
    flavours:
      publish: {args: {PHP_VERSION: "7.4"}}
      other: {}
    kinds:
      image:
        repository: restricted/mw
        base: "oci:b:php{PHP_VERSION}"
      nobase:
        repository: restricted/nb
)");
  INFO(d.str());
  CHECK(d.mentions("images.mediawiki.kinds.image.base: '{PHP_VERSION}' is not defined for flavour 'other'"));
  CHECK(d.mentions("images.mediawiki.kinds.nobase: no base image for flavour 'publish'"));
  CHECK(d.mentions("images.yaml:2:6: tag: '{BUILD}' is not defined"));
}

TEST_CASE("a kind with both from and base is refused") {
  auto d = parse(R"(registry: r.example.org
images:
  m:
    flavours: {f: {base: "oci:b:x"}}
    kinds:
      image: {repository: r/i}
      debug: {repository: r/d, from: image, base: "oci:b:y"}
)");
  CHECK(d.mentions("images.m.kinds.debug.base: a kind built from another kind"));
}

TEST_CASE("missing files and directories give one clear error") {
  Diagnostics d;
  load_images_config("/nonexistent/images.yaml", d);
  CHECK(d.mentions("/nonexistent/images.yaml: cannot read file: no such file"));
  Diagnostics e;
  load_images_config("/tmp", e);
  CHECK(e.mentions("it is a directory"));
}

TEST_CASE("all problems are reported in one pass, at the value that has them") {
  auto d = parse(R"(registry: r.example.org
tag: "{timestamp}-{flavour"
latest_tag: "-bad"
clusters: [eqiad, eqiad, Bad]
images:
  m:
    flavours:
      f: {bogus: 1}
    kinds:
      image:
        repository: "r/{NOPE}"
        base: oci:b:x
)");
  INFO(d.str());
  CHECK(d.mentions("images.yaml:8:11: images.m.flavours.f.bogus: unknown key 'bogus'"));
  CHECK(d.mentions("images.yaml:2:6: tag: unclosed '{'"));
  CHECK(d.mentions("images.yaml:3:13: latest_tag: '-bad' is not a valid tag"));
  CHECK(d.mentions("images.yaml:4:11: clusters: cluster 'eqiad' is listed twice"));
  CHECK(d.mentions("'Bad' is not a valid cluster name"));
  CHECK(d.mentions("images.yaml:11:21: images.m.kinds.image.repository: '{NOPE}' is not defined for flavour 'f'"));
}

TEST_CASE("base references and the push target are checked at load, at their place") {
  auto d = parse(R"(registry: https://r.example.org
images:
  m:
    flavours:
      f: {base: "oci:bases"}
      g: {base: "r.example.org/Upper/Case:1"}
    kinds:
      image: {repository: r/i}
)");
  INFO(d.str());
  CHECK(d.mentions("images.yaml:1:11: registry: 'https://r.example.org': write the registry as HOST[:PORT][/PREFIX], without a scheme"));
  CHECK(d.mentions("images.yaml:5:17: images.m.kinds.image.base: 'oci:bases' (for flavour 'f') is not an image reference"));
  CHECK(d.mentions("repository 'Upper/Case' may hold only lower-case letters"));
}

TEST_CASE("latest_tag is a template, checked for every flavour and kind like tag") {
  auto ok = parse(R"(registry: r.example.org
latest_tag: "latest-{flavour}"
images:
  m:
    flavours:
      f74: {}
      f81: {}
    kinds:
      image: {repository: r/i, base: "oci:b:x"}
)");
  INFO(ok.str());
  CHECK_FALSE(ok.has_errors());
  auto bad = parse(R"(registry: r.example.org
latest_tag: "latest-{nope}"
images:
  m:
    flavours:
      f: {}
    kinds:
      image: {repository: r/i, base: "oci:b:x"}
)");
  CHECK(bad.mentions("images.yaml:2:13: latest_tag: '{nope}' is not defined"));
  auto invalid = parse(R"(registry: r.example.org
latest_tag: "{flavour}"
images:
  m:
    flavours:
      -x: {}
    kinds:
      image: {repository: r/i, base: "oci:b:x"}
)");
  INFO(invalid.str());
  CHECK(invalid.mentions("latest_tag: gives '-x' for m:-x:image, not a valid tag"));
}
