// Values files and report.json: render from a report, git commits, errors, stale files, and a
// real build where one flavour's push fails. Byte-for-byte comparisons with PyYAML live in
// tests/golden (ctest runs them).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "flavourgraph/release_values.h"
#include "example.h"
#include "values_repo.h"
#include "test_util.h"

using fgtest::quote;
using fgtest::run;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string fg() { return quote(fgtest::binary()); }

std::string golden(const std::string& f) { return fgtest::source_dir() + "/tests/golden/" + f; }

/// A git repository for values, with an identity of its own.
void git_init(const fs::path& dir) {
  REQUIRE(run("git init -q " + quote(dir.string()) + " && git -C " + quote(dir.string()) +
              " config user.name test && git -C " + quote(dir.string()) + " config user.email test@example.invalid && git -C " +
              quote(dir.string()) + " commit -q --allow-empty -m init")
              .status == 0);
}

std::vector<std::string> git_log(const fs::path& dir) {
  auto r = run("git -C " + quote(dir.string()) + " log --reverse --format=%B%x00");
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nul; (nul = r.out.find('\0', start)) != std::string::npos; start = nul + 1) {
    std::string m = r.out.substr(start, nul - start);
    while (!m.empty() && (m.front() == '\n')) m.erase(0, 1);
    while (!m.empty() && (m.back() == '\n')) m.pop_back();
    out.push_back(m);
  }
  return out;
}

fgtest::CommandResult render(const fs::path& values, const std::string& report, const std::string& extra = "") {
  return run(fg() + " render -d " + quote(fgtest::fixture("deployments-mapping-form.yaml")) + " --report " +
             quote(report) + " --registry docker-registry.discovery.wmnet --values-dir " + quote(values.string()) +
             " --clusters eqiad,codfw " + extra);
}

}  // namespace

TEST_CASE("render commits each changed file on its own, stage by stage, with production's message") {
  fgtest::TempDir tmp;
  git_init(tmp / "values");
  auto r = render(tmp / "values", golden("report-example.json"));
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto log = git_log(tmp / "values");
  REQUIRE(log.size() == 1 + 18);
  CHECK(log[1] ==
        "Updating release 'mw-debug-pinkunicorn-eqiad'\n\n"
        "MediaWiki image is: 'restricted/mediawiki-multiversion-debug:2024-10-29-190315-publish'\n"
        "Webserver image is: 'restricted/mediawiki-webserver:2024-10-29-190315-webserver'");
  // testservers (mw-debug, 4 files) first, then the canaries, then production.
  for (int i = 1; i <= 4; ++i) CHECK(log[static_cast<size_t>(i)].find("'mw-debug-") != std::string::npos);
  CHECK(log[5].find("'mw-pretrain-web-canary-eqiad'") != std::string::npos);
  CHECK(log[9].find("'mw-pretrain-web-eqiad'") != std::string::npos);
  CHECK(fgtest::read_file(tmp / "values/mw-web-main-eqiad.yaml") ==
        "docker:\n  registry: docker-registry.discovery.wmnet\nmain_app:\n"
        "  image: restricted/mediawiki-multiversion:2024-10-29-190315-publish-81\nmw:\n  httpd:\n"
        "    image_tag: restricted/mediawiki-webserver:2024-10-29-190315-webserver\nphp:\n  version: '8.1'\n");

  // Again: nothing written, no commit.
  auto again = render(tmp / "values", golden("report-example.json"));
  CHECK(again.err.find("0 written, 18 unchanged; 0 commit(s)") != std::string::npos);
  CHECK(git_log(tmp / "values").size() == 19);

  // A new publish-81 image: exactly one commit per file that names it.
  std::string text = fgtest::read_file(golden("report-example.json"));
  std::string old_tag = "mediawiki-multiversion:2024-10-29-190315-publish-81";
  auto pos = text.find(old_tag);
  REQUIRE(pos != std::string::npos);
  text.replace(pos, old_tag.size(), "mediawiki-multiversion:2024-10-30-080000-publish-81");
  fgtest::write_file(tmp / "report2.json", text);
  size_t naming = 0;
  for (const auto& e : fs::directory_iterator(tmp / "values"))
    if (e.path().extension() == ".yaml" && fgtest::read_file(e.path()).find("  image: restricted/" + old_tag) != std::string::npos)
      ++naming;
  CHECK(naming == 10);  // mw-pretrain web and web-canary, mw-web canary and main, mw-script main; × 2 clusters
  auto changed = render(tmp / "values", (tmp / "report2.json").string());
  REQUIRE(changed.status == 0);
  CHECK(git_log(tmp / "values").size() == 19 + naming);
  CHECK(run("git -C " + quote((tmp / "values").string()) + " status --porcelain").out.empty());
}

