// RUN builds in images.yaml and the plan: engines, `build:` bases, containerfile kinds, shared
// RUN tasks and the engines they go to.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>

#include "flavourgraph/plan.h"
#include "test_util.h"

using namespace flavourgraph;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The problem parse_engine gives for `text` (for invalid ones).
std::string engine_problem(const std::string& text) {
  EngineSpec e;
  return parse_engine(text, e);
}

/// "NAME TYPE ADDRESS WIDTH" of a parsed engine, or its problem.
std::string engine(const std::string& text, std::string_view name = {}) {
  EngineSpec e;
  e.width = 9;  // reset by every parse
  if (std::string problem = parse_engine(text, e, name); !problem.empty()) return problem;
  constexpr const char* kTypes[] = {"buildah", "podman", "buildkit"};
  return e.name + " " + kTypes[static_cast<size_t>(e.type)] + " " + e.address + " " + std::to_string(e.width);
}

}  // namespace

TEST_CASE("run-config: engines given as NAME=URL") {
  CHECK(engine("local=buildah") == "local buildah  1");
  CHECK(engine("store=buildah:/abs/dir") == "store buildah /abs/dir 1");
  CHECK(engine("m1=podman+tcp://127.0.0.1:8888?width=3") == "m1 podman tcp://127.0.0.1:8888 3");
  CHECK(engine("bk=buildkit+unix:///run/buildkit.sock") == "bk buildkit unix:///run/buildkit.sock 1");
  CHECK(engine("m1=buildah?width=64") == "m1 buildah  64");  // the upper bound itself is fine
  // With the name given separately (images.yaml's engines map), the text is the URL alone.
  CHECK(engine("podman+unix:///run/podman.sock", "m2") == "m2 podman unix:///run/podman.sock 1");
  EngineSpec e;
  REQUIRE(parse_engine("m1=podman+tcp://127.0.0.1:8888?width=3", e) == "");
  CHECK(e.url == "podman+tcp://127.0.0.1:8888");
}

TEST_CASE("run-config: bad engines are reported with the offending text") {
  std::string p = engine_problem("podman+tcp://127.0.0.1:8888");
  CHECK(contains(p, "'podman+tcp://127.0.0.1:8888' is not NAME=URL"));
  CHECK(contains(engine_problem("bad name!=buildah"), "'bad name!' is not an engine name"));
  CHECK(contains(engine_problem("m1=podman+tcp://host"), "'tcp://host' is not an address"));
  CHECK(contains(engine_problem("m1=podman+tcp://host:0"), "'tcp://host:0'"));
  CHECK(contains(engine_problem("m1=buildkit+tcp://host:65536"), "'tcp://host:65536'"));
  p = engine_problem("m1=buildah:relative");
  CHECK_FALSE(p.empty());
  CHECK(contains(p, "absolute"));
  CHECK(contains(engine_problem("m1=podman+tcp://127.0.0.1:8888?width=0"), "width '0'"));
  CHECK(contains(engine_problem("m1=podman+tcp://127.0.0.1:8888?width=65"), "width '65'"));
  CHECK(contains(engine_problem("m1=podman+tcp://127.0.0.1:8888?width=x"), "width 'x'"));
  CHECK(contains(engine_problem("m1=docker://127.0.0.1:2375"), "unknown engine 'docker://127.0.0.1:2375'"));
}

TEST_CASE("run-config: build: bases name IMAGE/FLAVOUR/KIND") {
  std::string problem;
  auto r = parse_build_ref("build:a/b/c", &problem);
  REQUIRE(r);
  CHECK(r->image + "|" + r->flavour + "|" + r->kind == "a|b|c");
  CHECK(problem.empty());

  for (const char* bad : {"build:a/b", "build:/b/c", "build:a//c", "build:a/b/c/d", "build:a/b/", "build:"}) {
    CAPTURE(bad);
    problem.clear();
    CHECK_FALSE(parse_build_ref(bad, &problem));
    CHECK(contains(problem, "build:IMAGE/FLAVOUR/KIND"));
  }
  problem.clear();
  CHECK_FALSE(parse_build_ref("oci:bases:php8.1", &problem));
  CHECK(problem.empty());
  CHECK_FALSE(parse_build_ref("docker.io/library/busybox:1"));  // no problem pointer: no crash
}

