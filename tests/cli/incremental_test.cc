// Incremental layers end to end: the image a delta makes, unpacked by umoci, is the tree and is
// the full build's; each rule that forces a full build does and says so; a fresh machine builds
// the same delta from the tree index published at a real registry.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <map>
#include <nlohmann/json.hpp>

#include "example.h"
#include "flavourgraph/oci/layout.h"
#include "registry_server.h"
#include "test_util.h"

using fgtest::Example;
using fgtest::quote;
using fgtest::run;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kImage = "restricted/mediawiki-multiversion";

/// Unpacks `layout`:`ref` with umoci into `dir`; returns its rootfs.
fs::path unpack(const fs::path& layout, const std::string& ref, const fs::path& dir) {
  auto r = run("umoci unpack --image " + quote(layout.string() + ":" + ref) + " " + quote(dir.string()));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  return dir / "rootfs";
}

/// Every entry below `dir`: path, type, mode, link target (owners too when `owners`).
std::string listing(const fs::path& dir, bool owners) {
  std::string fmt = owners ? "%P %y %m %U:%G %l\\n" : "%P %y %m %l\\n";
  return run("cd " + quote(dir.string()) + " && find . -mindepth 1 -printf '" + fmt + "' | sort").out;
}

/// The mutations a delta must carry, on the example's app tree.
void prepare_tree(const fs::path& app) {
  fgtest::write_file(app / "w/edit.php", "<?php echo 'old';\n");
  fgtest::write_file(app / "w/delete.php", "<?php echo 'gone';\n");
  fgtest::write_file(app / "w/becomes_dir", "a file\n");
  fgtest::write_file(app / "w/becomes_file/inner.php", "<?php\n");
  fgtest::write_file(app / "w/mode.sh", "#!/bin/sh\n");
  fgtest::write_file(app / "w/hard_a", "linked content\n");
  fgtest::write_file(app / "cleared/one", "1\n");
  fgtest::write_file(app / "cleared/two", "2\n");
  fs::create_symlink("edit.php", app / "w/link");
}

void mutate_tree(const fs::path& app) {
  fgtest::write_file(app / "w/edit.php", "<?php echo 'new';\n");
  fs::remove(app / "w/delete.php");
  fs::remove(app / "w/becomes_dir");
  fgtest::write_file(app / "w/becomes_dir/child.php", "<?php\n");
  fs::remove_all(app / "w/becomes_file");
  fgtest::write_file(app / "w/becomes_file", "now a file\n");
  ::chmod((app / "w/mode.sh").c_str(), 0755);
  fs::create_hard_link(app / "w/hard_a", app / "w/hard_b");
  fs::remove(app / "cleared/one");
  fs::remove(app / "cleared/two");
  fs::remove(app / "w/link");
  fs::create_symlink("mode.sh", app / "w/link");
  fgtest::write_file(app / "newdir/added.php", "<?php echo 'added';\n");
}

}  // namespace

