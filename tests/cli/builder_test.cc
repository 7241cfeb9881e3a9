// The native builder end to end, through the CLI, checked with independent tools: skopeo
// reads every image, umoci unpacks the files with their content, owner and mode, GNU tar lists
// each layer sorted with the fixed mtime, gzip -t passes.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "flavourgraph/oci/layout.h"
#include "example.h"
#include "test_util.h"

using fgtest::quote;
using fgtest::run;
using nlohmann::json;
namespace fs = std::filesystem;

using fgtest::Example;

namespace {

std::map<std::string, std::string> states(const json& meta) {
  std::map<std::string, std::string> out;
  for (const auto& t : meta["tasks"]) out[t["id"]] = t["state"];
  return out;
}

json index_of(const fs::path& layout) { return json::parse(fgtest::read_file(layout / "index.json")); }

json blob_json(const fs::path& layout, const std::string& digest) {
  return json::parse(fgtest::read_file(layout / "blobs/sha256" / digest.substr(7)));
}

std::string manifest_digest(const fs::path& layout, const std::string& ref) {
  json index = index_of(layout);  // (a range-for over index_of(...)["manifests"] would dangle)
  for (const auto& m : index["manifests"])
    if (m["annotations"]["org.opencontainers.image.ref.name"] == ref) return m["digest"];
  FAIL_CHECK("no manifest named " << ref << " in " << layout);
  return "sha256:" + std::string(64, '0');
}

const char* kPublish81 = "restricted/mediawiki-multiversion:2024-10-29-190315-publish-81";
const char* kPublish = "restricted/mediawiki-multiversion:2024-10-29-190315-publish";

}  // namespace

TEST_CASE("the example builds; skopeo reads every image in the store and the target") {
  REQUIRE(fgtest::have_tool("skopeo"));
  Example ex;
  auto r = ex.build(ex.meta_arg("m.json"));
  INFO(r.err);
  REQUIRE(r.status == 0);
  for (const auto& layout : {ex.store, ex.registry}) {
    auto idx = index_of(layout);
    // 7 images + 4 `latest` tags; at the target also the tree index of each of the 4 images on
    // the incremental app layer, under its referrers tag (repository:sha256-<hex>).
    // And at the target each image's build key (repository:flavourgraph-key-<hex>).
    size_t images = 0, referrers = 0, keys = 0;
    for (const auto& m : idx["manifests"]) {
      std::string name = m["annotations"]["org.opencontainers.image.ref.name"];
      (name.find(":sha256-") != std::string::npos ? referrers : name.find(":flavourgraph-key-") != std::string::npos ? keys : images)++;
    }
    CHECK(images == 11);
    CHECK(referrers == (layout == ex.registry ? 4 : 0));
    CHECK(keys == (layout == ex.registry ? 7 : 0));
    for (const auto& m : idx["manifests"]) {
      std::string ref = m["annotations"]["org.opencontainers.image.ref.name"];
      if (ref.find(":sha256-") != std::string::npos) continue;
      auto s = run("skopeo inspect " + quote("oci:" + layout.string() + ":" + ref));
      CHECK_MESSAGE(s.status == 0, (ref + ": " + s.err));
      if (s.status == 0) CHECK(json::parse(s.out)["Digest"] == m["digest"]);
    }
  }
  // The config carries the kind's settings, the build args as labels, the base's entrypoint.
  auto cfg = json::parse(run("skopeo inspect --config " + quote("oci:" + ex.store.string() + ":" + kPublish81)).out);
  CHECK(cfg["config"]["User"] == "33");
  CHECK(cfg["config"]["WorkingDir"] == "/srv/mediawiki");
  CHECK(cfg["config"]["Labels"]["io.flavourgraph.arg.PHP_VERSION"] == "8.1");
  CHECK(cfg["config"]["Labels"]["org.example.mediawiki.php.version"] == "8.1");
  CHECK(cfg["config"]["Cmd"] == json::array({"php-fpm8.1", "-F"}));
  auto env = cfg["config"]["Env"].get<std::vector<std::string>>();
  CHECK(std::count(env.begin(), env.end(), "PHP_VERSION=8.1") == 1);
  CHECK(cfg["rootfs"]["diff_ids"].size() == 3);
  CHECK(cfg["history"].size() == 3);
  // The webserver base is an index: linux/amd64 was picked.
  auto web = json::parse(run("skopeo inspect " + quote("oci:" + ex.registry.string() + ":restricted/mediawiki-webserver:latest")).out);
  CHECK(web["Architecture"] == "amd64");
}

