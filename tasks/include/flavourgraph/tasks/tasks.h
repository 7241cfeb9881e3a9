#pragma once
/// The tasks of a build, one class per kind of plan task. A task reads the plan and settings
/// through its BuildEnv (read-only) and the outputs of the tasks it depends on (given at
/// construction, read only after they ended: the executor runs a task after its dependencies,
/// and only when they succeeded); it writes nothing but its own typed output.

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "flavourgraph/build_state.h"
#include "flavourgraph/tasks/build_env.h"
#include "flavourgraph/error.h"
#include "flavourgraph/executor.h"
#include "flavourgraph/oci/layer_writer.h"
#include "flavourgraph/release_values.h"

namespace flavourgraph {

class Task {
 public:
  virtual ~Task() = default;
  /// Does the work; throws or returns failed on error, cancelled when asked to stop.
  virtual TaskOutcome run(TaskContext& ctx) = 0;
};

/// A task's result, set once by the task when it succeeds.
template <class T>
class Output {
 public:
  void set(T value) { value_ = std::move(value); }
  [[nodiscard]] bool has() const { return value_.has_value(); }
  [[nodiscard]] const T& get(const char* what) const {
    if (!value_) throw Error(std::string(what) + " is not there: the task that makes it did not succeed");
    return *value_;
  }

 private:
  std::optional<T> value_;
};

/// A task whose output is an image: a base-pull, or a build.
class ImageTask : public Task {
 public:
  [[nodiscard]] const ImageData& image() const { return image_.get("the image"); }
  [[nodiscard]] bool has_image() const { return image_.has(); }

 protected:
  Output<ImageData> image_;
};

/// base-pull: resolves a base reference to a pinned manifest (the platform's, from an index),
/// and brings into the store the blobs the images built on it need.
class BasePullTask final : public ImageTask {
 public:
  BasePullTask(const BuildEnv& env, uint32_t base) : env_(env), base_(base) {}
  TaskOutcome run(TaskContext& ctx) override;

 private:
  const BuildEnv& env_;
  uint32_t base_;
};

/// run: a kind's Containerfile built by an engine (the command backend) on its base, the result
/// brought back into the store (every blob verified). Cached by the Containerfile's bytes, the
/// context's tree, the args, the target and the base's digest: an unchanged one calls no engine.
class RunTask final : public ImageTask {
 public:
  RunTask(const BuildEnv& env, uint32_t run, const ImageTask& base) : env_(env), run_(run), base_(base) {}
  TaskOutcome run(TaskContext& ctx) override;
  /// The image its first FROM was replaced with.
  [[nodiscard]] const ImageTask& base() const { return base_; }

 private:
  [[nodiscard]] std::string cache_key(TaskContext& ctx) const;
  [[nodiscard]] std::optional<ImageData> cached(const std::filesystem::path& entry) const;
  /// Sends the job to the plan's engine for it; the result lands in the store.
  ImageData build_on_engine(TaskContext& ctx, const std::string& key, double* seconds) const;
  ImageData load(const oci::Descriptor& manifest) const;

  const BuildEnv& env_;
  uint32_t run_;
  const ImageTask& base_;
};

/// How one image gets an incremental layer: a delta on its last good build, or the full layer.
struct LayerChoice {
  bool delta = false;
  std::string reason;                    ///< why (for --explain and the metadata)
  std::optional<BuildRecord> previous;   ///< a delta's image to build on
  const oci::LayerBlob* blob = nullptr;  ///< the delta (null: the tree is as the previous image holds it) or the full layer
};

/// The fingerprint of what a layer's bytes depend on besides its tree: dest, owner, filters,
/// compression. An image's delta is built only on a previous image of the same fingerprint.
std::string layer_fingerprint(const LayerSpec& spec, const oci::CompressionSpec& compression);

/// layer: a reproducible, compressed tar of a source tree, cached by a key computed from the
/// tree's listing (no file is read when the key is unchanged). An incremental layer is, for
/// each image that uses it, a delta on that image's last good build where the rules allow it
/// (docs/incremental.md): one delta per distinct previous tree, the full layer for the rest.
class LayerTask final : public Task {
 public:
  /// `bases`: the task whose image each image on an incremental layer starts from (its digest
  /// is compared with the last build's base).
  LayerTask(const BuildEnv& env, uint32_t layer, std::map<uint32_t, const ImageTask*> bases = {})
      : env_(env), layer_(layer), bases_(std::move(bases)) {}
  TaskOutcome run(TaskContext& ctx) override;
  /// The full layer (of a non-incremental layer, or for the images that do not take a delta).
  [[nodiscard]] const oci::LayerBlob& blob() const { return blob_.get("the layer"); }
  [[nodiscard]] uint32_t index() const { return layer_; }
  [[nodiscard]] bool incremental() const;
  /// An incremental layer's choice for plan build `build` (null for other layers).
  [[nodiscard]] const LayerChoice* choice(uint32_t build) const;
  /// The blob plan build `build` appends: the full layer, or its delta (null: none).
  [[nodiscard]] const oci::LayerBlob* blob_for(uint32_t build) const;
  /// The tree index of an incremental layer's tree, in the store.
  [[nodiscard]] const std::optional<oci::Descriptor>& tree_index() const { return index_; }
  [[nodiscard]] const std::string& fingerprint() const { return fingerprint_; }

