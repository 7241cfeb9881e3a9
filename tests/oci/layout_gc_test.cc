// What gc needs of a layout: its named entries, dropping some in one rewrite, its blobs, and the
// blobs a manifest or an index reaches (never through an artifact's subject).
#include <doctest/doctest.h>

#include <set>

#include "flavourgraph/oci/image_io.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/tree_index.h"
#include "test_util.h"

using namespace flavourgraph;
using namespace flavourgraph::oci;
using nlohmann::json;

namespace {

Descriptor put_manifest(Layout& l, const Descriptor& config, const std::vector<Descriptor>& layers) {
  json ls = json::array();
  for (const auto& d : layers) ls.push_back(d.to_json());
  json m = {{"schemaVersion", 2}, {"mediaType", media::kManifest}, {"config", config.to_json()}, {"layers", ls}};
  return l.put_blob(canonical(m), media::kManifest);
}

}  // namespace

TEST_CASE("layout gc: names dropped in one rewrite, blobs listed and deleted, what a manifest or index reaches") {
  fgtest::TempDir tmp;
  auto l = Layout::open(tmp / "layout", true);
  Descriptor config = l->put_blob(R"({"architecture":"amd64"})", media::kConfig);
  Descriptor layer = l->put_blob("layer bytes", media::kLayerGzip);
  Descriptor manifest = put_manifest(*l, config, {layer});
  json idx = {{"schemaVersion", 2}, {"mediaType", media::kIndex}, {"manifests", json::array({manifest.to_json()})}};
  Descriptor index = l->put_blob(canonical(idx), media::kIndex);
  // A tree index artifact about the image: reaching it must not reach the image.
  Descriptor tree = l->put_blob("tree index bytes", kTreeIndexMediaType);
  IndexArtifact art = index_artifact(tree, manifest);
  Descriptor art_config = l->put_blob(kEmptyJson, kEmptyMediaType);
  Descriptor art_manifest = l->put_blob(art.manifest, media::kManifest);
  Descriptor referrers = l->put_blob(art.referrers, media::kIndex);
  Descriptor orphan = l->put_blob("nobody's", "text/plain");
  l->set_ref("repo:a", manifest);
  l->set_ref("repo:b", manifest);
  l->set_ref("repo:idx", index);
  l->set_ref("repo:" + referrers_tag(manifest.digest), referrers);

  std::set<Digest> live;
  mark_reachable(*l, manifest.digest, live);
  CHECK(live == std::set<Digest>{manifest.digest, config.digest, layer.digest});
  live.clear();
  mark_reachable(*l, index.digest, live);
  CHECK(live == std::set<Digest>{index.digest, manifest.digest, config.digest, layer.digest});
  live.clear();
  mark_reachable(*l, referrers.digest, live);
  CHECK(live == std::set<Digest>{referrers.digest, art_manifest.digest, art_config.digest, tree.digest});
  live.clear();
  mark_reachable(*l, Digest::sha256_of("not in the layout"), live);
  CHECK(live.empty());

  auto refs = l->refs();
  REQUIRE(refs.size() == 4);
  CHECK(refs[0].first == "repo:a");
  CHECK(refs[0].second.digest == manifest.digest);
  CHECK(l->remove_refs({"repo:a", "repo:idx", "repo:not-there"}) == 2);
  CHECK(l->remove_refs({"repo:not-there"}) == 0);
  auto names = Layout::open(tmp / "layout", false)->ref_names();  // as written to index.json
  CHECK(names == std::vector<std::string>{"repo:b", "repo:" + referrers_tag(manifest.digest)});

  std::map<Digest, uint64_t> blobs;
  for (const auto& [d, size] : l->blobs()) blobs[d] = size;
  CHECK(blobs.size() == 9);
  CHECK(blobs.at(layer.digest) == 11);
  fgtest::write_file(tmp / "layout/blobs/sha256/not-a-digest", "x");
  CHECK(l->blobs().size() == 9);
  CHECK(l->remove_blob(orphan.digest));
  CHECK_FALSE(l->remove_blob(orphan.digest));
  CHECK_FALSE(l->has_blob(orphan.digest));
  CHECK(l->blobs().size() == 8);
}
