#pragma once
/// `flavourgraph gc` at one place (docs/gc.md): the local store or an `oci:` layout (names,
/// then the blobs nothing reaches, then the store's dead cache entries), or the repositories of
/// a registry (manifests deleted by digest). Which images stay is gc.h's rule.

#include <cstdint>
#include <string>
#include <vector>

#include "flavourgraph/gc.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/reference.h"
#include "flavourgraph/oci/registry.h"

namespace flavourgraph {

struct GcSettings {
  unsigned keep = 3;     ///< newest images kept per (image, flavour, kind)
  bool dry_run = false;  ///< decide and count, change nothing
};

/// A name removed (or, in a dry run, that would be).
struct GcRemoval {
  std::string name;    ///< repository:tag, or repository@digest for an image without tags
  std::string group;   ///< image/flavour/kind of the image it names
  std::string reason;
};

struct GcOutcome {
  std::string place;                    ///< "store DIR", "oci:DIR", "registry HOST"
  std::vector<GcRemoval> removed;
  std::vector<std::string> kept_named;  ///< images kept beyond the newest because something names them
  size_t images = 0, images_removed = 0;
  size_t blobs = 0;                     ///< blobs removed (a layout's)
  uint64_t bytes = 0;                   ///< their bytes
  size_t cache_entries = 0;             ///< the store's layer and RUN cache entries removed
  bool deletes_refused = false;         ///< the registry does not allow deletes: nothing removed there
  std::vector<std::string> warnings;
};

/// The local store, locked by the caller unless `dry_run`: the names of images not kept go
/// from index.json; then every blob goes that no remaining name, no build record (its image,
/// tree index and base) and no kept image's base reaches; then the layer and RUN cache entries
/// whose blobs are gone.
GcOutcome gc_store(oci::Layout& store, const gc::Knowledge& knowledge, const GcSettings& settings);

/// An `oci:` push target, locked by the caller unless `dry_run`: as the store, without build
/// records or cache; the referrers tags (`sha256-<hex>`) of removed images go too.
GcOutcome gc_layout_target(oci::Layout& target, const gc::Knowledge& knowledge, const GcSettings& settings);

/// A registry push target: the images of `repositories` (under the target's prefix) are read
/// (tags, manifests, configs: from `store` when it has them), and those not kept are deleted by
/// digest with their referrers tags and tree-index artifacts. A registry that does not allow
/// deletes ends the deletes with `deletes_refused` and a warning.
GcOutcome gc_registry(oci::RegistryClient& client, const oci::Target& target, const std::vector<std::string>& repositories,
                      const gc::Knowledge& knowledge, const oci::Layout* store, const GcSettings& settings);

/// The repositories of a registry target (under its prefix) that the store's names and the
/// names in the report, build records and values files under the target's host use.
std::vector<std::string> gc_repositories(const oci::Target& target, const oci::Layout* store,
                                         const gc::Knowledge& knowledge);

}  // namespace flavourgraph