namespace {

/// images.yaml text parsed against a temp dir holding a Containerfile and a context dir.
struct RunConfig {
  fgtest::TempDir dir;
  Diagnostics diags;

  RunConfig() {
    fgtest::write_file(dir / "php/Containerfile", "FROM scratch\nRUN true\n");
    fgtest::write_file(dir / "ctx/file.txt", "context\n");
  }
  ImagesConfig parse(const std::string& text) {
    diags = Diagnostics{};
    return parse_images_config(text, "images.yaml", dir.path(), diags);
  }
};

const char* kRunKinds = R"(registry: r.example.org
engines:
  m1: podman+tcp://10.0.0.5:8888
  m2: {url: "buildkit+tcp://10.0.0.6:1234", width: 4}
images:
  php:
    flavours:
      fl: {base: "oci:b:x"}
    kinds:
      image:
        repository: r/php
        containerfile: php/Containerfile
      ctx-image:
        repository: r/php-ctx
        containerfile: php/Containerfile
        context: ctx
        target: final
)";

}  // namespace

TEST_CASE("run-config: containerfile kinds and engines load") {
  RunConfig rc;
  ImagesConfig cfg = rc.parse(kRunKinds);
  INFO(rc.diags.str());
  REQUIRE_FALSE(rc.diags.has_errors());
  const ImageSpec* php = cfg.image("php");
  REQUIRE(php);
  const KindSpec* image = php->kind("image");
  REQUIRE(image);
  REQUIRE(image->run);
  CHECK(image->run->containerfile == "php/Containerfile");
  CHECK(image->run->containerfile_path == rc.dir / "php/Containerfile");
  CHECK(image->run->context_path == rc.dir / "php");  // the Containerfile's directory
  CHECK_FALSE(image->run->target);
  const KindSpec* ctx = php->kind("ctx-image");
  REQUIRE(ctx);
  REQUIRE(ctx->run);
  CHECK(ctx->run->context == "ctx");
  CHECK(ctx->run->context_path == rc.dir / "ctx");
  CHECK(ctx->run->target == "final");

  REQUIRE(cfg.engines.size() == 2);
  const EngineSpec& m1 = cfg.engines[0];
  CHECK((m1.name == "m1" && m1.type == EngineType::podman && m1.address == "tcp://10.0.0.5:8888" && m1.width == 1));
  const EngineSpec& m2 = cfg.engines[1];
  CHECK((m2.name == "m2" && m2.type == EngineType::buildkit && m2.width == 4));
  CHECK(cfg.engines[1].where.line == 4);
}

TEST_CASE("run-config: bad containerfile kinds and engines are reported with their place") {
  RunConfig rc;
  rc.parse(R"(registry: r.example.org
engines:
  m1: podman+tcp://nohost
  m2: {url: "buildah", width: 0}
images:
  php:
    flavours:
      fl: {base: "oci:b:x"}
    kinds:
      a:
        repository: r/a
        containerfile: missing/Containerfile
      b:
        repository: r/b
        containerfile: php/Containerfile
        context: ctx/file.txt
      c:
        repository: r/c
        target: final
)");
  INFO(rc.diags.str());
  CHECK(rc.diags.mentions("images.yaml:3:7: engines.m1: 'tcp://nohost' is not an address"));
  CHECK(rc.diags.mentions("images.yaml:4:7: engines.m2: width '0' is not a number from 1 to 64"));
  CHECK(rc.diags.mentions("images.yaml:12:24: images.php.kinds.a.containerfile: '" +
                          (rc.dir / "missing/Containerfile").string() + "' is not a file"));
  CHECK(rc.diags.mentions("images.yaml:16:18: images.php.kinds.b.context: '" + (rc.dir / "ctx/file.txt").string() +
                          "' is not a directory"));
  CHECK(rc.diags.mentions("images.yaml:19:9: images.php.kinds.c.target: 'target' needs 'containerfile'"));
  CHECK(rc.diags.error_count() == 5);
}