TEST_CASE("an incremental image equals the tree and the full build's image (umoci, diff -r)") {
  REQUIRE(fgtest::have_tool("umoci"));
  Example ex;
  prepare_tree(ex.cfg_dir / "app");
  REQUIRE(ex.build().status == 0);
  mutate_tree(ex.cfg_dir / "app");
  ex.timestamp = "2024-11-05-100000";
  auto r = ex.build("--explain" + ex.meta_arg("m.json"));
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto tasks = fgtest::tasks_by_id(ex.metadata("m.json"));
  CHECK(tasks["build:mediawiki:publish:image"]["reason"].get<std::string>().rfind("delta on", 0) == 0);
  CHECK(r.err.find("explain: build:mediawiki:publish:image: delta on") != std::string::npos);
  std::string tag = std::string(kImage) + ":2024-11-05-100000-publish";
  auto manifest = json::parse(run("skopeo inspect --raw " + quote("oci:" + ex.registry.string() + ":" + tag)).out);
  auto config = json::parse(run("skopeo inspect --config " + quote("oci:" + ex.registry.string() + ":" + tag)).out);
  CHECK(config["config"]["Labels"]["io.flavourgraph.build-type"] == "incremental");
  CHECK(config["config"]["Labels"]["io.flavourgraph.parent-image"].get<std::string>().ends_with(
      ":2024-10-29-190315-publish"));

  // The same tree, built whole elsewhere.
  Example whole;
  fs::remove_all(whole.cfg_dir);
  fs::copy(ex.cfg_dir, whole.cfg_dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  whole.timestamp = ex.timestamp;
  REQUIRE(whole.build("--full").status == 0);

  auto inc = unpack(ex.registry, tag, ex.tmp / "inc") / "srv/mediawiki";
  auto full = unpack(whole.registry, tag, ex.tmp / "full") / "srv/mediawiki";
  CHECK(run("diff -r --no-dereference " + quote(inc.string()) + " " + quote(full.string())).status == 0);
  CHECK(listing(inc, true) == listing(full, true));
  auto against_tree = run("diff -r --no-dereference -x upstream " + quote(inc.string()) + " " +
                          quote((ex.cfg_dir / "app").string()));
  CHECK_MESSAGE(against_tree.status == 0, against_tree.out);
  // Modes and links as in the tree (owners are the layer's, 33:33, there).
  std::string tree = "\n" + listing(ex.cfg_dir / "app", false);
  std::string image = "\n" + listing(inc, false);
  for (const char* p : {"\nw/mode.sh f 755", "\nw/link l 777 mode.sh", "\nw/becomes_dir d", "\nw/becomes_file f",
                        "\ncleared d", "\nnewdir/added.php f"}) {
    CHECK_MESSAGE(image.find(p) != std::string::npos, p);
    CHECK_MESSAGE(tree.find(p) != std::string::npos, p);
  }
  CHECK(image.find("w/delete.php") == std::string::npos);
  CHECK(image.find("cleared/one") == std::string::npos);
  struct stat a {}, b {};
  REQUIRE(::stat((inc / "w/hard_a").c_str(), &a) == 0);
  REQUIRE(::stat((inc / "w/hard_b").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
  CHECK(manifest["layers"].size() == json::parse(run("skopeo inspect --raw " + quote("oci:" + whole.registry.string() +
                                                                                      ":" + tag))
                                                     .out)["layers"]
                                             .size() +
                                         1);
}

TEST_CASE("each rule that forces a full build does, and says which") {
  Example ex;
  auto build = [&](const std::string& stamp, const std::string& extra = "") {
    ex.timestamp = stamp;
    auto r = ex.build(extra + ex.meta_arg("m.json"));
    INFO(r.err);
    REQUIRE(r.status == 0);
    return fgtest::tasks_by_id(ex.metadata("m.json"))["build:mediawiki:publish:image"]["reason"].get<std::string>();
  };
  auto images_yaml = [&] { return fgtest::read_file(ex.cfg_dir / "images.yaml"); };
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = images_yaml();
    auto p = s.find(from);
    REQUIRE(p != std::string::npos);
    s.replace(p, from.size(), to);
    fgtest::write_file(ex.cfg_dir / "images.yaml", s);
  };
  CHECK(build("2024-11-01-000000") == "full layer: no previous build");
  fgtest::write_file(ex.cfg_dir / "app/w/index.php", "<?php echo 'a';\n");
  CHECK(build("2024-11-02-000000").rfind("delta on", 0) == 0);
  CHECK(build("2024-11-03-000000", "--full ") == "full layer: --full");
  fgtest::write_file(ex.cfg_dir / "app/w/index.php", "<?php echo 'b';\n");
  CHECK(build("2024-11-04-000000").rfind("delta on", 0) == 0);
  fgtest::write_file(ex.cfg_dir / "app/w/index.php", "<?php echo 'b2';\n");  // else published already
  CHECK(build("2024-11-05-000000", "--max-layers 3 ").find("layers (max_layers 3)") != std::string::npos);
  fgtest::write_file(ex.cfg_dir / "app/big.bin", std::string(1 << 20, 'x'));  // far more than 25 % of the tree
  CHECK(build("2024-11-06-000000").find("max_delta 25 %") != std::string::npos);
  replace("base: \"oci:bases:php{PHP_VERSION}-fpm-multiversion-base\"", "base: \"oci:bases:php8.1-fpm-multiversion-base\"");
  CHECK(build("2024-11-07-000000").find("the base changed") != std::string::npos);
  replace("      - .git\n", "      - .git\n      - \"*.bin\"\n");
  CHECK(build("2024-11-08-000000").find("dest, owner, filters or compression changed") != std::string::npos);
  replace("            org.example.mediawiki.php.version: \"{PHP_VERSION}\"\n",
          "            org.example.mediawiki.php.version: \"{PHP_VERSION}\"\n            org.example.extra: \"1\"\n");
  CHECK(build("2024-11-09-000000").find("settings") != std::string::npos);
  // And after each full build, deltas again.
  fgtest::write_file(ex.cfg_dir / "app/w/index.php", "<?php echo 'c';\n");
  CHECK(build("2024-11-10-000000").rfind("delta on", 0) == 0);
}

TEST_CASE("a fresh machine builds the same delta from the index published at the registry, downloading no layer") {
  REQUIRE(fgtest::have_tool("docker-registry"));
  fgtest::RegistryServer reg;
  fgtest::TempDir tmp;
  fs::copy(fgtest::source_dir() + "/configs/example", tmp / "cfg", fs::copy_options::recursive);
  {  // a tag template with more than the timestamp and the flavour in it
    std::string images = fgtest::read_file(tmp / "cfg/images.yaml");
    auto at = images.find("tag: \"{timestamp}-{flavour}\"");
    REQUIRE(at != std::string::npos);
    images.replace(at, std::string("tag: \"{timestamp}-{flavour}\"").size(), "tag: \"{timestamp}-{flavour}-{kind}\"");
    fgtest::write_file(tmp / "cfg/images.yaml", images);
  }
  auto build = [&](const std::string& machine, const std::string& stamp, const std::string& extra = "") {
    fs::create_directories(tmp / machine);  // the metadata file's directory must exist
    auto r = run(quote(fgtest::binary()) + " build -c " + quote((tmp / "cfg/images.yaml").string()) + " -d " +
                 quote((tmp / "cfg/deployments.yaml").string()) + " --store " + quote((tmp / machine / "store").string()) +
                 " --state-dir " + quote((tmp / machine / "state").string()) + " --values-dir " +
                 quote((tmp / machine / "values").string()) + " --registry " + reg.address() +
                 " --insecure-registry " + reg.address() + " --timestamp " + stamp + " --progress quiet" +
                 " --metadata-file " + quote((tmp / machine / "m.json").string()) + " " + extra);
    INFO(r.err);
    REQUIRE(r.status == 0);
    return fgtest::tasks_by_id(json::parse(fgtest::read_file(tmp / machine / "m.json")));
  };
  build("a", "2024-10-29-190315");
  fs::copy_file(tmp / "a/state/report.json", tmp / "first-report.json");
  fgtest::write_file(tmp / "cfg/app/w/index.php", "<?php echo 'changed';\n");
  auto on_a = build("a", "2024-11-05-100000");
  // No store, no state: the previous image from the registry's tags (b) or a report (c). The
  // images a pushed are under their build keys: --ignore-published builds them again.
  auto on_b = build("b", "2024-11-05-100000", "--ignore-published");
  auto on_c = build("c", "2024-11-05-100000",
                    "--ignore-published --previous-report " + quote((tmp / "first-report.json").string()));
  std::string id = "build:mediawiki:publish:image";
  for (auto* t : {&on_a, &on_b, &on_c}) {
    INFO((*t)[id]["reason"].get<std::string>());
    CHECK((*t)[id]["reason"].get<std::string>().rfind("delta on", 0) == 0);
    CHECK((*t)[id]["output"] == on_a[id]["output"]);  // the same image, byte for byte
  }
  // Machine b never downloaded the previous image's layers (only its manifest, config, index).
  auto first = json::parse(run("skopeo inspect --raw --tls-verify=false " +
                               quote("docker://" + reg.address() + "/restricted/mediawiki-multiversion:2024-10-29-190315-publish-image"))
                               .out);
  std::string app_layer = first["layers"].back()["digest"];
  CHECK_FALSE(fs::exists(tmp / "b/store/blobs/sha256" / app_layer.substr(7)));
  CHECK(fs::exists(tmp / "a/store/blobs/sha256" / app_layer.substr(7)));
  CHECK(on_b["push:mediawiki:publish:image"]["bytes_out"].get<uint64_t>() < 10000);  // the delta, not the tree
}

TEST_CASE("a damaged tree index in the store gives a full layer and says why; a failed base fails only its images") {
  Example ex;
  REQUIRE(ex.build().status == 0);
  json rec = json::parse(fgtest::read_file(ex.state / "builds/mediawiki/publish/image.json"));
  fs::path blob = ex.store / "blobs/sha256" / rec["incremental"]["index"]["digest"].get<std::string>().substr(7);
  fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
  fgtest::write_file(blob, "garbage");
  fgtest::write_file(ex.cfg_dir / "app/w/index.php", "<?php echo 'x';\n");
  ex.timestamp = "2024-11-05-100000";
  auto r = ex.build(ex.meta_arg("m.json"));
  INFO(r.err);
  CHECK(r.status == 0);
  auto tasks = fgtest::tasks_by_id(ex.metadata("m.json"));
  CHECK(tasks["build:mediawiki:publish:image"]["reason"].get<std::string>().rfind("full layer:", 0) == 0);

  // -k with the PHP 8.1 base failing: the shared app layer still runs (it builds whole what
  // it cannot compare), and the PHP 7.4 images are built.
  fgtest::write_file(ex.cfg_dir / "app/w/index.php", "<?php echo 'y';\n");
  ex.timestamp = "2024-11-06-100000";
  auto k = ex.build("-k --fail base-pull:oci:bases:php8.1-fpm-multiversion-base" + ex.meta_arg("k.json"));
  CHECK(k.status == 1);
  auto after = fgtest::tasks_by_id(ex.metadata("k.json"));
  CHECK(after["build:mediawiki:publish:image"]["state"] == "done");
  CHECK(after["build:mediawiki:publish-81:image"]["state"] == "skipped");
}

TEST_CASE("the tree index goes beside what other tools attached to the image, and survives a rebuild") {
  Example ex;
  REQUIRE(ex.build().status == 0);
  json index = json::parse(fgtest::read_file(ex.registry / "index.json"));
  std::string ref;
  for (const auto& m : index["manifests"]) {
    std::string name = m["annotations"]["org.opencontainers.image.ref.name"];
    if (name.rfind(std::string(kImage) + ":sha256-", 0) == 0) ref = name;
  }
  REQUIRE_FALSE(ref.empty());
  // Another tool's referrer (a signature, say), added to the referrers index by hand.
  auto layout = flavourgraph::oci::Layout::open(ex.registry, false);
  auto referrers = json::parse(layout->read_blob(layout->resolve(ref)->digest));
  json signature = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                    {"digest", "sha256:" + std::string(64, 'e')},
                    {"size", 10},
                    {"artifactType", "application/vnd.example.signature"}};
  referrers["manifests"].push_back(signature);
  std::string text = referrers.dump();
  layout->lock();
  auto d = layout->put_blob(text, "application/vnd.oci.image.index.v1+json");
  layout->set_ref(ref, d);
  layout.reset();
  ex.timestamp = "2024-11-05-100000";  // unchanged tree: the same images, pushed again
  REQUIRE(ex.build("--ignore-published").status == 0);
  auto again = flavourgraph::oci::Layout::open(ex.registry, false);
  auto now = json::parse(again->read_blob(again->resolve(ref)->digest));
  REQUIRE(now["manifests"].size() == 2);
  CHECK(now["manifests"][0]["artifactType"] == "application/vnd.example.signature");
  CHECK(now["manifests"][1]["artifactType"] == "application/vnd.flavourgraph.tree-index.v1");
}