 private:
  TaskOutcome run_full(TaskContext& ctx);
  TaskOutcome run_incremental(TaskContext& ctx);
  struct IncrementalRun;  // one run_incremental's working state
  /// Each image's choice, and the last trees the deltas compare against.
  void choose(IncrementalRun& run);
  /// A delta per previous tree (or the full layer, said why, where it would be too big).
  void take_deltas(TaskContext& ctx, IncrementalRun& run);
  /// The full layer, for the images that take no delta.
  void take_full(TaskContext& ctx, IncrementalRun& run);
  /// Builds (or finds in the cache) the layer of `listing` into the store; `key` names its
  /// cache entry. Sets `*built` when it wrote a new blob.
  oci::LayerBlob layer_blob(TaskContext& ctx, const oci::TreeListing& listing, const std::string& key, bool* built);
  /// Why image `build` cannot take a delta ("" when it can; then `previous` is its last build).
  std::string no_delta(uint32_t build, std::optional<BuildRecord>* previous) const;
  [[nodiscard]] std::optional<oci::LayerBlob> cached_entry(const std::filesystem::path& entry) const;
  void write_entry(const std::filesystem::path& entry, const oci::LayerBlob& b) const;
  void warn_sockets(TaskContext& ctx, const std::vector<std::string>& sockets) const;
  [[nodiscard]] oci::TarOptions tar_options() const;

  const BuildEnv& env_;
  uint32_t layer_;
  std::map<uint32_t, const ImageTask*> bases_;
  Output<oci::LayerBlob> blob_;
  std::map<uint32_t, LayerChoice> choices_;
  std::map<std::string, oci::LayerBlob> deltas_;  ///< by the previous tree index's digest
  std::optional<oci::Descriptor> index_;
  std::string fingerprint_;
};

/// The digest of what a kind's image config says besides its layers: args, env, labels, user,
/// workdir, entrypoint, cmd. A delta is built only on an image of the same settings.
std::string settings_digest(const PlanBuild& build, const KindSpec& kind);

/// build: the image of one (image, flavour, kind) from its base (or its `from` kind's image)
/// and its layers. Unchanged inputs give the same bytes, so an unchanged image is `cached`.
class BuildTask final : public ImageTask {
 public:
  BuildTask(const BuildEnv& env, uint32_t build, const ImageTask& base, std::vector<const LayerTask*> layers)
      : env_(env), build_(build), base_(base), layers_(std::move(layers)) {}
  TaskOutcome run(TaskContext& ctx) override;
  [[nodiscard]] uint32_t index() const { return build_; }
  /// The base-pull, or the `from` kind's build.
  [[nodiscard]] const ImageTask& base() const { return base_; }
  [[nodiscard]] const std::vector<const LayerTask*>& layers() const { return layers_; }

 private:
  TaskOutcome take_published();

  const BuildEnv& env_;
  uint32_t build_;
  const ImageTask& base_;
  std::vector<const LayerTask*> layers_;
};

/// tag: names the image `<repository>:<tag>` (and the extra tags) in the local store.
class TagTask final : public Task {
 public:
  TagTask(const BuildEnv& env, uint32_t build, const BuildTask& image) : env_(env), build_(build), image_(image) {}
  TaskOutcome run(TaskContext& ctx) override;

