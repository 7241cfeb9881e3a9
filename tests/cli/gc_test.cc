// `flavourgraph gc` end to end on the example's store and its oci: push target: what stays (the
// newest, and what report.json, the build records and the values files name), what goes (older
// names and the blobs only they reached), checked with skopeo and umoci; a rebuild after it;
// --dry-run; a store in use; input that does not read.
#include <doctest/doctest.h>
#include <unistd.h>

#include "example.h"
#include "flavourgraph/oci/layout.h"
#include "gc_util.h"

using fgtest::Example;
using fgtest::quote;
using fgtest::run;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kMw = "restricted/mediawiki-multiversion";
const std::string kWeb = "restricted/mediawiki-webserver";
const std::vector<std::string> kMwRepos = {kMw, kMw + "-debug", kMw + "-cli"};

/// Builds the example at each time, its app (an incremental layer) and its debug tree (a layer
/// built whole) changed before each build, so that every build makes new mediawiki images (the
/// webserver stays one image, tagged again each time).
void build_at(Example& ex, const std::vector<std::string>& stamps) {
  for (const auto& s : stamps) {
    fgtest::write_file(ex.cfg_dir / "app/w/gc.txt", s);
    fgtest::write_file(ex.cfg_dir / "debug/gc.txt", s);
    ex.timestamp = s;
    auto r = ex.build();
    INFO(r.err);
    REQUIRE(r.status == 0);
  }
}

std::string dirs(const Example& ex) {
  return "--store " + quote(ex.store.string()) + " --state-dir " + quote(ex.state.string()) + " --values-dir " +
         quote(ex.values.string());
}

/// The config digest of each manifest the names point at.
std::map<std::string, std::string> configs(const fs::path& layout) {
  std::map<std::string, std::string> out;
  for (const auto& [name, digest] : fgtest::layout_names(layout)) {
    json m = json::parse(fgtest::read_file(layout / "blobs/sha256" / digest.substr(7)));
    if (m.contains("config")) out[digest] = m["config"]["digest"];
  }
  return out;
}

/// skopeo copies every named image (every blob read and checked against its digest).
void check_readable(const fs::path& layout, const fs::path& scratch) {
  std::set<std::string> seen;
  for (const auto& [name, digest] : fgtest::layout_names(layout)) {
    if (!seen.insert(digest).second || name.find(":sha256-") != std::string::npos) continue;
    auto c = run("skopeo copy " + quote("oci:" + layout.string() + ":" + name) + " " +
                 quote("oci:" + scratch.string() + ":" + std::to_string(seen.size())));
    CHECK_MESSAGE(c.status == 0, name << ": " << c.err);
  }
}

/// The blobs `umoci gc` would remove from a copy of `layout`: those no name reaches.
std::set<std::string> unreachable(const fs::path& layout, const fs::path& scratch) {
  fs::copy(layout, scratch, fs::copy_options::recursive);
  run("chmod -R u+w " + quote(scratch.string()));
  auto before = fgtest::layout_blobs(scratch);
  auto g = run("umoci gc --layout " + quote(scratch.string()));
  REQUIRE_MESSAGE(g.status == 0, g.err);
  std::set<std::string> out;
  for (const auto& b : before)
    if (!fgtest::layout_blobs(scratch).count(b)) out.insert(b);
  return out;
}

/// A blob the store keeps though no name reaches it: the base a build record names (its
/// manifest and config), or the tree index of a record's image and what carries it.
bool kept_for_records(const Example& ex, const std::string& digest) {
  std::string text = fgtest::read_file(ex.store / "blobs/sha256" / digest.substr(7));
  json j = json::parse(text, nullptr, false);
  for (const auto& e : fs::recursive_directory_iterator(ex.state / "builds")) {
    if (!e.is_regular_file()) continue;
    json r = json::parse(fgtest::read_file(e.path()));
    if (r["base_digest"] == digest) return true;
    fs::path base_file = ex.store / "blobs/sha256" / r["base_digest"].get<std::string>().substr(7);
    json base = json::parse(fs::exists(base_file) ? fgtest::read_file(base_file) : "", nullptr, false);
    if (base.is_object() && base.contains("config") && base["config"]["digest"] == digest) return true;
    if (r.contains("incremental") && r["incremental"]["index"]["digest"] == digest) return true;
  }
  if (text == "{}") return true;  // the artifacts' empty config
  bool artifact = j.is_object() && j.value("artifactType", "") == "application/vnd.flavourgraph.tree-index.v1";
  bool referrers = j.is_object() && j.contains("manifests") && !j["manifests"].empty() &&
                   j["manifests"][0].value("artifactType", "") == "application/vnd.flavourgraph.tree-index.v1";
  return artifact || referrers;
}

}  // namespace

