// The command line's manners: mistyped commands and options named with a suggestion, every
// missing required option at once, and help without the parser's type noise.
#include <doctest/doctest.h>


#include "test_util.h"

namespace {

fgtest::CommandResult fg_cli(const std::string& args) { return fgtest::run(fgtest::quote(fgtest::binary()) + " " + args); }

/// Whether a default is glued to a placeholder, as CLI11 writes it (`N=4`, `DIR=.flavourgraph/store`).
bool default_glued(const std::string& help) {
  for (size_t eq = help.find('='); eq != std::string::npos; eq = help.find('=', eq + 1)) {
    if (eq == 0 || !(std::isupper(static_cast<unsigned char>(help[eq - 1])) || help[eq - 1] == '|')) continue;
    std::string_view after = std::string_view(help).substr(eq + 1);
    for (std::string_view v : {".flavourgraph", "auto", "v3", "text"})
      if (after.substr(0, v.size()) == v) return true;
    if (!after.empty() && std::isdigit(static_cast<unsigned char>(after.front()))) return true;
  }
  return false;
}

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST_CASE("a mistyped command is a usage error that suggests the right one") {
  auto r = fg_cli("bild -c x");
  CHECK(r.status == 2);
  CHECK(r.err == "flavourgraph: unknown command 'bild' (did you mean 'build'?); the commands are plan, build, render, "
                 "values, gc\n");
  auto v = fg_cli("values rever --values-dir x");
  CHECK(v.status == 2);
  CHECK(v.err.find("flavourgraph values: unknown command 'rever' (did you mean 'revert'?)") != std::string::npos);
  auto far = fg_cli("deploy");
  CHECK(far.status == 2);
  CHECK(far.err.find("unknown command 'deploy'") != std::string::npos);
  CHECK(far.err.find("did you mean") == std::string::npos);  // nothing is near
}

TEST_CASE("every unknown option is named, with the nearest known one, before any requirement") {
  auto r = fg_cli("build --jbos 3 --no-cahce --bogus");
  CHECK(r.status == 2);
  INFO(r.err);
  CHECK(r.err.find("flavourgraph build: unknown option '--jbos' (did you mean '--jobs'?)") != std::string::npos);
  CHECK(r.err.find("flavourgraph build: unknown option '--no-cahce' (did you mean '--no-cache'?)") != std::string::npos);
  CHECK(r.err.find("flavourgraph build: unknown option '--bogus'\n") != std::string::npos);
  CHECK(r.err.find("required") == std::string::npos);  // not "--config is required" instead
  CHECK(count_lines(r.err) == 3);
  auto top = fg_cli("--bogus");
  CHECK(top.status == 2);
  CHECK(top.err.find("flavourgraph: unknown option '--bogus'") != std::string::npos);
  auto flag = fg_cli("gc --dry-run --store /nonexistent-store");  // a flag takes no value: --store's is its own
  CHECK(flag.err.find("unexpected argument") == std::string::npos);
  CHECK(flag.err.find("/nonexistent-store is not an OCI image layout") != std::string::npos);
  // A list option takes the words after it, as CLI11 reads them: none is unexpected.
  auto list = fg_cli("plan -c /nonexistent/images.yaml --only mediawiki:publish webserver:webserver --all-flavours");
  CHECK(list.err.find("unexpected argument") == std::string::npos);
  CHECK(list.err.find("/nonexistent/images.yaml") != std::string::npos);
  auto short_opt = fg_cli("plan -j 2");  // build's option: no guess among plan's one-letter options
  CHECK(short_opt.err == "flavourgraph plan: unknown option '-j'\n");
  auto cut = fg_cli("plan --form json");  // cut short: the option it begins
  CHECK(cut.err.find("(did you mean '--format'?)") != std::string::npos);
}

TEST_CASE("every missing required option is reported at once") {
  auto r = fg_cli("render");
  CHECK(r.status == 2);
  CHECK(r.err == "flavourgraph render: missing --deployments, --report, --values-dir (flavourgraph render --help)\n");
  auto some = fg_cli("render --report r.json");
  CHECK(some.err == "flavourgraph render: missing --deployments, --values-dir (flavourgraph render --help)\n");
  auto values = fg_cli("values");
  CHECK(values.status == 2);
  CHECK(values.err.find("flavourgraph values: a command is needed: revert") != std::string::npos);
  auto none = fg_cli("");
  CHECK(none.status == 2);
  CHECK(none.err.find("Subcommands:") != std::string::npos);  // the help, not an error line alone
}

TEST_CASE("help shows placeholders and every default, without the parser's types") {
  for (const char* cmd : {"plan", "build", "render", "values revert", "gc"}) {
    auto r = fg_cli(std::string(cmd) + " --help");
    INFO(cmd, "\n", r.out);
    CHECK(r.status == 0);
    for (const char* noise : {"UINT", "TEXT", "INT in", "FLOAT", "{false}", "{true}", "REQUIRED", ":{"})
      CHECK_MESSAGE(r.out.find(noise) == std::string::npos, (std::string("noise: ") + noise));
    // No default glued to a placeholder (`N=4`): defaults are said in the description.
    CHECK_FALSE(default_glued(r.out));
  }
  auto build = fg_cli("build --help").out;
  CHECK(build.find("--push-jobs N ") != std::string::npos);
  CHECK(build.find("(default: 4)") != std::string::npos);
  CHECK(build.find("--progress auto|tty|plain|json|quiet") != std::string::npos);
  CHECK(build.find("(default: .flavourgraph/store)") != std::string::npos);
  CHECK(build.find("-c,--config IMAGES (required)") != std::string::npos);
  CHECK(fg_cli("gc --help").out.find("--keep N ") != std::string::npos);
}

TEST_CASE("--latest-tag takes a template, checked once for every image") {
  std::string example = " -c " + fgtest::quote(fgtest::source_dir() + "/configs/example/images.yaml") + " -d " +
                        fgtest::quote(fgtest::source_dir() + "/configs/example/deployments.yaml");
  auto ok = fg_cli("plan" + example + " --latest-tag 'latest-{flavour}' --format json");
  INFO(ok.err);
  REQUIRE(ok.status == 0);
  auto bad = fg_cli("plan" + example + " --latest-tag 'latest-{nope}'");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--latest-tag: '{nope}' is not defined") != std::string::npos);
  CHECK(count_lines(bad.err) == 2);  // the error once, then the count
  auto unclosed = fg_cli("plan" + example + " --latest-tag '{'");  // not silently no tag
  CHECK(unclosed.status == 2);
  CHECK(unclosed.err.find("--latest-tag: unclosed '{'") != std::string::npos);
}
