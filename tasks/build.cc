// build: an image for one (image, flavour, kind) from its base (or its `from` kind's image) and
// its layers. Unchanged inputs give the same bytes, so an unchanged image is `cached`.
#include <fmt/format.h>

#include "backends/backend.h"
#include "task.h"

namespace flavourgraph {

namespace {

class BuildTask final : public Task {
 public:
  BuildTask(BuildContext& bc, uint32_t build) : bc_(bc), build_(build), backend_(make_native_backend()) {}

  TaskOutcome run(TaskContext& ctx) override {
    const PlanBuild& pb = bc_.plan.builds[build_];
    const ImageSpec& img = bc_.plan.config->images[pb.image];
    const KindSpec& kind = img.kinds[pb.kind];
    const ImageData* base = nullptr;
    std::string base_name;
    if (pb.parent >= 0) {
      const auto& parent = bc_.images[static_cast<size_t>(pb.parent)];
      if (!parent) return TaskOutcome::fail("the parent image was not built");
      base = &*parent;
      const PlanBuild& pp = bc_.plan.builds[static_cast<size_t>(pb.parent)];
      base_name = pp.repository + ":" + pp.tag;
    } else {
      const auto& b = bc_.bases[static_cast<size_t>(pb.base)];
      if (!b) return TaskOutcome::fail("the base was not pulled");
      base = &*b;
      base_name = bc_.plan.bases[static_cast<size_t>(pb.base)].ref;
    }
    BuildInputs in{pb, kind, *base, base_name, {}, {}, bc_.options.source_date_epoch};
    for (uint32_t l : pb.layers) {
      const auto& ld = bc_.layers[l];
      if (!ld) return TaskOutcome::fail(fmt::format("layer {} was not built", bc_.plan.layers[l].key));
      in.layers.push_back(&*ld);
      in.layer_specs.push_back(&bc_.plan.layers[l].spec);
    }
    bool cached = false;
    ImageData out = backend_->build(bc_, in, ctx, &cached);
    std::string digest = out.manifest.digest.str();
    bc_.images[build_] = std::move(out);
    return {cached ? TaskState::cached : TaskState::done, {}, digest};
  }

 private:
  BuildContext& bc_;
  uint32_t build_;
  std::unique_ptr<Backend> backend_;
};

/// tag: names the image `<repository>:<tag>` (and the extra tag) in the local store.
class TagTask final : public Task {
 public:
  TagTask(BuildContext& bc, uint32_t build) : bc_(bc), build_(build) {}

  TaskOutcome run(TaskContext&) override {
    const PlanBuild& pb = bc_.plan.builds[build_];
    const auto& img = bc_.images[build_];
    if (!img) return TaskOutcome::fail("the image was not built");
    bool changed = bc_.store.set_ref(pb.repository + ":" + pb.tag, img->manifest);
    for (const auto& t : pb.extra_tags) changed |= bc_.store.set_ref(pb.repository + ":" + t, img->manifest);
    return {changed ? TaskState::done : TaskState::cached, {}, pb.repository + ":" + pb.tag};
  }

 private:
  BuildContext& bc_;
  uint32_t build_;
};

}  // namespace

std::unique_ptr<Task> make_build_task(BuildContext& bc, uint32_t build) {
  return std::make_unique<BuildTask>(bc, build);
}

std::unique_ptr<Task> make_tag_task(BuildContext& bc, uint32_t build) { return std::make_unique<TagTask>(bc, build); }

}  // namespace flavourgraph