TEST_CASE("a release naming what the report lacks: exit 2, file and release named, nothing written") {
  fgtest::TempDir tmp;
  auto r = run(fg() + " render -d " + quote(fgtest::fixture("deployments-scap-tests.yaml")) + " --report " +
               quote(golden("report-example.json")) + " --registry docker-registry.discovery.wmnet --values-dir " +
               quote((tmp / "values").string()));
  CHECK(r.status == 2);
  CHECK(r.err.find("deployments-scap-tests.yaml:31:7: api3.releases.migration.mw_flavour: release 'api3/migration': "
                   "Image flavour 'exciting-new-mediawiki' not found among built images in [publish, publish-81]") !=
        std::string::npos);
  CHECK(r.err.find("Image flavour 'exciting-new-webserver' not found") != std::string::npos);
  CHECK((!fs::exists(tmp / "values") || fs::is_empty(tmp / "values")));

  auto bad = run(fg() + " render -d " + quote(fgtest::fixture("deployments-2024-10.yaml")) +
                 " --report /nonexistent.json --registry r --values-dir " + quote((tmp / "v").string()));
  CHECK(bad.status == 2);
  CHECK(bad.err.find("/nonexistent.json") != std::string::npos);
}

TEST_CASE("files of releases no longer configured are listed; --prune removes them") {
  fgtest::TempDir tmp;
  git_init(tmp / "values");
  fgtest::write_file(tmp / "values/mw-gone-main-eqiad.yaml", "docker: {}\n");
  REQUIRE(run("git -C " + quote((tmp / "values").string()) + " add . && git -C " + quote((tmp / "values").string()) +
              " commit -qm old").status == 0);
  auto listed = render(tmp / "values", golden("report-example.json"));
  CHECK(listed.status == 0);
  CHECK(listed.err.find("mw-gone-main-eqiad.yaml: warning: no configured release writes this file") != std::string::npos);
  CHECK(fs::exists(tmp / "values/mw-gone-main-eqiad.yaml"));
  auto pruned = render(tmp / "values", golden("report-example.json"), "--prune");
  CHECK(pruned.status == 0);
  CHECK_FALSE(fs::exists(tmp / "values/mw-gone-main-eqiad.yaml"));
  CHECK(run("git -C " + quote((tmp / "values").string()) + " status --porcelain").out.empty());
}

TEST_CASE("a build whose publish-81 push fails: only that flavour's releases keep their old files; exit 1") {
  fgtest::TempDir tmp;
  std::string dir = fgtest::source_dir() + "/configs/example/";
  std::string base = fg() + " build -c " + quote(dir + "images.yaml") + " -d " + quote(dir + "deployments.yaml") +
                     " --store " + quote((tmp / "store").string()) + " --state-dir " + quote((tmp / "state").string()) +
                     " --values-dir " + quote((tmp / "values").string()) + " --registry oci:" +
                     quote((tmp / "registry").string()) + " --progress quiet -k ";
  git_init(tmp / "values");
  REQUIRE(run(base + "--timestamp 2024-10-29-190315").status == 0);
  auto first = json::parse(fgtest::read_file(tmp / "state/report.json"));
  CHECK(first["mediawiki"]["flavours"]["publish-81"]["kinds"]["image"]["image_name"].get<std::string>().ends_with(
      "/restricted/mediawiki-multiversion:2024-10-29-190315-publish-81"));
  size_t commits = git_log(tmp / "values").size();
  CHECK(commits == 1 + 17);

  auto r = run(base + "--timestamp 2024-10-30-080000 --fail push:mediawiki:publish-81:image");
  CHECK(r.status == 1);
  // mw-web/next and mw-api-ext/* run publish-81's image: old files; every other release: new.
  for (const auto& e : fs::directory_iterator(tmp / "values")) {
    if (e.path().extension() != ".yaml") continue;
    std::string name = e.path().filename().string(), text = fgtest::read_file(e.path());
    bool on_81_image = name.rfind("mw-web-next-", 0) == 0 || name.rfind("mw-api-ext-", 0) == 0;
    INFO(name);
    CHECK((text.find("2024-10-29-190315") != std::string::npos) == on_81_image);
  }
  // The report stays a complete, usable set: what this run pushed is new, the image whose push
  // failed keeps its last good entry.
  auto second = json::parse(fgtest::read_file(tmp / "state/report.json"));
  auto kinds_81 = second["mediawiki"]["flavours"]["publish-81"]["kinds"];
  CHECK(kinds_81["image"]["image_name"].get<std::string>().ends_with(":2024-10-29-190315-publish-81"));
  CHECK(kinds_81["cli-image"]["image_name"].get<std::string>().ends_with(":2024-10-30-080000-publish-81"));
  CHECK(git_log(tmp / "values").size() == commits + 17 - 6);
}