TEST_CASE("umoci unpacks the source files with their content, owner and mode") {
  REQUIRE(fgtest::have_tool("umoci"));
  Example ex;
  ::chmod((ex.cfg_dir / "app/w/index.php").c_str(), 0640);
  REQUIRE(ex.build().status == 0);
  auto bundle = ex.tmp / "bundle";
  auto u = run("umoci unpack --image " + quote(ex.store.string() + ":" + std::string(kPublish81)) + " " + quote(bundle.string()));
  REQUIRE_MESSAGE(u.status == 0, u.err);
  fs::path app = bundle / "rootfs/srv/mediawiki";
  auto diff = run("diff -r --no-dereference -x upstream " + quote((ex.cfg_dir / "app").string()) + " " + quote(app.string()));
  CHECK_MESSAGE(diff.status == 0, diff.out);
  CHECK_FALSE(fs::exists(app / "php-1.43.0/cache/l10n/upstream"));  // excluded by **/cache/l10n/upstream
  CHECK(fs::exists(app / "php-1.43.0/cache"));
  struct stat st {};
  REQUIRE(::lstat((app / "w/index.php").c_str(), &st) == 0);
  CHECK(st.st_uid == 33);
  CHECK(st.st_gid == 33);
  CHECK((st.st_mode & 07777) == 0640);
  REQUIRE(::lstat((app / "w/static").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(fs::read_symlink(app / "w/static") == "../docroot/static");
  // The base's files are there too; /srv stays root's.
  CHECK(fs::exists(bundle / "rootfs/usr/sbin/php-fpm8.1"));
  REQUIRE(::lstat((bundle / "rootfs/srv").c_str(), &st) == 0);
  CHECK(st.st_uid == 0);
}

TEST_CASE("layers: tar lists entries sorted with the fixed mtime; gzip -t passes; one app layer") {
  Example ex;
  REQUIRE(ex.build(ex.meta_arg("m.json"), "SOURCE_DATE_EPOCH=1700000000").status == 0);
  auto m81 = blob_json(ex.store, manifest_digest(ex.store, kPublish81));
  auto m74 = blob_json(ex.store, manifest_digest(ex.store, kPublish));
  auto cli81 = blob_json(ex.store, manifest_digest(ex.store, "restricted/mediawiki-multiversion-cli:2024-10-29-190315-publish-81"));
  std::string app = m81["layers"].back()["digest"];
  // The two flavours' images (and the cli kind) share the app layer's digest...
  CHECK(m74["layers"].back()["digest"] == app);
  CHECK(cli81["layers"].back()["digest"] == app);
  // ...and it was built once: one layer task for it in the metadata.
  size_t app_tasks = 0;
  json meta = ex.metadata("m.json");
  for (const auto& t : meta["tasks"])
    if (t["kind"] == "layer" && t.contains("output") && t["output"] == app) ++app_tasks;
  CHECK(app_tasks == 1);

  for (const auto& layer : m81["layers"]) {
    std::string blob = (ex.store / "blobs/sha256" / layer["digest"].get<std::string>().substr(7)).string();
    CHECK(run("gzip -t " + quote(blob)).status == 0);
  }
  std::string blob = (ex.store / "blobs/sha256" / app.substr(7)).string();
  auto names = run("tar -tzf " + quote(blob));
  std::vector<std::string> rows;
  std::istringstream in(names.out);
  for (std::string l; std::getline(in, l);) rows.push_back(l);
  auto sorted = rows;
  std::sort(sorted.begin(), sorted.end());
  CHECK(rows == sorted);
  CHECK(rows.front() == "srv/");
  auto verbose = run("LC_ALL=C TZ=UTC tar --full-time -tvzf " + quote(blob));
  std::istringstream vin(verbose.out);
  size_t n = 0;
  for (std::string l; std::getline(vin, l); ++n) CHECK(l.find("2023-11-14 22:13:20") != std::string::npos);
  CHECK(n == rows.size());
}

TEST_CASE("two builds of the same tree with the same timestamp give identical digests") {
  Example a, b;
  fs::remove_all(b.cfg_dir);
  fs::copy(a.cfg_dir, b.cfg_dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  REQUIRE(a.build().status == 0);
  REQUIRE(b.build().status == 0);
  for (const char* ref : {kPublish81, kPublish, "restricted/mediawiki-webserver:latest"}) {
    std::string da = manifest_digest(a.store, ref);
    CHECK(da.size() == 71);
    CHECK(da == manifest_digest(b.store, ref));
  }
  CHECK(fgtest::read_file(a.store / "index.json") == fgtest::read_file(b.store / "index.json"));
}

TEST_CASE("nothing changed: nothing rebuilt; one file changed: its layer and images only") {
  Example ex;
  REQUIRE(ex.build(ex.meta_arg("1.json")).status == 0);
  auto second = ex.build(ex.meta_arg("2.json"));
  REQUIRE(second.status == 0);
  for (const auto& [id, state] : states(ex.metadata("2.json"))) CHECK_MESSAGE(state == "cached", id);

  fgtest::write_file(ex.cfg_dir / "app/w/index.php", "<?php // changed\n");
  REQUIRE(ex.build(ex.meta_arg("3.json")).status == 0);
  auto s = states(ex.metadata("3.json"));
  size_t layers_done = 0;
  for (const auto& [id, state] : s)
    if (id.rfind("layer:", 0) == 0 && state == "done") ++layers_done;
  CHECK(layers_done == 1);
  CHECK(s["build:mediawiki:publish-81:image"] == "done");
  CHECK(s["build:mediawiki:publish:debug-image"] == "done");  // built on a changed image
  CHECK(s["build:webserver:webserver:image"] == "cached");
  CHECK(s["push:webserver:webserver:image"] == "cached");

  REQUIRE(ex.build(ex.meta_arg("4.json") + " --no-cache").status == 0);
  for (const auto& [id, state] : states(ex.metadata("4.json")))
    if (id.rfind("layer:", 0) == 0) CHECK(state == "done");
}

TEST_CASE("a store in use by another run is refused with a clear error") {
  Example ex;
  auto held = flavourgraph::oci::Layout::open(ex.store, true);
  held->lock();
  auto r = ex.build();
  CHECK(r.status == 1);  // not the configuration's fault
  CHECK(r.err.find("is in use by another flavourgraph run (pid " + std::to_string(getpid()) + ")") != std::string::npos);
}

TEST_CASE("a missing layer source is a configuration error before any work") {
  Example ex;
  fs::remove_all(ex.cfg_dir / "webserver");
  auto r = ex.build();
  CHECK(r.status == 2);
  CHECK(r.err.find("source 'webserver'") != std::string::npos);
  CHECK_FALSE(fs::exists(ex.store / "index.json"));
}

TEST_CASE("a whiteout name in a source tree stops the layer, naming the file") {
  Example ex;
  fgtest::write_file(ex.cfg_dir / "app/w/.wh.cache", "x");
  auto r = ex.build();
  CHECK(r.status == 1);
  CHECK(r.err.find("app/w/.wh.cache: a name starting with .wh. is a whiteout") != std::string::npos);
}

TEST_CASE("SIGINT during a real layer build: exit 130, the layer cancelled, no temp file left") {
  Example ex;
  fgtest::write_incompressible(ex.cfg_dir / "app/big.bin", 48u << 20);
  bool sent = false;
  auto r = fgtest::run_watching(
      quote(fgtest::binary()) + " build -c " + quote((ex.cfg_dir / "images.yaml").string()) + " -d " +
          quote((ex.cfg_dir / "deployments.yaml").string()) + " --store " + quote(ex.store.string()) +
          " --registry oci:" + quote(ex.registry.string()) + " --state-dir " + quote(ex.state.string()) +
          " --values-dir " + quote(ex.values.string()) + " -j 1 --progress json" + ex.meta_arg("m.json"),
      [&](const std::string& line, int pid) {
        if (!sent && fgtest::starts_kind(line, "layer")) sent = kill(pid, SIGINT) == 0;
      });
  REQUIRE(sent);
  CHECK(r.status == 130);
  auto meta = ex.metadata("m.json");
  CHECK(meta["interrupted"] == true);
  size_t cancelled = 0;
  for (const auto& t : meta["tasks"]) {
    CHECK(t["state"] != "failed");
    cancelled += t["state"] == "cancelled";
  }
  CHECK(cancelled > 0);
  CHECK(fs::is_empty(ex.store / ".flavourgraph/tmp"));
  for (const auto& e : fs::directory_iterator(ex.store))
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
}
