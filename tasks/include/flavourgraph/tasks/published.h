#pragma once
/// Build keys: the registry as the cache (design.md §10). An image's build key says what it is
/// made of as content only: its base's manifest digest (or the key of the image it starts
/// from), each layer's tree as content digests (no inode, mtime or path of this machine), the
/// kind's settings, the builder's version, the platform and the fixed time. Every image a run
/// pushes is also tagged `flavourgraph-key-<key>` at the push target; a run that finds its key
/// there takes that image instead of building it, on any machine, with an empty store.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flavourgraph/build_state.h"
#include "flavourgraph/cancel.h"
#include "flavourgraph/oci/tree.h"
#include "flavourgraph/oci/tree_index.h"

namespace flavourgraph {

class BuildEnv;
class PreviousBuilds;
struct PlanLayer;

inline constexpr std::string_view kKeyTagPrefix = "flavourgraph-key-";

/// A layer's tree as the key pass read it, for the layer task to use rather than walk again.
struct LayerScan {
  oci::TreeListing listing;
  oci::TreeIndex tree;
  oci::IndexStats read;
};

/// This machine's stat cache for a layer's tree (the files whose stat is unchanged are not read
/// again).
std::filesystem::path stat_cache_path(const BuildEnv& env, const PlanLayer& layer);

class PublishedImages {
 public:
  /// Computes the key of every image the plan publishes and, with `look_up`, looks each up at
  /// the push target (without, nothing is skipped and no scan is handed on: --no-cache). A key
  /// that cannot be computed (a base that does not resolve, a tree that does not read) leaves
  /// its image to be built as usual: the task that fails then says why.
  static std::unique_ptr<PublishedImages> check(const BuildEnv& env, PreviousBuilds& previous,
                                                const CancelSource& cancel, bool look_up = true);

  /// The manifest digest base `b`'s ref named when the keys were computed ("" when it did not
  /// resolve): the base-pull pulls that one, so that the images hold what their keys say.
  [[nodiscard]] const std::string& base_digest(uint32_t b) const { return bases_[b]; }
  /// The build key (hex), or "" when it could not be computed.
  [[nodiscard]] const std::string& key(uint32_t build) const { return builds_[build].key; }
  /// The image at the push target with this build's key.
  [[nodiscard]] const BuildRecord* found(uint32_t build) const {
    return builds_[build].found ? &*builds_[build].found : nullptr;
  }
  /// Work no image of this run needs: every image on it is published already.
  [[nodiscard]] bool skip_build(uint32_t b) const { return builds_[b].skip; }
  [[nodiscard]] bool skip_layer(uint32_t l) const { return skip_layers_[l]; }
  [[nodiscard]] bool skip_base(uint32_t b) const { return skip_bases_[b]; }
  [[nodiscard]] bool skip_run(uint32_t r) const { return skip_runs_[r]; }
  /// The scan made for layer `l`'s key, taken once (null when there is none).
  [[nodiscard]] std::unique_ptr<LayerScan> take_scan(uint32_t l) const;
  [[nodiscard]] size_t found_count() const;
  /// Why keys are missing, for --explain ("" when every one was computed).
  [[nodiscard]] const std::vector<std::string>& problems() const { return problems_; }

 private:
  struct Build {
    std::string key;
    std::optional<BuildRecord> found;
    bool skip = false;
  };
  friend struct KeyPass;
  std::vector<Build> builds_;
  std::vector<std::string> bases_;
  std::vector<bool> skip_layers_, skip_bases_, skip_runs_;
  mutable std::vector<std::unique_ptr<LayerScan>> scans_;
  mutable std::mutex scans_mutex_;
  std::vector<std::string> problems_;
};

/// The tag a build key is published under.
inline std::string key_tag(const std::string& key) { return std::string(kKeyTagPrefix) + key; }

}  // namespace flavourgraph
