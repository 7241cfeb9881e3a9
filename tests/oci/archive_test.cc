// oci-archive files: written from a layout, read back into another, checked with GNU tar;
// altered, incomplete and truncated archives are refused.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "flavourgraph/oci/archive.h"
#include "flavourgraph/oci/layout.h"
#include "test_util.h"

using namespace flavourgraph;
using namespace flavourgraph::oci;
using fgtest::quote;
using fgtest::run;

namespace {

/// Bytes that occur once in an archive: the layer's content.
const std::string kLayerContent = "archive-test layer content: 7f3a9c1e-unique-marker\n";

/// A one-layer image in a fresh layout.
struct Image {
  std::unique_ptr<Layout> store;
  Descriptor manifest, config, layer;

  explicit Image(const std::filesystem::path& dir) {
    store = Layout::open(dir, true);
    layer = store->put_blob(kLayerContent, media::kLayerTar);
    nlohmann::json cfg = {{"architecture", "amd64"},
                          {"os", "linux"},
                          {"rootfs", {{"type", "layers"}, {"diff_ids", {layer.digest.str()}}}}};
    config = store->put_blob(canonical(cfg), media::kConfig);
    nlohmann::json m = {{"schemaVersion", 2},
                        {"mediaType", media::kManifest},
                        {"config", config.to_json()},
                        {"layers", nlohmann::json::array({layer.to_json()})}};
    manifest = store->put_blob(canonical(m), media::kManifest);
  }

  [[nodiscard]] std::vector<Descriptor> blobs() const { return {manifest, config, layer}; }
};


/// Flips one byte of the first occurrence of `needle` in the file; false when it is absent.
bool flip_byte_of(const std::filesystem::path& file, const std::string& needle) {
  std::string bytes = fgtest::read_file(file);
  size_t at = bytes.find(needle);
  if (at == std::string::npos || bytes.find(needle, at + 1) != std::string::npos) return false;
  bytes[at + needle.size() / 2] ^= 0x20;
  fgtest::write_file(file, bytes);
  return true;
}

}  // namespace

TEST_CASE("archive: an image goes through an oci-archive into another layout") {
  fgtest::TempDir tmp;
  Image img(tmp / "from");
  auto archive = tmp / "image.tar";
  write_oci_archive(*img.store, img.manifest, "repo/app:tag", archive);
  CHECK_FALSE(std::filesystem::exists(tmp / "image.tar.tmp"));

  auto into = Layout::open(tmp / "into", true);
  for (const auto& b : img.blobs()) REQUIRE_FALSE(into->has_blob(b.digest));
  Descriptor got = import_oci_archive(archive, *into);
  CHECK(got.digest == img.manifest.digest);
  CHECK(got.size == img.manifest.size);
  CHECK(got.media_type == std::string(media::kManifest));
  for (const auto& b : img.blobs()) {
    CAPTURE(b.digest.str());
    CHECK(into->has_blob(b.digest, b.size));
  }
  CHECK(into->read_blob(img.layer.digest) == kLayerContent);
  CHECK(std::filesystem::is_empty(into->tmp_dir()));
}

TEST_CASE("archive: GNU tar reads the archive") {
  fgtest::TempDir tmp;
  Image img(tmp / "from");
  auto archive = tmp / "image.tar";
  write_oci_archive(*img.store, img.manifest, "repo/app:tag", archive);

  auto listed = run("tar -tf " + quote(archive.string()));
  INFO(listed.err);
  REQUIRE(listed.status == 0);
  auto names = fgtest::lines(listed.out);
  std::set<std::string> set(names.begin(), names.end());
  CHECK(set.size() == names.size());  // each entry once, though the image has three blobs
  CHECK(set.count("oci-layout") == 1);
  CHECK(set.count("index.json") == 1);
  for (const auto& b : img.blobs()) CHECK(set.count("blobs/sha256/" + b.digest.hex) == 1);

  auto index = run("tar -xOf " + quote(archive.string()) + " index.json");
  REQUIRE(index.status == 0);
  auto j = nlohmann::json::parse(index.out);
  REQUIRE(j["manifests"].size() == 1);
  CHECK(j["manifests"][0]["digest"] == img.manifest.digest.str());
  CHECK(j["manifests"][0]["annotations"][std::string(kRefNameAnnotation)] == "repo/app:tag");
  auto layer = run("tar -xOf " + quote(archive.string()) + " blobs/sha256/" + img.layer.digest.hex);
  CHECK(layer.out == kLayerContent);
}

