// Publishing modes against a real registry (Debian's docker-registry on 127.0.0.1), checked
// with curl and skopeo: --no-push leaves the registry alone and report.json says what stayed
// in the store; --atomic moves no tag and changes no values file unless every image is up.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "registry_build.h"
#include "registry_server.h"

using fgtest::quote;
using fgtest::run;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kRepos = {"restricted/mediawiki-multiversion", "restricted/mediawiki-multiversion-debug",
                                         "restricted/mediawiki-multiversion-cli", "restricted/mediawiki-webserver"};

/// The registry's repositories (its catalog).
std::set<std::string> catalog(const fgtest::RegistryServer& reg) {
  auto r = run("curl -sf --max-time 10 " + quote("http://" + reg.address() + "/v2/_catalog"));
  REQUIRE(r.status == 0);
  std::set<std::string> out;
  json listed = json::parse(r.out);  // (a range-for over a temporary's member would dangle)
  for (const auto& name : listed["repositories"]) out.insert(name.get<std::string>());
  return out;
}

/// The tags of `repo` at the registry (none when the repository has none).
std::set<std::string> tags(const fgtest::RegistryServer& reg, const std::string& repo) {
  auto r = run("curl -sf --max-time 10 " + quote("http://" + reg.address() + "/v2/" + repo + "/tags/list"));
  std::set<std::string> out;
  if (r.status != 0) return out;
  auto j = json::parse(r.out);
  if (j["tags"].is_array())
    for (const auto& t : j["tags"]) out.insert(t.get<std::string>());
  return out;
}

/// Every file under `dir` with its content.
std::map<std::string, std::string> files_of(const fs::path& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().string().find("/.git/") == std::string::npos)
      out[fs::relative(e.path(), dir).string()] = fgtest::read_file(e.path());
  return out;
}

}  // namespace

TEST_CASE("--no-push: the registry is untouched, the images are in the store, report.json lists them as unpushed") {
  fgtest::RegistryServer reg;
  fgtest::RegistryBuild b(reg.address());
  auto r = b.build("--no-push");
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.err.find("--no-push: 7 image(s) left in the store") != std::string::npos);
  CHECK(catalog(reg).empty());
  CHECK(files_of(b.tmp / "values").empty());
  auto report = json::parse(fgtest::read_file(b.tmp / "state" / "report.json"));
  auto flavour = report["mediawiki"]["flavours"]["publish-81"];
  CHECK(flavour["kinds"].empty());  // readers of image_name see nothing pushed
  std::string ref = flavour["unpushed"]["image"]["ref"];
  CHECK(ref == "restricted/mediawiki-multiversion:2024-10-29-190315-publish-81");
  // The store holds it under that name, with that digest (skopeo reads the layout).
  auto s = run("skopeo inspect " + quote("oci:" + (b.tmp / "store").string() + ":" + ref));
  INFO(s.err);
  REQUIRE(s.status == 0);
  CHECK(json::parse(s.out)["Digest"] == flavour["unpushed"]["image"]["digest"]);
  // render refuses a report whose images were never pushed, and says why.
  auto rv = run(quote(fgtest::binary()) + " render -d " + quote((b.cfg / "deployments.yaml").string()) + " --report " +
                quote((b.tmp / "state" / "report.json").string()) + " --values-dir " + quote((b.tmp / "rv").string()) +
                " --registry " + reg.address());
  CHECK(rv.status != 0);
  INFO(rv.err);
  CHECK(rv.err.find("never pushed") != std::string::npos);

  // Pushed afterwards: image names replace the unpushed entries, values are written.
  r = b.build("");
  REQUIRE(r.status == 0);
  report = json::parse(fgtest::read_file(b.tmp / "state" / "report.json"));
  flavour = report["mediawiki"]["flavours"]["publish-81"];
  CHECK(flavour["kinds"]["image"]["image_name"] == reg.address() + "/" + ref);
  CHECK_FALSE(flavour.contains("unpushed"));
  auto values = files_of(b.tmp / "values");
  CHECK_FALSE(values.empty());

  // A later --no-push run keeps the pushed name beside the new unpushed image, and no values change.
  b.timestamp = "2024-10-30-000000";
  r = b.build("--no-push");
  REQUIRE(r.status == 0);
  report = json::parse(fgtest::read_file(b.tmp / "state" / "report.json"));
  flavour = report["mediawiki"]["flavours"]["publish-81"];
  CHECK(flavour["kinds"]["image"]["image_name"] == reg.address() + "/" + ref);
  CHECK(flavour["unpushed"]["image"]["ref"] == "restricted/mediawiki-multiversion:2024-10-30-000000-publish-81");
  CHECK(files_of(b.tmp / "values") == values);
  CHECK(tags(reg, kRepos[0]).count("2024-10-30-000000-publish-81") == 0);
}

