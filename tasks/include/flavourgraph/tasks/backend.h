#pragma once
/// Build backends. The native backend appends layers to a base without a daemon (like ko,
/// Jib or `crane append`). A command backend (buildah, a remote engine) for kinds that need
/// RUN steps plugs in behind the same interface.

#include <memory>
#include <string>
#include <vector>

#include "flavourgraph/tasks/build_env.h"
#include "flavourgraph/executor.h"
#include "flavourgraph/oci/layer_writer.h"

namespace flavourgraph {

struct BuildInputs {
  const PlanBuild& build;
  const KindSpec& kind;
  const ImageData& base;
  std::string base_name;                       ///< for the base annotations
  std::vector<const oci::LayerBlob*> layers;   ///< new layers, in order
  std::vector<const LayerSpec*> layer_specs;
  int64_t created = 0;
  std::string base_digest;   ///< for the base annotation, when `base` is not the base (a delta's previous image)
  StringPairs extra_labels;  ///< e.g. the build type and parent image of an incremental build
  std::string settings;      ///< digest of the kind's settings, kept as a manifest annotation
};

struct BuildOutput {
  ImageData image;
  bool cached = false;  ///< the store had it already
};

class Backend {
 public:
  virtual ~Backend() = default;
  /// Produces the image in the store.
  virtual BuildOutput build(const BuildEnv& env, const BuildInputs& in, TaskContext& ctx) = 0;
};

std::unique_ptr<Backend> make_native_backend();

/// The image config the native backend writes: the base's config with the kind's settings,
/// build args and builder labels, the new diff_ids and history entries.
nlohmann::json native_image_config(const BuildInputs& in);

}  // namespace flavourgraph