TEST_CASE("archive: an archive written by GNU tar (./ names, gnu, pax and ustar formats) is read") {
  fgtest::TempDir tmp;
  Image img(tmp / "from");
  write_oci_archive(*img.store, img.manifest, "repo/app:tag", tmp / "image.tar");
  std::filesystem::create_directories(tmp / "x");
  std::string format;
  SUBCASE("gnu") { format = "gnu"; }
  SUBCASE("pax") { format = "pax"; }  // extended headers before each entry
  SUBCASE("ustar") { format = "ustar"; }
  auto repack = run("tar -C " + quote((tmp / "x").string()) + " -xf " + quote((tmp / "image.tar").string()) +
                    " && tar --format=" + format + " -C " + quote((tmp / "x").string()) + " -cf " +
                    quote((tmp / "gnu.tar").string()) + " .");
  INFO(repack.err);
  REQUIRE(repack.status == 0);
  auto into = Layout::open(tmp / "into", true);
  CHECK(import_oci_archive(tmp / "gnu.tar", *into).digest == img.manifest.digest);
  for (const auto& b : img.blobs()) CHECK(into->has_blob(b.digest, b.size));
}

TEST_CASE("archive: altered blob bytes are refused") {
  fgtest::TempDir tmp;
  Image img(tmp / "from");
  auto archive = tmp / "image.tar";
  write_oci_archive(*img.store, img.manifest, "repo/app:tag", archive);
  REQUIRE(flip_byte_of(archive, kLayerContent));

  auto into = Layout::open(tmp / "into", true);
  CHECK_THROWS_WITH_AS(import_oci_archive(archive, *into), doctest::Contains(archive.string().c_str()), StoreError);
  CHECK_FALSE(into->has_blob(img.layer.digest));
  CHECK(std::filesystem::is_empty(into->tmp_dir()));
}

TEST_CASE("archive: an archive without index.json is refused") {
  fgtest::TempDir tmp;
  Image img(tmp / "from");
  write_oci_archive(*img.store, img.manifest, "repo/app:tag", tmp / "image.tar");
  std::filesystem::create_directories(tmp / "x");
  auto repack = run("tar -C " + quote((tmp / "x").string()) + " -xf " + quote((tmp / "image.tar").string()) +
                    " && tar -C " + quote((tmp / "x").string()) + " -cf " + quote((tmp / "noindex.tar").string()) +
                    " oci-layout blobs");
  INFO(repack.err);
  REQUIRE(repack.status == 0);
  auto into = Layout::open(tmp / "into", true);
  CHECK_THROWS_WITH_AS(import_oci_archive(tmp / "noindex.tar", *into), doctest::Contains("no index.json"), StoreError);
}

TEST_CASE("archive: an archive missing a blob its manifest names is refused") {
  fgtest::TempDir tmp;
  Image img(tmp / "from");
  write_oci_archive(*img.store, img.manifest, "repo/app:tag", tmp / "image.tar");
  std::filesystem::create_directories(tmp / "x");
  std::string layer = "blobs/sha256/" + img.layer.digest.hex;
  auto repack = run("tar -C " + quote((tmp / "x").string()) + " -xf " + quote((tmp / "image.tar").string()) +
                    " && rm " + quote((tmp / "x" / layer).string()) + " && tar -C " + quote((tmp / "x").string()) +
                    " -cf " + quote((tmp / "nolayer.tar").string()) + " .");
  INFO(repack.err);
  REQUIRE(repack.status == 0);
  auto into = Layout::open(tmp / "into", true);
  std::string missing = "blob " + img.layer.digest.str() + " is missing";
  CHECK_THROWS_WITH_AS(import_oci_archive(tmp / "nolayer.tar", *into), doctest::Contains(missing.c_str()), StoreError);
}

TEST_CASE("archive: a truncated archive is refused") {
  fgtest::TempDir tmp;
  Image img(tmp / "from");
  auto archive = tmp / "image.tar";
  write_oci_archive(*img.store, img.manifest, "repo/app:tag", archive);
  auto full = std::filesystem::file_size(archive);
  std::string bytes = fgtest::read_file(archive);
  size_t layer_at = bytes.find(kLayerContent);
  REQUIRE(layer_at != std::string::npos);

  uint64_t size = 0;
  SUBCASE("inside a blob") { size = layer_at + 10; }
  SUBCASE("inside a header") { size = 700; }
  SUBCASE("before the end marker") { size = full - 1024; }  // every blob whole: only the end is missing
  SUBCASE("empty") { size = 0; }
  std::filesystem::resize_file(archive, size);
  auto into = Layout::open(tmp / "into", true);
  CHECK_THROWS_AS(import_oci_archive(archive, *into), StoreError);
  CHECK(into->has_blob(img.layer.digest) == (size > layer_at + kLayerContent.size()));  // only verified blobs kept
  CHECK(std::filesystem::is_empty(into->tmp_dir()));
}

TEST_CASE("archive: a missing file and a manifest not in the store are errors") {
  fgtest::TempDir tmp;
  auto into = Layout::open(tmp / "into", true);
  CHECK_THROWS_AS(import_oci_archive(tmp / "absent.tar", *into), StoreError);

  Image img(tmp / "from");
  Descriptor elsewhere{std::string(media::kManifest), Digest::sha256_of("not stored"), 10, {}, std::nullopt, {}};
  CHECK_THROWS(write_oci_archive(*img.store, elsewhere, "x:y", tmp / "out.tar"));
  CHECK_FALSE(std::filesystem::exists(tmp / "out.tar"));
}
