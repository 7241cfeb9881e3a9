#pragma once
/// What the tasks of one build share: the plan, the options, the local store, and each task's
/// output slot. A slot is written only by its own task and read by dependents after it ended
/// (the flow graph orders them), so slots need no locks.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/reference.h"
#include "flavourgraph/oci/types.h"
#include "flavourgraph/native_build.h"
#include "flavourgraph/plan.h"
#include "flavourgraph/values.h"
#include "oci/layer_writer.h"
#include "registry_pool.h"

namespace flavourgraph {

class RegistryPool;

/// Settings of a build (the public BuildSettings, under the name the tasks use).
using BuildOptions = BuildSettings;

/// A pulled base or a built image: its manifest, config and where its blobs are.
struct ImageData {
  oci::Descriptor manifest;
  oci::Manifest parsed;
  nlohmann::json config;
  std::string name;                      ///< pinned reference, for messages and annotations
  const oci::Layout* layout = nullptr;   ///< the layout holding its blobs
  /// Where base layers the store does not hold can be mounted from: a repository on the push
  /// target's registry (empty when every blob is in the store).
  std::string remote_host;
  std::string remote_repo;
};

struct LayerData {
  oci::LayerBlob blob;
};

struct PushResult {
  std::string ref;       ///< registry/repository:tag@digest
  uint64_t bytes_out = 0;
};

class BuildContext {
 public:
  BuildContext(const Plan& plan, BuildOptions options, oci::Layout& store);

  const Plan& plan;
  const BuildOptions options;
  oci::Layout& store;
  oci::Target target;                         ///< parsed push target
  std::unique_ptr<oci::Layout> target_layout;  ///< for an oci: target (locked)

  std::vector<std::optional<ImageData>> bases;    ///< by plan base index
  std::vector<std::optional<LayerData>> layers;   ///< by plan layer index
  std::vector<std::optional<ImageData>> images;   ///< by plan build index
  std::vector<std::optional<PushResult>> pushed;  ///< by plan build index
  std::unique_ptr<ValuesDir> values;             ///< where render-values writes
  std::unique_ptr<RegistryPool> registries;      ///< clients of the registries the build talks to

  /// An `oci:` layout used as a base, opened once per directory.
  const oci::Layout& base_layout(const std::filesystem::path& dir);
  /// The directory of the layer cache and of the layer index (tree listings).
  [[nodiscard]] std::filesystem::path cache_dir() const { return store.state_dir() / "cache"; }

 private:
  std::mutex layouts_mutex_;
  std::map<std::filesystem::path, std::unique_ptr<oci::Layout>> base_layouts_;
};

/// ISO 8601 UTC time, as image configs write it.
std::string iso_time(int64_t unix_seconds);

}  // namespace flavourgraph