TEST_CASE("gc --keep 1: the newest and every named image stay, older names and their blobs go, the rest still reads") {
  Example ex;
  build_at(ex, {"2024-01-01-000000", "2024-01-02-000000", "2024-01-03-000000"});
  // Another file of the values directory names the oldest publish-81 image: it stays.
  std::string pinned = kMw + ":2024-01-01-000000-publish-81";
  fgtest::write_file(ex.values / "pinned.yaml", "main_app:\n  image: registry.example/" + pinned + "\n");
  auto names_before = fgtest::layout_names(ex.store);
  auto configs_before = configs(ex.store);
  auto r = fgtest::gc(dirs(ex) + " --keep 1 --registry oci:" + quote(ex.registry.string()));
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);

  auto after = fgtest::layout_names(ex.store);
  for (const auto& repo : kMwRepos)
    for (const std::string flavour : {"publish", "publish-81"}) {
      CHECK(after.count(repo + ":2024-01-03-000000-" + flavour));  // the newest (and report.json's)
      CHECK_FALSE(after.count(repo + ":2024-01-02-000000-" + flavour));
      CHECK(after.count(repo + ":2024-01-01-000000-" + flavour) == (repo + ":2024-01-01-000000-" + flavour == pinned));
    }
  CHECK(after.count(kMw + ":latest"));
  CHECK(r.out.find("kept " + pinned + " (mediawiki/publish-81/image): named by " + (ex.values / "pinned.yaml").string()) !=
        std::string::npos);
  // The webserver is one image under each build's tag: kept with every name.
  for (const std::string stamp : {"2024-01-01-000000", "2024-01-02-000000", "2024-01-03-000000"})
    CHECK(after.count(kWeb + ":" + stamp + "-webserver"));
  CHECK(fgtest::layout_names(ex.registry).count(kMw + ":2024-01-02-000000-publish") == 0);

  // The manifests and configs of the removed images are gone from the store.
  auto blobs = fgtest::layout_blobs(ex.store);
  std::set<std::string> kept_digests;
  for (const auto& [name, digest] : after) kept_digests.insert(digest);
  size_t gone = 0;
  for (const auto& [name, digest] : names_before) {
    if (kept_digests.count(digest)) continue;
    ++gone;
    CHECK_FALSE(blobs.count(digest));
    CHECK_FALSE(blobs.count(configs_before.at(digest)));
  }
  CHECK(gone == 11);  // 6 images at 01-02, 5 at 01-01

  // Independent readers: skopeo copies every image left; umoci finds nothing unreachable at the
  // target, and in the store only what the build records keep.
  check_readable(ex.store, ex.tmp / "copy-store");
  check_readable(ex.registry, ex.tmp / "copy-target");
  CHECK(unreachable(ex.registry, ex.tmp / "umoci-target").empty());
  for (const auto& b : unreachable(ex.store, ex.tmp / "umoci-store")) CHECK_MESSAGE(kept_for_records(ex, b), b);

  // The old debug layers' cache entries went with their blobs; no entry names a blob that is
  // gone, and the same build again is all cached.
  CHECK(r.err.find("; 0 cache entries removed") == std::string::npos);
  for (const auto& e : fs::directory_iterator(ex.store / ".flavourgraph/cache/layers")) {
    if (e.path().extension() != ".json") continue;
    CHECK(blobs.count(json::parse(fgtest::read_file(e.path()))["digest"].get<std::string>()));
  }
  auto again = ex.build(ex.meta_arg("m.json"));
  INFO(again.err);
  REQUIRE(again.status == 0);
  json meta = ex.metadata("m.json");  // (a range-for over a temporary's member would dangle)
  for (const auto& t : meta["tasks"]) CHECK_MESSAGE(t["state"] == "cached", t["id"]);
}

TEST_CASE("gc --dry-run lists what gc would remove and changes nothing; gc then removes just that") {
  Example ex;
  build_at(ex, {"2024-01-01-000000", "2024-01-02-000000"});
  auto snapshot = [&] {
    std::map<std::string, std::string> files;
    for (const auto& dir : {ex.store, ex.registry})
      for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file() && e.path().filename() != "lock")
          files[e.path().string()] = fgtest::read_file(e.path());
    return files;
  };
  auto before = snapshot();
  auto dry = fgtest::gc(dirs(ex) + " --keep 1 --dry-run --registry oci:" + quote(ex.registry.string()));
  INFO(dry.out << dry.err);
  REQUIRE(dry.status == 0);
  CHECK(snapshot() == before);
  CHECK(dry.out.find("would remove " + kMw + ":2024-01-01-000000-publish (mediawiki/publish/image): older than the 1 "
                     "newest") != std::string::npos);
  CHECK(dry.err.find("would be freed") != std::string::npos);
  CHECK(dry.err.find("nothing was changed") != std::string::npos);

  auto listed = [](const std::string& out, const std::string& place, const std::string& verb) {
    std::set<std::string> names;
    std::string lead = place + ": " + verb + " ";
    for (size_t at = out.find(lead); at != std::string::npos; at = out.find(lead, at + 1)) {
      size_t from = at + lead.size();
      names.insert(out.substr(from, out.find(' ', from) - from));
    }
    return names;
  };
  std::string store_place = "store " + ex.store.string();
  auto names_before = fgtest::layout_names(ex.store);
  auto real = fgtest::gc(dirs(ex) + " --keep 1 --registry oci:" + quote(ex.registry.string()));
  REQUIRE(real.status == 0);
  std::set<std::string> removed;
  for (const auto& [name, digest] : names_before)
    if (!fgtest::layout_names(ex.store).count(name)) removed.insert(name);
  CHECK(removed.size() == 6);
  CHECK(listed(dry.out, store_place, "would remove") == removed);
  CHECK(listed(real.out, store_place, "removed") == removed);
  std::string target_place = "oci:" + ex.registry.string();
  CHECK(listed(dry.out, target_place, "would remove") == listed(real.out, target_place, "removed"));
  CHECK(fgtest::gc(dirs(ex) + " --keep 1").out.empty());  // nothing left to remove
}

