// `flavourgraph gc --registry` against a real registry (Debian's docker-registry on 127.0.0.1),
// checked with skopeo: images not kept are deleted by digest with their referrers tags, kept
// images still pull; a dry run changes nothing; a registry that does not allow deletes is said
// so, and the store is cleaned all the same.
#include <doctest/doctest.h>

#include "example.h"
#include "gc_util.h"
#include "registry_server.h"

using fgtest::Example;
using fgtest::quote;
using fgtest::run;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kRegistryMw = "restricted/mediawiki-multiversion";

/// Builds the example at each time into `address`, its app changed before each build.
void build_at(Example& ex, const std::string& address, const std::vector<std::string>& stamps) {
  for (const auto& s : stamps) {
    fgtest::write_file(ex.cfg_dir / "app/w/gc.txt", s);
    auto r = run(quote(fgtest::binary()) + " build -c " + quote((ex.cfg_dir / "images.yaml").string()) + " -d " +
                 quote((ex.cfg_dir / "deployments.yaml").string()) + " --store " + quote(ex.store.string()) +
                 " --state-dir " + quote(ex.state.string()) + " --values-dir " + quote(ex.values.string()) +
                 " --registry " + address + " --insecure-registry " + address + " --timestamp " + s +
                 " --progress quiet");
    INFO(r.err);
    REQUIRE(r.status == 0);
  }
}

std::string gc_args(const Example& ex, const std::string& address) {
  return "--store " + quote(ex.store.string()) + " --state-dir " + quote(ex.state.string()) + " --values-dir " +
         quote(ex.values.string()) + " --keep 1 --registry " + address + " --insecure-registry " + address;
}

std::set<std::string> tags(const std::string& address, const std::string& repo) {
  auto r = run("skopeo list-tags --tls-verify=false " + quote("docker://" + address + "/" + repo));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  std::set<std::string> out;
  json listed = json::parse(r.out);  // (a range-for over a temporary's member would dangle)
  for (const auto& t : listed["Tags"]) out.insert(t.get<std::string>());
  return out;
}

std::string digest_of(const std::string& address, const std::string& ref) {
  auto r = run("skopeo inspect --raw --tls-verify=false " + quote("docker://" + address + "/" + ref) + " | sha256sum");
  REQUIRE(r.status == 0);
  return r.out.substr(0, 64);
}

}  // namespace

TEST_CASE("gc --registry: images not kept are deleted by digest with their referrers tags; the rest still pulls") {
  fgtest::RegistryServer reg;
  Example ex;
  build_at(ex, reg.address(), {"2024-01-01-000000", "2024-01-02-000000", "2024-01-03-000000"});
  std::string pinned = "2024-01-01-000000-publish-81";
  fgtest::write_file(ex.values / "pinned.yaml", "main_app:\n  image: " + reg.address() + "/" + kRegistryMw + ":" + pinned + "\n");
  std::string old = digest_of(reg.address(), kRegistryMw + ":2024-01-02-000000-publish");
  auto before = tags(reg.address(), kRegistryMw);
  REQUIRE(before.count("sha256-" + old));  // the old image's tree index, under its referrers tag

  auto dry = fgtest::gc(gc_args(ex, reg.address()) + " --dry-run");
  INFO(dry.out << dry.err);
  REQUIRE(dry.status == 0);
  CHECK(dry.out.find("registry " + reg.address() + ": would remove " + kRegistryMw + ":2024-01-02-000000-publish (") !=
        std::string::npos);
  CHECK(tags(reg.address(), kRegistryMw) == before);

  auto r = fgtest::gc(gc_args(ex, reg.address()));
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  auto after = tags(reg.address(), kRegistryMw);
  std::set<std::string> release;
  for (const auto& t : after)
    if (!t.starts_with("sha256-") && !t.starts_with("flavourgraph-key-")) release.insert(t);
  CHECK(release == std::set<std::string>{"2024-01-03-000000-publish", "2024-01-03-000000-publish-81", "latest", pinned});
  CHECK_FALSE(after.count("sha256-" + old));
  std::set<std::string> kept_digests;
  for (const auto& t : release) kept_digests.insert(digest_of(reg.address(), kRegistryMw + ":" + t));
  size_t keys = 0;
  for (const auto& t : after) {  // every referrers tag and build key left is a kept image's
    if (t.starts_with("sha256-")) CHECK_MESSAGE(kept_digests.count(t.substr(7)), t);
    if (t.starts_with("flavourgraph-key-")) {
      ++keys;
      CHECK_MESSAGE(kept_digests.count(digest_of(reg.address(), kRegistryMw + ":" + t)), t);
    }
  }
  CHECK(keys == 3);  // the newest image of each flavour, and the pinned one
  auto gone = run("skopeo inspect --raw --tls-verify=false " + quote("docker://" + reg.address() + "/" + kRegistryMw + "@sha256:" + old));
  CHECK(gone.status != 0);
  for (const std::string& repo : {kRegistryMw + "-debug", kRegistryMw + "-cli"})
    for (const auto& t : tags(reg.address(), repo))
      CHECK_MESSAGE((t.starts_with("sha256-") || t.starts_with("flavourgraph-key-") || t == "latest" ||
                     t.starts_with("2024-01-03-000000") || t == pinned),
                    repo, t);

  // What stays pulls whole.
  for (const auto& t : release) {
    auto c = run("skopeo copy --src-tls-verify=false " + quote("docker://" + reg.address() + "/" + kRegistryMw + ":" + t) + " " +
                 quote("oci:" + (ex.tmp / "pulled").string() + ":" + t));
    CHECK_MESSAGE(c.status == 0, t, c.err);
  }
  // The store went the same way.
  CHECK(fgtest::layout_names(ex.store).count(kRegistryMw + ":" + pinned));
  CHECK_FALSE(fgtest::layout_names(ex.store).count(kRegistryMw + ":2024-01-02-000000-publish"));
}

TEST_CASE("gc --registry on a registry that does not allow deletes: a warning, nothing removed there, the store cleaned") {
  fgtest::RegistryOptions opts;
  opts.deletes = false;
  fgtest::RegistryServer reg(opts);
  Example ex;
  build_at(ex, reg.address(), {"2024-01-01-000000", "2024-01-02-000000"});
  auto before = tags(reg.address(), kRegistryMw);
  auto r = fgtest::gc(gc_args(ex, reg.address()));
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.err.find("the registry " + reg.address() + " does not allow deletes") != std::string::npos);
  CHECK(r.out.find("registry " + reg.address() + ": not removed " + kRegistryMw + ":2024-01-01-000000-publish (") !=
        std::string::npos);
  CHECK(tags(reg.address(), kRegistryMw) == before);
  CHECK_FALSE(fgtest::layout_names(ex.store).count(kRegistryMw + ":2024-01-01-000000-publish"));
  CHECK(fgtest::layout_names(ex.store).count(kRegistryMw + ":2024-01-02-000000-publish"));
}