TEST_CASE("--atomic: one push failing moves no tag and changes no values file; a rerun publishes everything") {
  fgtest::RegistryServer reg;
  fgtest::RegistryBuild b(reg.address());
  REQUIRE(b.build("--atomic").status == 0);  // a first deploy, at 2024-10-29-190315
  auto values = files_of(b.tmp / "values");
  auto report = fgtest::read_file(b.tmp / "state" / "report.json");
  std::map<std::string, std::set<std::string>> before;
  for (const auto& repo : kRepos) before[repo] = tags(reg, repo);
  CHECK(before[kRepos[0]].count("2024-10-29-190315-publish-81") == 1);

  // The next deploy: a changed tree (new images to upload) under new tags, one push failing.
  fgtest::write_file(b.cfg / "app" / "w" / "index.php", "<?php // the next deploy\n");
  b.timestamp = "2024-10-31-120000";
  auto next = [&](const std::string& extra) { return b.build("--atomic --keep-going " + extra); };
  auto r = next("--fail push:mediawiki:publish-81:image" + b.meta("m.json"));
  CHECK(r.status == 1);
  for (const auto& repo : kRepos) CHECK(tags(reg, repo) == before[repo]);
  CHECK(files_of(b.tmp / "values") == values);
  CHECK(fgtest::read_file(b.tmp / "state" / "report.json") == report);
  auto meta = b.metadata("m.json");
  CHECK(meta["atomic"]["tagged"] == false);
  // The images map says the same: nothing of this run is pushed (named).
  for (const auto& [target, img] : meta["images"].items()) CHECK_MESSAGE(img["pushed"] == false, target);
  // The other images were uploaded by digest, and the metadata names them.
  auto untagged = meta["atomic"]["uploaded_untagged"];
  CHECK(untagged.size() == 6);
  std::set<std::string> new_digests;
  for (const auto& u : untagged) {
    std::string ref = u;
    REQUIRE(ref.find('@') != std::string::npos);
    auto s = run("skopeo inspect --tls-verify=false --raw " + quote("docker://" + ref));
    CHECK(s.status == 0);
    new_digests.insert(ref.substr(ref.find('@') + 1));
  }
  // The changed images (mediawiki: the app layer) were uploaded; no tag names any of them.
  size_t uploaded = 0;
  for (const auto& t : fgtest::tasks_of_kind(meta, "push"))
    uploaded += t["state"] == "done" && t["bytes_out"].get<uint64_t>() > 0;
  CHECK(uploaded == 5);  // 6 mediawiki images, one failed; the webserver is unchanged
  for (const auto& repo : kRepos)
    for (const auto& t : tags(reg, repo)) {
      auto d = run("skopeo inspect --tls-verify=false --format '{{.Digest}}' " + quote("docker://" + reg.address() + "/" + repo + ":" + t));
      std::string digest = d.out.substr(0, d.out.find('\n'));
      if (repo != kRepos[3]) CHECK_MESSAGE(new_digests.count(digest) == 0, (repo + ":" + t));
    }

  r = next(b.meta("m2.json"));
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto m2 = b.metadata("m2.json");
  CHECK(m2["atomic"]["tagged"] == true);
  // The images map, as bake's metadata has it per target: every name, the digest skopeo sees.
  REQUIRE(m2["images"].size() == 7);
  auto img = m2["images"]["mediawiki:publish-81:image"];
  CHECK(img["pushed"] == true);
  CHECK(img["platform"] == "linux/amd64");
  std::string name = reg.address() + "/" + kRepos[0] + ":2024-10-31-120000-publish-81";
  CHECK(img["image.name"][0] == name);
  auto inspected = json::parse(run("skopeo inspect --tls-verify=false " + quote("docker://" + name)).out);
  CHECK(img["containerimage.digest"] == inspected["Digest"]);
  for (const auto& repo : kRepos) {
    auto now = tags(reg, repo);
    size_t fresh = 0;
    for (const auto& t : now) fresh += t.rfind("2024-10-31-120000-", 0) == 0;
    CHECK(fresh >= 1);
    for (const auto& t : before[repo]) CHECK(now.count(t) == 1);
  }
  CHECK(tags(reg, kRepos[0]).count("2024-10-31-120000-publish-81") == 1);
  CHECK(files_of(b.tmp / "values") != values);
  CHECK(fgtest::read_file(b.tmp / "state" / "report.json").find("2024-10-31-120000-publish-81") != std::string::npos);
}

TEST_CASE("--atomic and --no-push together are a usage error") {
  fgtest::RegistryBuild b("127.0.0.1:9");
  auto r = b.build("--atomic --no-push");
  CHECK(r.status == 2);
  CHECK(r.err.find("--atomic") != std::string::npos);
}

namespace {

/// Sums of the metadata's bytes_out by task kind.
std::map<std::string, uint64_t> bytes_out(const json& meta) {
  std::map<std::string, uint64_t> out;
  for (const auto& t : meta["tasks"]) out[t["kind"].get<std::string>()] += t["bytes_out"].get<uint64_t>();
  return out;
}

size_t published_already(const json& meta) {
  size_t n = 0;
  for (const auto& t : meta["tasks"])
    n += t["kind"] == "build" && t.value("reason", "").rfind("published already", 0) == 0;
  return n;
}

}  // namespace

