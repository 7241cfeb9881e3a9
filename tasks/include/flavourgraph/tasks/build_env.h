#pragma once
/// What the tasks of one build share: the plan and the settings (read-only), and the services
/// that are safe to use from several tasks at once: the local store, the push target, the
/// registry clients and the values directory. Results pass from a task to its dependents
/// through typed outputs (tasks.h), never through here.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "flavourgraph/native_build.h"
#include "flavourgraph/oci/image_io.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/reference.h"
#include "flavourgraph/plan.h"
#include "flavourgraph/values.h"
#include "flavourgraph/tasks/engines.h"
#include "flavourgraph/tasks/published.h"
#include "flavourgraph/tasks/registry_pool.h"

namespace flavourgraph {

/// A pulled base or a built image.
struct ImageData {
  oci::Descriptor manifest;
  oci::Manifest parsed;
  nlohmann::json config;
  std::string name;  ///< pinned reference, for messages and annotations
  /// Where base layers the store does not hold can be mounted from: a repository on the push
  /// target's registry (empty when every blob is in the store).
  std::string remote_host;
  std::string remote_repo;
  /// Layers not in the store that the push target has already (an image built on a previous
  /// build that this machine never pulled).
  bool external_layers = false;
  std::string settings;                        ///< digest of the kind's settings it was built with
  std::optional<oci::Descriptor> tree_index;   ///< the tree its incremental layer holds
  std::string tree_spec;                       ///< that layer's fingerprint
  /// Taken from the push target, where it is under this run's build key: nothing was built.
  bool published_already = false;
  std::string base_digest, base_name;          ///< its base, as its annotations say (when published already)
};

class PreviousBuilds;
class EngineSet;

class BuildEnv {
 public:
  BuildEnv(const Plan& plan, const BuildSettings& settings, oci::Layout& store, oci::Target target,
           oci::ImageSink& sink, RegistryPool& registries, const ValuesDir* values, PreviousBuilds* previous = nullptr)
      : plan_(plan), settings_(settings), store_(store), target_(std::move(target)), sink_(sink),
        registries_(registries), values_(values), previous_(previous) {}

  [[nodiscard]] const Plan& plan() const { return plan_; }
  [[nodiscard]] const BuildSettings& settings() const { return settings_; }
  [[nodiscard]] oci::Layout& store() const { return store_; }
  [[nodiscard]] const oci::Target& target() const { return target_; }
  [[nodiscard]] oci::ImageSink& sink() const { return sink_; }
  [[nodiscard]] RegistryPool& registries() const { return registries_; }
  /// Where render-values writes; null when the plan renders no release.
  [[nodiscard]] const ValuesDir* values() const { return values_; }
  /// The last good builds incremental layers build on; null when there are none to look at.
  [[nodiscard]] PreviousBuilds* previous() const { return previous_; }
  [[nodiscard]] int max_layers() const { return settings_.max_layers.value_or(plan_.config->incremental.max_layers); }
  [[nodiscard]] double max_delta() const { return settings_.max_delta.value_or(plan_.config->incremental.max_delta); }
  /// The directory of the layer cache and of the layer index (tree listings).
  [[nodiscard]] std::filesystem::path cache_dir() const { return store_.state_dir() / "cache"; }
  /// `repository` as named at the push target (under its prefix, for a registry).
  [[nodiscard]] std::string target_repository(const std::string& repository) const {
    return target_.prefix.empty() ? repository : target_.prefix + "/" + repository;
  }
  /// An `oci:` layout used as a base, opened once per directory.
  const oci::Layout& base_layout(const std::filesystem::path& dir) const;
  /// The images the push target holds under this run's build keys (null when not looked up:
  /// --no-push, --no-cache).
  [[nodiscard]] const PublishedImages* published() const { return published_.get(); }
  void set_published(std::unique_ptr<PublishedImages> p);
  /// The plan's build engines for RUN builds, made on first use.
  EngineSet& engines() const;
  ~BuildEnv();
  BuildEnv(const BuildEnv&) = delete;
  BuildEnv& operator=(const BuildEnv&) = delete;

 private:
  const Plan& plan_;
  const BuildSettings& settings_;
  oci::Layout& store_;
  oci::Target target_;
  oci::ImageSink& sink_;
  RegistryPool& registries_;
  const ValuesDir* values_;
  PreviousBuilds* previous_;
  mutable std::mutex layouts_mutex_;
  mutable std::map<std::filesystem::path, std::unique_ptr<oci::Layout>> base_layouts_;
  mutable std::unique_ptr<EngineSet> engines_;
  std::unique_ptr<PublishedImages> published_;
};

}  // namespace flavourgraph
