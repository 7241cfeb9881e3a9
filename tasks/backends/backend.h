#pragma once
/// Build backends. The native backend appends layers to a base without a daemon (like ko,
/// Jib or `crane append`). A command backend (buildah, docker buildx, a remote BuildKit) for
/// kinds that need RUN steps plugs in behind the same interface.

#include <memory>
#include <string>
#include <vector>

#include "../build_context.h"
#include "flavourgraph/executor.h"

namespace flavourgraph {

struct BuildInputs {
  const PlanBuild& build;
  const KindSpec& kind;
  const ImageData& base;
  std::string base_name;                  ///< for the base annotations
  std::vector<const LayerData*> layers;   ///< new layers, in order
  std::vector<const LayerSpec*> layer_specs;
  int64_t created = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  /// Produces the image in the store. Sets `cached` when it was there already.
  virtual ImageData build(BuildContext& bc, const BuildInputs& in, TaskContext& ctx, bool* cached) = 0;
};

std::unique_ptr<Backend> make_native_backend();

/// The image config the native backend writes: the base's config with the kind's settings,
/// build args and builder labels, the new diff_ids and history entries.
nlohmann::json native_image_config(const BuildInputs& in);

}  // namespace flavourgraph