TEST_CASE("a fresh machine on an unchanged tree takes every image from the registry by its build key") {
  fgtest::RegistryServer reg;
  fgtest::RegistryBuild b(reg.address());
  REQUIRE(b.build(b.meta("m1.json")).status == 0);
  CHECK(published_already(b.metadata("m1.json")) == 0);
  auto values = files_of(b.tmp / "values");
  // Every pushed image is also named by its build key.
  size_t keys = 0;
  for (const auto& repo : kRepos)
    for (const auto& t : tags(reg, repo)) keys += t.rfind("flavourgraph-key-", 0) == 0;
  CHECK(keys == 7);

  // A fresh machine: no store, no state; the tree checked out again (new mtimes and inodes).
  auto fresh = [&](const std::string& meta, const std::string& extra = "") {
    fs::remove_all(b.tmp / "store");
    fs::remove_all(b.tmp / "state");
    fs::path app = b.cfg / "app";
    fs::rename(app, b.tmp / "app-old");
    fs::copy(b.tmp / "app-old", app, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    fs::remove_all(b.tmp / "app-old");
    return b.build(b.meta(meta) + " --explain " + extra);
  };
  auto r = fresh("m2.json");
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto meta = b.metadata("m2.json");
  CHECK(published_already(meta) == 7);
  auto out = bytes_out(meta);
  CHECK(out["layer"] == 0);
  CHECK(out["push"] == 0);
  CHECK(out["run"] == 0);
  for (const auto& t : meta["tasks"])
    if (t["kind"] == "layer" || t["kind"] == "run" || t["kind"] == "base-pull") CHECK(t["bytes_in"] == 0);
  CHECK(r.err.find("explain: build:mediawiki:publish-81:image: published already") != std::string::npos);
  CHECK(files_of(b.tmp / "values") == values);
  // report.json and the build state are those of a build: the next change is a delta on them.
  auto report = json::parse(fgtest::read_file(b.tmp / "state" / "report.json"));
  CHECK(report["mediawiki"]["flavours"]["publish"]["kinds"]["image"]["image_name"] ==
        reg.address() + "/restricted/mediawiki-multiversion:2024-10-29-190315-publish");
  CHECK(fs::exists(b.tmp / "state" / "builds"));

  // A new deploy time: the same images, only their new names move (the manifests are re-put).
  b.timestamp = "2024-11-01-000000";
  r = fresh("m3.json");
  REQUIRE(r.status == 0);
  meta = b.metadata("m3.json");
  CHECK(published_already(meta) == 7);
  out = bytes_out(meta);
  CHECK(out["layer"] == 0);
  CHECK(out["push"] > 0);
  CHECK(out["push"] < 7 * 8192);  // manifests only
  CHECK(tags(reg, kRepos[0]).count("2024-11-01-000000-publish-81") == 1);

  // A changed file changes the key: that image is built again (here, as a delta).
  fgtest::write_file(b.cfg / "app" / "w" / "index.php", "<?php // changed\n");
  r = b.build(b.meta("m4.json"));
  REQUIRE(r.status == 0);
  auto m4 = b.metadata("m4.json");
  CHECK(published_already(m4) == 1);  // only the webserver has no app layer
  for (const auto& t : m4["tasks"])
    if (t["id"] == "build:mediawiki:publish-81:image") CHECK(t["reason"].get<std::string>().rfind("delta on", 0) == 0);
}

TEST_CASE("a kind built `from` an image taken by its build key: only the child is built, and pushed") {
  fgtest::RegistryServer reg;
  fgtest::RegistryBuild b(reg.address());
  REQUIRE(b.build().status == 0);
  // Only the debug kind's own layer changes: the image it is built from is published already.
  fgtest::write_file(b.cfg / "debug" / "20-debug.ini", "; changed\nxdebug.mode=off\n");
  b.timestamp = "2024-11-02-000000";
  auto r = b.build(b.meta("m.json") + " --explain");
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto meta = b.metadata("m.json");
  auto by_id = fgtest::tasks_by_id(meta);
  CHECK(by_id["build:mediawiki:publish:image"]["reason"].get<std::string>().rfind("published already", 0) == 0);
  CHECK(by_id["build:mediawiki:publish:debug-image"]["state"] == "done");
  CHECK(by_id["push:mediawiki:publish:debug-image"]["state"] == "done");
  // The debug image pulls whole: its parent's layers were mounted from the parent's repository.
  std::string ref = reg.address() + "/" + kRepos[1] + ":2024-11-02-000000-publish";
  auto c = run("skopeo copy --src-tls-verify=false " + quote("docker://" + ref) + " " + quote("oci:" + (b.tmp / "pulled").string() + ":x"));
  CHECK_MESSAGE(c.status == 0, c.err);
}
