// The state a build leaves for the next: report.json and the build records change only for
// images a run published; failed, cancelled and empty runs leave them as they were; an image
// built `from` an unchanged parent keeps its digest whatever the run's time.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "example.h"
#include "test_util.h"

using fgtest::Example;
using fgtest::quote;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// Every file of the state dir (report.json and the build records) with its content.
std::map<std::string, std::string> state_files(const fs::path& state) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(state, ec))
    if (e.is_regular_file()) out[fs::relative(e.path(), state).string()] = fgtest::read_file(e.path());
  return out;
}

std::map<std::string, std::string> task_states(const json& meta) {
  std::map<std::string, std::string> out;
  for (const auto& t : meta["tasks"]) out[t["id"]] = t["state"];
  return out;
}

}  // namespace

TEST_CASE("a run that selects nothing is a usage error in build and plan, and writes nothing") {
  Example ex;
  for (std::string cmd : {std::string("plan"), "build --store " + quote(ex.store.string()) + " --state-dir " + quote(ex.state.string())}) {
    auto r = fgtest::run(quote(fgtest::binary()) + " " + cmd + " -c " + quote((ex.cfg_dir / "images.yaml").string()));
    INFO(cmd << ": " << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find("nothing is selected") != std::string::npos);
  }
  CHECK_FALSE(fs::exists(ex.store));
  CHECK_FALSE(fs::exists(ex.state));
}

TEST_CASE("the build state records each published image; report.json keeps what a later run did not publish") {
  Example ex;
  REQUIRE(ex.build().status == 0);
  auto first = state_files(ex.state);
  CHECK(first.count("report.json"));
  CHECK(first.count("builds/mediawiki/publish-81/image.json"));
  CHECK(first.count("builds/webserver/webserver/image.json"));
  json rec = json::parse(first["builds/mediawiki/publish/debug-image.json"]);
  CHECK(rec["name"] == "oci:" + ex.registry.string() + "/restricted/mediawiki-multiversion-debug:2024-10-29-190315-publish");
  CHECK(rec["layers"].size() >= 3);  // the base's layers, app, debug

  // One image only, at a later time: its entry changes, the others stay.
  fgtest::write_file(ex.cfg_dir / "app/w/index.php", "<?php echo 'changed';\n");
  auto r = fgtest::run(quote(fgtest::binary()) + " build -c " + quote((ex.cfg_dir / "images.yaml").string()) +
                       " --only mediawiki:publish:image --store " + quote(ex.store.string()) + " --state-dir " +
                       quote(ex.state.string()) + " --registry oci:" + quote(ex.registry.string()) +
                       " --timestamp 2024-11-05-100000 --progress quiet");
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto second = state_files(ex.state);
  json report = json::parse(second["report.json"]);
  auto kinds = [&](const std::string& fl) { return report["mediawiki"]["flavours"][fl]["kinds"]; };
  CHECK(kinds("publish")["image"]["image_name"].get<std::string>().ends_with(":2024-11-05-100000-publish"));
  CHECK(kinds("publish")["debug-image"]["image_name"].get<std::string>().ends_with(":2024-10-29-190315-publish"));
  CHECK(kinds("publish-81")["image"]["image_name"].get<std::string>().ends_with(":2024-10-29-190315-publish-81"));
  CHECK(second["builds/mediawiki/publish/image.json"] != first["builds/mediawiki/publish/image.json"]);
  CHECK(second["builds/mediawiki/publish-81/image.json"] == first["builds/mediawiki/publish-81/image.json"]);
}

TEST_CASE("a failed run leaves report.json and the build state as they were") {
  Example ex;
  REQUIRE(ex.build().status == 0);
  auto before = state_files(ex.state);
  fgtest::write_file(ex.cfg_dir / "app/w/index.php", "<?php echo 'changed';\n");
  // The app layer fails: no image on it is published.
  std::string plan = fgtest::run(quote(fgtest::binary()) + " plan -c " + quote((ex.cfg_dir / "images.yaml").string()) +
                                 " -d " + quote((ex.cfg_dir / "deployments.yaml").string()) + " --format json")
                         .out;
  std::string app_layer;
  json tasks = json::parse(plan)["tasks"];
  for (const auto& t : tasks)
    if (t["kind"] == "layer" && t.value("dest", "") == "/srv/mediawiki") app_layer = t["id"];
  REQUIRE_FALSE(app_layer.empty());
  ex.timestamp = "2024-11-05-100000";
  auto r = ex.build("--fail " + app_layer);
  CHECK(r.status == 1);
  // The webserver (unchanged, published already) may have moved its new names before the
  // failure stopped the run, and then says so; nothing of mediawiki changed.
  auto after = state_files(ex.state);
  for (const auto& [file, text] : before)
    if (file.rfind("builds/mediawiki/", 0) == 0) CHECK_MESSAGE(after[file] == text, file);
  CHECK(json::parse(after["report.json"])["mediawiki"] == json::parse(before["report.json"])["mediawiki"]);
}

TEST_CASE("a cancelled run leaves report.json and the build state as they were") {
  Example ex;
  REQUIRE(ex.build().status == 0);
  auto before = state_files(ex.state);
  fgtest::write_incompressible(ex.cfg_dir / "app/big.bin", 48u << 20);
  bool sent = false;
  auto r = fgtest::run_watching(
      quote(fgtest::binary()) + " build -c " + quote((ex.cfg_dir / "images.yaml").string()) + " -d " +
          quote((ex.cfg_dir / "deployments.yaml").string()) + " --store " + quote(ex.store.string()) +
          " --registry oci:" + quote(ex.registry.string()) + " --state-dir " + quote(ex.state.string()) +
          " --values-dir " + quote(ex.values.string()) + " --timestamp 2024-10-29-190315 -j 1 --progress json",
      [&](const std::string& line, int pid) {
        if (!sent && fgtest::starts_kind(line, "layer")) sent = kill(pid, SIGINT) == 0;
      });
  REQUIRE(sent);
  CHECK(r.status == 130);
  CHECK(state_files(ex.state) == before);
}

TEST_CASE("an image built from an unchanged parent is cached on a rerun at a new time") {
  Example ex;
  REQUIRE(ex.build().status == 0);
  ex.timestamp = "2024-11-05-100000";
  auto r = ex.build(ex.meta_arg("m.json"));
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto states = task_states(ex.metadata("m.json"));
  CHECK(states["build:mediawiki:publish:image"] == "cached");
  CHECK(states["build:mediawiki:publish:debug-image"] == "cached");
  CHECK(states["build:mediawiki:publish-81:debug-image"] == "cached");
  CHECK(states["tag:mediawiki:publish:debug-image"] == "done");  // the new tag names the same image
}