TEST_CASE("run-config: build: bases must name a kind of this file") {
  RunConfig rc;
  auto with_base = [&](const std::string& base) {
    return rc.parse(R"(registry: r.example.org
images:
  php:
    flavours:
      fl: {base: "oci:b:x"}
    kinds:
      image: {repository: r/php}
  app:
    flavours:
      fl: {}
    kinds:
      image: {repository: r/app, base: ")" + base + "\"}\n");
  };
  with_base("build:php/fl/image");
  CHECK_FALSE(rc.diags.has_errors());

  with_base("build:nope/fl/image");
  INFO(rc.diags.str());
  CHECK(rc.diags.mentions("images.app.kinds.image.base: 'build:nope/fl/image' (for flavour 'fl'): no image 'nope'"));
  with_base("build:php/nofl/image");
  CHECK(rc.diags.mentions("images.app.kinds.image.base: 'build:php/nofl/image' (for flavour 'fl'): image 'php' has "
                          "no flavour 'nofl' (its flavours: fl)"));
  with_base("build:php/fl/nokind");
  CHECK(rc.diags.mentions("images.app.kinds.image.base: 'build:php/fl/nokind' (for flavour 'fl'): image 'php' has "
                          "no kind 'nokind' (its kinds: image)"));
  with_base("build:php/fl");
  CHECK(rc.diags.mentions("images.yaml:12:40: images.app.kinds.image.base:"));
  CHECK(rc.diags.mentions("build:IMAGE/FLAVOUR/KIND"));
}

namespace {

/// A plan of everything in a config written to a temp dir with a Containerfile.
struct RunPlan {
  RunConfig rc;
  Diagnostics diags;

  Plan plan(const std::string& text, PlanOptions opts = {}) {
    auto cfg = std::make_shared<ImagesConfig>(rc.parse(text));
    INFO(rc.diags.str());
    REQUIRE_FALSE(rc.diags.has_errors());
    Selection all;
    all.all_flavours = true;
    opts.timestamp = "2024-10-29-190315";
    diags = Diagnostics{};
    return expand(cfg, nullptr, all, opts, diags);
  }
};

/// Two images whose `image` kinds run the same Containerfile, with their own arg V and base.
std::string two_runs(const std::string& v1, const std::string& base1, const std::string& v2,
                     const std::string& base2) {
  auto image = [](const std::string& name, const std::string& v, const std::string& base) {
    return "  " + name + ":\n    flavours:\n      fl: {base: \"" + base + "\", args: {V: \"" + v +
           "\"}}\n    kinds:\n      image: {repository: r/" + name + ", containerfile: php/Containerfile}\n";
  };
  return "registry: r.example.org\nimages:\n" + image("one", v1, base1) + image("two", v2, base2);
}

const PlanBuild& build_named(const Plan& p, const std::string& suffix) {
  int t = p.find("build:" + suffix);
  REQUIRE(t >= 0);
  return p.builds[p.tasks[static_cast<size_t>(t)].subject];
}

bool depends_on(const Plan& p, int task, int dep) {
  const auto& deps = p.tasks[static_cast<size_t>(task)].deps;
  return std::count(deps.begin(), deps.end(), static_cast<uint32_t>(dep)) == 1;
}

void check_topological(const Plan& p) {
  for (size_t i = 0; i < p.tasks.size(); ++i) {
    for (uint32_t d : p.tasks[i].deps) CHECK(d < i);
    for (uint32_t d : p.tasks[i].after) CHECK(d < i);
  }
}

}  // namespace

TEST_CASE("run-config: one RUN task serves every build with the same inputs") {
  RunPlan rp;
  Plan p = rp.plan(two_runs("1", "oci:b:x", "1", "oci:b:x"));
  INFO(rp.diags.str());
  REQUIRE_FALSE(rp.diags.has_errors());
  REQUIRE(p.runs.size() == 1);
  CHECK(p.count(TaskKind::run) == 1);
  CHECK(p.runs[0].builds.size() == 2);
  CHECK(p.runs[0].name == "one:fl:image");
  REQUIRE(p.runs[0].base >= 0);
  CHECK(p.bases[static_cast<size_t>(p.runs[0].base)].ref == "oci:b:x");
  for (const char* b : {"one:fl:image", "two:fl:image"}) {
    const PlanBuild& pb = build_named(p, b);
    CHECK(pb.run == 0);
    CHECK(depends_on(p, pb.build_task, p.runs[0].task));
  }
  CHECK(depends_on(p, p.runs[0].task, p.find("base-pull:oci:b:x")));
  check_topological(p);

  Plan q = rp.plan(two_runs("1", "oci:b:x", "2", "oci:b:x"));  // another arg: another RUN build
  REQUIRE_FALSE(rp.diags.has_errors());
  CHECK(q.runs.size() == 2);
  CHECK(q.count(TaskKind::run) == 2);
  for (const auto& r : q.runs) CHECK(r.builds.size() == 1);
  CHECK(q.runs[0].key != q.runs[1].key);
  CHECK(q.count(TaskKind::base_pull) == 1);  // still one base
  check_topological(q);
}

namespace {

const char* kBuildBases = R"(registry: r.example.org
images:
  app:
    flavours:
      fl: {}
    kinds:
      image: {repository: r/app, base: "build:other/fl/kind"}
      run: {repository: r/app-run, base: "build:other/fl/kind", containerfile: php/Containerfile}
  other:
    flavours:
      fl: {base: "oci:b:x"}
    kinds:
      kind: {repository: r/other}
)";

}  // namespace