 private:
  const BuildEnv& env_;
  uint32_t build_;
  const BuildTask& image_;
};

/// A name to set at the push target: `repository:tag` → manifest.
struct PendingTag {
  std::string repository, tag;
  oci::Descriptor manifest;
};

struct PushResult {
  std::string ref;  ///< registry/repository:tag@digest (with --atomic, until published: registry/repository@digest)
  uint64_t bytes_out = 0;
  std::vector<PendingTag> names;  ///< with --atomic: the names the publish task sets
};

/// push: publishes an image to the push target, blobs first and the names last.
class PushTask final : public Task {
 public:
  PushTask(const BuildEnv& env, uint32_t build, const BuildTask& image) : env_(env), build_(build), image_(image) {}
  TaskOutcome run(TaskContext& ctx) override;
  [[nodiscard]] const PushResult& pushed() const { return pushed_.get("the pushed image"); }
  [[nodiscard]] bool has_pushed() const { return pushed_.has(); }

 private:
  [[nodiscard]] std::vector<std::string> mount_candidates(const oci::Descriptor& d, size_t index) const;

  const BuildEnv& env_;
  uint32_t build_;
  const BuildTask& image_;
  Output<PushResult> pushed_;
};

/// publish (--atomic): once every push uploaded its image by digest, sets every name they
/// hold back, so that no tag moves unless the whole run is up.
class PublishTask final : public Task {
 public:
  PublishTask(const BuildEnv& env, std::vector<const PushTask*> pushes) : env_(env), pushes_(std::move(pushes)) {}
  TaskOutcome run(TaskContext& ctx) override;
  [[nodiscard]] bool published() const { return published_.load(); }

 private:
  const BuildEnv& env_;
  std::vector<const PushTask*> pushes_;
  std::atomic<bool> published_{false};
};

/// render-values: a release's helmfile values file, written only when its content changed.
/// Git commits happen after the run, stage by stage.
class RenderValuesTask final : public Task {
 public:
  RenderValuesTask(const BuildEnv& env, uint32_t release, const PushTask& mw, const PushTask& web)
      : env_(env), release_(release), mw_(mw), web_(web) {}
  TaskOutcome run(TaskContext& ctx) override;
  [[nodiscard]] bool has_rendered() const { return rendered_.has(); }
  [[nodiscard]] const RenderedValues& rendered() const { return rendered_.get("the values file"); }

 private:
  const BuildEnv& env_;
  uint32_t release_;
  const PushTask& mw_;
  const PushTask& web_;
  Output<RenderedValues> rendered_;
};

/// The executor's view of a build: plan task index → task. Tasks are made in plan order (a
/// topological order), each given the tasks it reads from.
class PlanRunner final : public TaskRunner {
 public:
  explicit PlanRunner(const BuildEnv& env);
  TaskOutcome run(uint32_t index, TaskContext& ctx) override;

  /// Outputs by plan subject, after the run (null when the task did not succeed).
  [[nodiscard]] const ImageData* base_image(uint32_t base) const;
  [[nodiscard]] const ImageData* built_image(uint32_t build) const;
  [[nodiscard]] const ImageData* run_image(uint32_t run) const;
  /// The image build `build` started from (its base, RUN build or base build).
  [[nodiscard]] const ImageData* source_image(uint32_t build) const;
  [[nodiscard]] const PushResult* pushed(uint32_t build) const;
  [[nodiscard]] const RenderedValues* rendered(uint32_t release) const;

 private:
  /// The task whose image build `pb` starts from (made already: tasks come in plan order).
  [[nodiscard]] const ImageTask& source(const PlanBuild& pb) const;

  std::vector<std::unique_ptr<Task>> tasks_;  ///< by plan task index
  std::vector<BasePullTask*> bases_;          ///< by plan base index
  std::vector<RunTask*> runs_;                ///< by plan run index
  std::vector<LayerTask*> layers_;
  std::vector<BuildTask*> builds_;
  std::vector<PushTask*> pushes_;             ///< by plan build index (null when not pushed)
  std::vector<RenderValuesTask*> renders_;    ///< by plan release index
  PublishTask* publish_ = nullptr;            ///< with --atomic
  bool atomic_ = false;
};

}  // namespace flavourgraph