TEST_CASE("report.json v2 on request, and render reads it") {
  fgtest::TempDir tmp;
  std::string dir = fgtest::source_dir() + "/configs/example/";
  REQUIRE(run(fg() + " build -c " + quote(dir + "images.yaml") + " -d " + quote(dir + "deployments.yaml") +
              " --store " + quote((tmp / "store").string()) + " --state-dir " + quote((tmp / "state").string()) +
              " --values-dir " + quote((tmp / "values").string()) + " --registry oci:" + quote((tmp / "registry").string()) +
              " --progress quiet --report-format v2 --timestamp 2024-10-29-190315")
              .status == 0);
  auto v2 = json::parse(fgtest::read_file(tmp / "state/report.json"));
  CHECK(v2["mediawiki"]["by-flavour"]["publish"]["debug-image"].get<std::string>().ends_with(
      "restricted/mediawiki-multiversion-debug:2024-10-29-190315-publish"));
  auto r = run(fg() + " render -d " + quote(dir + "deployments.yaml") + " --report " +
               quote((tmp / "state/report.json").string()) + " --registry oci:" + quote((tmp / "registry").string()) +
               " --values-dir " + quote((tmp / "v2values").string()) + " --clusters eqiad,codfw");
  CHECK(r.status == 0);
  std::string text = fgtest::read_file(tmp / "v2values/mw-web-main-eqiad.yaml");
  CHECK(text.find("php:") == std::string::npos);  // v2 has no metadata
  CHECK(text.find("image: restricted/mediawiki-multiversion:2024-10-29-190315-publish\n") != std::string::npos);
}

TEST_CASE("values content and commit message") {
  using flavourgraph::values_commit_message;
  using flavourgraph::values_content;
  CHECK(values_content("reg", "reg/a/b:1", "other/c:2", std::nullopt) ==
        "docker:\n  registry: reg\nmain_app:\n  image: a/b:1\nmw:\n  httpd:\n    image_tag: other/c:2\n");
  CHECK(values_commit_message("ns-rel-eqiad", "a:1", "b:2") ==
        "Updating release 'ns-rel-eqiad'\n\nMediaWiki image is: 'a:1'\nWebserver image is: 'b:2'");
}

TEST_CASE("render from a build's report writes what the build wrote, byte for byte; a report of another registry is refused") {
  fgtest::Example ex;
  auto b = ex.build();
  REQUIRE_MESSAGE(b.status == 0, b.err);
  fs::path again = ex.tmp / "rendered";
  std::string base = fg() + " render -d " + quote((ex.cfg_dir / "deployments.yaml").string()) + " --report " +
                     quote((ex.state / "report.json").string());
  std::string common = base + " --values-dir " + quote(again.string());
  // With -c, the clusters come from images.yaml, as in the build.
  auto r = run(common + " -c " + quote((ex.cfg_dir / "images.yaml").string()) + " --registry oci:" + quote(ex.registry.string()));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(ex.values)) {
    if (e.path().extension() != ".yaml") continue;
    ++files;
    INFO(e.path().filename());
    CHECK(fgtest::read_file(e.path()) == fgtest::read_file(again / e.path().filename()));
  }
  CHECK(files == 17);
  // Without -c there is no default cluster list: other file names, so the build's are not all there.
  auto other = run(base + " --registry oci:" + quote(ex.registry.string()) + " --values-dir " +
                   quote((ex.tmp / "no-clusters").string()));
  CHECK(other.status == 0);
  CHECK_FALSE(fs::exists(ex.tmp / "no-clusters" / "mw-web-main-eqiad.yaml"));

  auto wrong = run(common + " --registry registry.example.org/other");
  CHECK(wrong.status == 2);
  CHECK(wrong.err.find("not under registry.example.org/other") != std::string::npos);
  auto none = run(common);
  CHECK(none.status == 2);
  CHECK(none.err.find("--registry: needed") != std::string::npos);
}