TEST_CASE("run-config: a build: base is built first, in the same plan") {
  RunPlan rp;
  Plan p = rp.plan(kBuildBases);
  INFO(rp.diags.str());
  REQUIRE_FALSE(rp.diags.has_errors());
  int other_task = p.find("build:other:fl:kind");
  REQUIRE(other_task >= 0);
  const PlanBuild& other = p.builds[p.tasks[static_cast<size_t>(other_task)].subject];
  const PlanBuild& app = build_named(p, "app:fl:image");
  REQUIRE(app.base_build >= 0);
  CHECK(&p.builds[static_cast<size_t>(app.base_build)] == &other);
  CHECK(app.base == -1);
  CHECK(depends_on(p, app.build_task, other_task));

  // A RUN build on a build: base starts from that build's image.
  REQUIRE(p.runs.size() == 1);
  CHECK(&p.builds[static_cast<size_t>(p.runs[0].base_build)] == &other);
  CHECK(p.runs[0].base == -1);
  CHECK(depends_on(p, p.runs[0].task, other_task));
  CHECK(depends_on(p, build_named(p, "app:fl:run").build_task, p.runs[0].task));
  check_topological(p);
}

TEST_CASE("run-config: an incremental layer in a build and in the build on it plans without a cycle") {
  RunPlan rp;
  Plan p = rp.plan(R"(registry: r.example.org
layers:
  app: {source: php, dest: /srv/app, incremental: true}
images:
  top:
    flavours: {fl: {}}
    kinds:
      image: {repository: r/top, base: "build:bottom/fl/image", layers: [app]}
      run: {repository: r/top-run, base: "build:bottom/fl/image", containerfile: php/Containerfile, layers: [app]}
  bottom:
    flavours: {fl: {base: "oci:b:x"}}
    kinds:
      image: {repository: r/bottom, layers: [app]}
)");
  INFO(rp.diags.str());
  REQUIRE_FALSE(rp.diags.has_errors());
  check_topological(p);
  REQUIRE(p.layers.size() == 1);
  const PlanBuild& bottom = build_named(p, "bottom:fl:image");
  CHECK_FALSE(p.base_holds_layer(static_cast<uint32_t>(p.tasks[static_cast<size_t>(bottom.build_task)].subject), 0));
  for (const char* b : {"top:fl:image", "top:fl:run"})
    CHECK(p.base_holds_layer(p.tasks[static_cast<size_t>(build_named(p, b).build_task)].subject, 0));
  // The layer waits for the base-pull of the bottom image only: not for builds that wait for it.
  const PlanTask& layer = p.tasks[static_cast<size_t>(p.find("layer:" + p.layers[0].key))];
  REQUIRE(layer.after.size() == 1);
  CHECK(p.tasks[layer.after[0]].id == "base-pull:oci:b:x");
}

