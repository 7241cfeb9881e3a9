// build: an image for one (image, flavour, kind) from its base (or its `from` kind's image) and
// its layers; tag: its names in the local store.
#include <fmt/format.h>

#include "flavourgraph/tasks/backend.h"
#include "flavourgraph/tasks/tasks.h"

namespace flavourgraph {

TaskOutcome BuildTask::run(TaskContext& ctx) {
  const Plan& plan = env_.plan();
  const PlanBuild& pb = plan.builds[build_];
  const KindSpec& kind = plan.config->images[pb.image].kinds[pb.kind];
  std::string base_name;
  if (pb.parent >= 0) {
    // The parent by digest, never by its tag: a tag carries the run's time, and an unchanged
    // image built `from` an unchanged parent must keep its digest.
    const PlanBuild& pp = plan.builds[static_cast<size_t>(pb.parent)];
    base_name = pp.repository + "@" + base_.image().manifest.digest.str();
  } else {
    base_name = plan.bases[static_cast<size_t>(pb.base)].ref;
  }
  BuildInputs in{pb, kind, base_.image(), base_name, {}, {}, env_.settings().source_date_epoch};
  for (const LayerTask* l : layers_) {
    in.layers.push_back(&l->blob());
    in.layer_specs.push_back(&plan.layers[l->index()].spec);
  }
  BuildOutput out = make_native_backend()->build(env_, in, ctx);
  std::string digest = out.image.manifest.digest.str();
  image_.set(std::move(out.image));
  return {out.cached ? TaskState::cached : TaskState::done, {}, digest};
}

TaskOutcome TagTask::run(TaskContext&) {
  const PlanBuild& pb = env_.plan().builds[build_];
  const ImageData& img = image_.image();
  bool changed = env_.store().set_ref(pb.repository + ":" + pb.tag, img.manifest);
  for (const auto& t : pb.extra_tags) changed |= env_.store().set_ref(pb.repository + ":" + t, img.manifest);
  return {changed ? TaskState::done : TaskState::cached, {}, pb.repository + ":" + pb.tag};
}

}  // namespace flavourgraph
