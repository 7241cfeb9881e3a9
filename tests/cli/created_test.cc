// Images' created time, read back with skopeo: the run's time when the content is new, the
// first build's time when it is not (so a rebuild keeps the digest), SOURCE_DATE_EPOCH when set.
#include <doctest/doctest.h>

#include "example.h"
#include "test_util.h"

using fgtest::Example;
using fgtest::quote;
using nlohmann::json;

namespace {

/// The config of `repo:tag` in the push target, as skopeo reads it.
json config_at(const Example& ex, const std::string& ref) {
  auto r = fgtest::run("skopeo inspect --config " + quote("oci:" + ex.registry.string() + ":" + ref));
  INFO(ref, " ", r.err);
  REQUIRE(r.status == 0);
  return json::parse(r.out);
}

std::string digest_at(const Example& ex, const std::string& ref) {
  auto r = fgtest::run("skopeo inspect " + quote("oci:" + ex.registry.string() + ":" + ref));
  REQUIRE(r.status == 0);
  return json::parse(r.out)["Digest"];
}

const std::string kCreatedMw = "restricted/mediawiki-multiversion";
const std::string kCreatedWeb = "restricted/mediawiki-webserver";

}  // namespace

TEST_CASE("created: the run's time for new content; an unchanged image keeps its first build's time and digest") {
  REQUIRE(fgtest::have_tool("skopeo"));
  Example ex;
  REQUIRE(ex.build().status == 0);
  std::string first = ex.timestamp + "-publish";
  json cfg = config_at(ex, kCreatedMw + ":" + first);
  CHECK(cfg["created"] == "2024-10-29T19:03:15Z");  // not 1970
  CHECK(cfg["history"].back()["created"] == "2024-10-29T19:03:15Z");
  std::string image_digest = digest_at(ex, kCreatedMw + ":" + first);
  std::string web_digest = digest_at(ex, kCreatedWeb + ":" + ex.timestamp + "-webserver");

  // Unchanged, a day later, and again with --no-cache: the same images, created as first built.
  for (const char* extra : {"", "--no-cache"}) {
    ex.timestamp = std::string("2024-10-30-08000") + (extra[0] ? "1" : "0");
    REQUIRE(ex.build(extra).status == 0);
    std::string ref = kCreatedMw + ":" + ex.timestamp + "-publish";
    INFO(ref);
    CHECK(digest_at(ex, ref) == image_digest);
    CHECK(config_at(ex, ref)["created"] == "2024-10-29T19:03:15Z");
  }

  // A changed app: the mediawiki images are new (created now); the webserver is not.
  fgtest::write_file(ex.cfg_dir / "app/w/index.php", "<?php echo 'changed';\n");
  ex.timestamp = "2024-11-05-100000";
  REQUIRE(ex.build().status == 0);
  CHECK(config_at(ex, kCreatedMw + ":2024-11-05-100000-publish")["created"] == "2024-11-05T10:00:00Z");
  CHECK(digest_at(ex, kCreatedWeb + ":2024-11-05-100000-webserver") == web_digest);
  CHECK(config_at(ex, kCreatedWeb + ":2024-11-05-100000-webserver")["created"] == "2024-10-29T19:03:15Z");
}

TEST_CASE("created: SOURCE_DATE_EPOCH fixes every image's time, whatever the run's") {
  REQUIRE(fgtest::have_tool("skopeo"));
  Example ex;
  REQUIRE(ex.build("", "SOURCE_DATE_EPOCH=1700000000").status == 0);
  for (const auto& ref : {kCreatedMw + ":" + ex.timestamp + "-publish", kCreatedWeb + ":" + ex.timestamp + "-webserver"}) {
    INFO(ref);
    json cfg = config_at(ex, ref);
    CHECK(cfg["created"] == "2023-11-14T22:13:20Z");
    CHECK(cfg["history"].back()["created"] == "2023-11-14T22:13:20Z");
  }
}