TEST_CASE("run-config: a cycle of build: bases is an error") {
  RunPlan rp;
  rp.plan(R"(registry: r.example.org
images:
  a:
    flavours: {fl: {}}
    kinds:
      image: {repository: r/a, base: "build:b/fl/image"}
  b:
    flavours: {fl: {}}
    kinds:
      image: {repository: r/b, base: "build:a/fl/image"}
)");
  INFO(rp.diags.str());
  CHECK(rp.diags.has_errors());
  CHECK(rp.diags.mentions("cycle"));
  CHECK((rp.diags.mentions("a:fl:image") && rp.diags.mentions("b:fl:image")));
}

TEST_CASE("run-config: RUN builds go to engines by base") {
  RunPlan rp;
  Plan local = rp.plan(two_runs("1", "oci:b:x", "1", "oci:b:x"));
  REQUIRE(local.engines.size() == 1);
  CHECK((local.engines[0].name == "local" && local.engines[0].type == EngineType::buildah));
  CHECK(local.runs.at(0).engine == 0);

  PlanOptions opts;
  opts.engines.resize(2);
  REQUIRE(parse_engine("e1=podman+tcp://127.0.0.1:8001", opts.engines[0]) == "");
  REQUIRE(parse_engine("e2=podman+tcp://127.0.0.1:8002", opts.engines[1]) == "");
  Plan split = rp.plan(two_runs("1", "oci:b:x", "1", "oci:b:y"), opts);
  INFO(rp.diags.str());
  REQUIRE_FALSE(rp.diags.has_errors());
  REQUIRE(split.engines.size() == 2);
  REQUIRE(split.runs.size() == 2);
  for (const auto& r : split.runs) CHECK((r.engine == 0 || r.engine == 1));
  CHECK(split.runs[0].engine != split.runs[1].engine);

  // Different args, one base: two RUN builds, one engine (the base is pulled there once).
  Plan same = rp.plan(two_runs("1", "oci:b:x", "2", "oci:b:x"), opts);
  REQUIRE(same.runs.size() == 2);
  CHECK(same.runs[0].engine >= 0);
  CHECK(same.runs[0].engine == same.runs[1].engine);
}

TEST_CASE("run-config: engines given for the plan replace the config's of the same name") {
  RunPlan rp;
  std::string text = "engines:\n  e1: podman+tcp://10.0.0.5:8888\n  e2: buildah:/var/e2\n" +
                     two_runs("1", "oci:b:x", "1", "oci:b:y");
  PlanOptions opts;
  opts.engines.resize(1);
  REQUIRE(parse_engine("e1=buildkit+tcp://127.0.0.1:1234?width=3", opts.engines[0]) == "");
  Plan p = rp.plan(text, opts);
  INFO(rp.diags.str());
  REQUIRE_FALSE(rp.diags.has_errors());
  REQUIRE(p.engines.size() == 2);
  CHECK((p.engines[0].name == "e1" && p.engines[0].type == EngineType::buildkit && p.engines[0].width == 3));
  CHECK((p.engines[1].name == "e2" && p.engines[1].address == "/var/e2"));
  // e1 runs three at once, e2 one: both RUN builds (on two bases) fit on e1.
  REQUIRE(p.runs.size() == 2);
  CHECK(p.runs[0].engine == 0);
  CHECK(p.runs[1].engine == 0);
}
