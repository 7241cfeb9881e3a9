// --set end to end: the versions to stage, given for one run, decide what the app layer holds
// (read back with skopeo and GNU tar), and `plan` shows the values used.
#include <doctest/doctest.h>

#include "example.h"
#include "test_util.h"

using fgtest::Example;
using fgtest::quote;
using nlohmann::json;

namespace {

/// The paths in the last layer of `ref` in the store, as GNU tar lists them.
std::string last_layer_listing(const Example& ex, const std::string& ref) {
  auto inspect = fgtest::run("skopeo inspect " + quote("oci:" + ex.store.string() + ":" + ref));
  INFO(ref, " ", inspect.err);
  REQUIRE(inspect.status == 0);
  std::string digest = json::parse(inspect.out)["Layers"].back();
  auto tar = fgtest::run("tar -tzf " + quote((ex.store / "blobs/sha256" / digest.substr(7)).string()));
  REQUIRE(tar.status == 0);
  return tar.out;
}

}  // namespace

TEST_CASE("--set: the versions to stage decide the app layer's content; plan shows the values") {
  REQUIRE(fgtest::have_tool("skopeo"));
  Example ex;
  ex.edit_config("layers:\n", "variables:\n  mediawiki_versions: [1.42.0]\n\nlayers:\n");
  ex.edit_config("    incremental: true\n",
                 "    incremental: true\n    include: [\"/php-{mediawiki_versions}\"]\n");
  ex.edit_config("      - .git\n", "      - .git\n      - /php-*\n");
  std::string cfg = " -c " + quote((ex.cfg_dir / "images.yaml").string()) + " --only mediawiki:publish:image";
  std::string both = " --set 'mediawiki_versions=[1.42.0, 1.43.0]'";

  auto plan = fgtest::run(quote(fgtest::binary()) + " plan" + cfg + both);
  INFO(plan.err);
  REQUIRE(plan.status == 0);
  CHECK(plan.out.find("variables: mediawiki_versions=[1.42.0, 1.43.0] (--set)") != std::string::npos);

  const std::string ref = "restricted/mediawiki-multiversion:" + ex.timestamp + "-publish";
  REQUIRE(ex.build("--only mediawiki:publish:image --no-push").status == 0);  // the default: one version
  std::string one = last_layer_listing(ex, ref);
  CHECK(one.find("srv/mediawiki/php-1.42.0/") != std::string::npos);
  CHECK(one.find("srv/mediawiki/php-1.43.0/") == std::string::npos);
  CHECK(one.find("srv/mediawiki/w/") != std::string::npos);  // what no rule names is kept

  auto r = ex.build("--only mediawiki:publish:image --no-push --full" + both);
  INFO(r.err);
  REQUIRE(r.status == 0);
  std::string two = last_layer_listing(ex, ref);
  CHECK(two.find("srv/mediawiki/php-1.42.0/") != std::string::npos);
  CHECK(two.find("srv/mediawiki/php-1.43.0/") != std::string::npos);

  auto bad = ex.build("--only mediawiki:publish:image --no-push --set mediawiki_version=1.44.0");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("did you mean 'mediawiki_versions'?") != std::string::npos);
}