TEST_CASE("gc refuses a store another run holds, naming its pid, and removes nothing") {
  Example ex;
  build_at(ex, {"2024-01-01-000000", "2024-01-02-000000"});
  auto names = fgtest::layout_names(ex.store);
  auto blobs = fgtest::layout_blobs(ex.store);
  auto held = flavourgraph::oci::Layout::open(ex.store, false);
  held->lock();  // as a running build holds it
  auto r = fgtest::gc(dirs(ex) + " --keep 1");
  CHECK(r.status == 1);
  CHECK(r.err.find("is in use by another flavourgraph run (pid " + std::to_string(getpid()) + ")") != std::string::npos);
  CHECK(r.err.find("nothing was removed") != std::string::npos);
  CHECK(fgtest::layout_names(ex.store) == names);
  CHECK(fgtest::layout_blobs(ex.store) == blobs);
  CHECK(fgtest::gc(dirs(ex) + " --keep 1 --dry-run").status == 0);  // a dry run only reads
  held.reset();
  CHECK(fgtest::gc(dirs(ex) + " --keep 1").status == 0);
  CHECK(fgtest::layout_names(ex.store).size() < names.size());
}

TEST_CASE("gc stops before removing anything when its input does not read or its options are wrong") {
  Example ex;
  build_at(ex, {"2024-01-01-000000", "2024-01-02-000000"});
  auto names = fgtest::layout_names(ex.store);
  auto blobs = fgtest::layout_blobs(ex.store);
  auto expect_refused = [&](const std::string& args, const std::string& says) {
    auto r = fgtest::gc(args);
    INFO(args << ": " << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(says) != std::string::npos);
    CHECK(fgtest::layout_names(ex.store) == names);
    CHECK(fgtest::layout_blobs(ex.store) == blobs);
  };
  std::string report = fgtest::read_file(ex.state / "report.json");
  fgtest::write_file(ex.state / "report.json", "{\"mediawiki\": ");
  expect_refused(dirs(ex) + " --keep 1", (ex.state / "report.json").string() + ": not a report.json");
  fgtest::write_file(ex.state / "report.json", report);
  fgtest::write_file(ex.values / "broken.yaml", "main_app: [unclosed\n");
  expect_refused(dirs(ex) + " --keep 1", (ex.values / "broken.yaml").string());
  fs::remove(ex.values / "broken.yaml");
  std::string record = fgtest::read_file(ex.state / "builds/mediawiki/publish/image.json");
  fgtest::write_file(ex.state / "builds/mediawiki/publish/image.json", "[]");
  expect_refused(dirs(ex) + " --keep 1", "builds/mediawiki/publish/image.json");
  fgtest::write_file(ex.state / "builds/mediawiki/publish/image.json", record);
  expect_refused(dirs(ex) + " --keep 0", "--keep");
  expect_refused("--store " + quote(ex.cfg_dir.string()), "is not an OCI image layout");
  expect_refused(dirs(ex) + " --registry https://r.example", "--registry");
  expect_refused(dirs(ex) + " --registry ''", "--registry: is empty");
  expect_refused(dirs(ex) + " --registry oci:" + quote(ex.store.string()), "is the store itself");
  CHECK(fgtest::gc(dirs(ex) + " --keep 1").status == 0);  // all put back: it works
  CHECK(fgtest::layout_names(ex.store).size() < names.size());
}

TEST_CASE("after gc, the RUN builds' cache still holds: the same build again runs no build engine") {
  Example ex(fgtest::RunBases::keep);
  build_at(ex, {"2024-01-01-000000", "2024-01-02-000000"});
  size_t run_entries = 0;
  for (const auto& e : fs::directory_iterator(ex.store / ".flavourgraph/cache/runs")) run_entries += e.path().extension() == ".json";
  REQUIRE(run_entries > 0);
  auto r = fgtest::gc(dirs(ex) + " --keep 1");
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("removed " + kMw + ":2024-01-01-000000-publish ") != std::string::npos);
  auto again = ex.build(ex.meta_arg("m.json"));
  INFO(again.err);
  REQUIRE(again.status == 0);
  json meta = ex.metadata("m.json");
  size_t runs = 0;
  for (const auto& t : meta["tasks"]) {
    CHECK_MESSAGE(t["state"] == "cached", t["id"]);
    runs += t["kind"] == "run";
  }
  CHECK(runs > 0);
}