TEST_CASE("values revert puts the previous deploy's files back in one commit with production's message") {
  fgtest::Example ex;
  fgtest::ValuesRepo repo;
  auto build = [&](const std::string& stamp) {
    auto r = fgtest::run(quote(fgtest::binary()) + " build -c " + quote((ex.cfg_dir / "images.yaml").string()) + " -d " +
                         quote((ex.cfg_dir / "deployments.yaml").string()) + " --store " + quote(ex.store.string()) +
                         " --state-dir " + quote(ex.state.string()) + " --values-dir " + quote(repo.dir.string()) +
                         " --registry oci:" + quote(ex.registry.string()) + " --timestamp " + stamp + " --progress quiet");
    REQUIRE_MESSAGE(r.status == 0, r.err);
  };
  auto snapshot = [&] {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::directory_iterator(repo.dir))
      if (e.path().extension() == ".yaml") files[e.path().filename().string()] = fgtest::read_file(e.path());
    return files;
  };
  auto revert = [&] {
    return fgtest::run(fg() + " values revert --values-dir " + quote(repo.dir.string()) + " --state-dir " +
                       quote(ex.state.string()));
  };
  CHECK(revert().status == 2);  // no deploy recorded yet
  build("2024-10-29-190315");
  auto first = snapshot();
  REQUIRE(first.size() == 17);
  build("2024-10-30-080000");  // new tags: every values file changes
  auto second = snapshot();
  CHECK(second != first);
  int commits = repo.commits();

  auto r = revert();
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(snapshot() == first);
  CHECK(repo.commits() == commits + 1);
  CHECK(repo.git("log -1 --format=%s").out == "Configuration(s) reverted\n");
  CHECK(repo.git("status --porcelain").out.empty());

  // A revert is a deploy too: reverting again brings the second deploy back.
  REQUIRE(revert().status == 0);
  CHECK(snapshot() == second);

  // Someone committed since: nothing is reverted.
  fgtest::write_file(repo.dir / "mw-web-main-eqiad.yaml", "edited: by hand\n");
  repo.git("commit -qam 'by hand'");
  int before = repo.commits();
  auto refused = revert();
  CHECK(refused.status == 1);
  CHECK(refused.err.find("changed since the last deploy") != std::string::npos);
  CHECK(repo.commits() == before);
}

TEST_CASE("the example's push target is where the command runs, and values name it without ../") {
  fgtest::Example ex;
  namespace fs = std::filesystem;
  fs::path here = ex.tmp / "elsewhere";
  fs::create_directories(here);
  auto r = fgtest::run("cd " + quote(here.string()) + " && " + quote(fgtest::binary()) + " build -c " +
                       quote((ex.cfg_dir / "images.yaml").string()) + " -d " +
                       quote((ex.cfg_dir / "deployments.yaml").string()) + " --progress quiet");
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(fs::exists(here / ".flavourgraph/registry/index.json"));
  CHECK_FALSE(fs::exists(ex.cfg_dir / ".flavourgraph"));
  CHECK_FALSE(fs::exists(ex.tmp / ".flavourgraph"));  // not beside images.yaml's ../..
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(here / ".flavourgraph/values")) {
    if (e.path().extension() != ".yaml") continue;
    ++files;
    std::string text = fgtest::read_file(e.path());
    INFO(e.path().string(), "\n", text);
    CHECK(text.find("  registry: oci:.flavourgraph/registry\n") != std::string::npos);
    CHECK(text.find("..") == std::string::npos);
  }
  CHECK(files > 0);
}
