// push: publish an image to the push target. Blobs first, the name last, so a name never
// points at an incomplete image.
#include <fmt/format.h>

#include "task.h"

namespace flavourgraph {

namespace {

class PushTask final : public Task {
 public:
  PushTask(BuildContext& bc, uint32_t build) : bc_(bc), build_(build) {}

  TaskOutcome run(TaskContext& ctx) override {
    const PlanBuild& pb = bc_.plan.builds[build_];
    const auto& img = bc_.images[build_];
    if (!img) return TaskOutcome::fail("the image was not built");
    if (bc_.target.kind != oci::Target::Kind::layout || !bc_.target_layout)
      return TaskOutcome::fail(fmt::format("push to {}: registry targets need registry support, which this build "
                                           "does not have yet; use an oci: target",
                                           bc_.target.text));
    oci::Layout& dst = *bc_.target_layout;
    uint64_t sent = 0;
    std::vector<const oci::Descriptor*> blobs{&img->parsed.config};
    for (const auto& l : img->parsed.layers) blobs.push_back(&l);
    blobs.push_back(&img->manifest);
    for (const auto* d : blobs) {
      if (ctx.cancelled()) return {TaskState::cancelled, "cancelled", {}};
      if (dst.copy_blob_from(bc_.store, *d)) sent += static_cast<uint64_t>(d->size);
    }
    bool changed = dst.set_ref(pb.repository + ":" + pb.tag, img->manifest);
    for (const auto& t : pb.extra_tags) changed |= dst.set_ref(pb.repository + ":" + t, img->manifest);
    ctx.add_bytes_out(sent);
    std::string ref = fmt::format("{}@{}", pb.image_ref(bc_.plan.registry), img->manifest.digest.str());
    bc_.pushed[build_] = PushResult{ref, sent};
    return {(sent > 0 || changed) ? TaskState::done : TaskState::cached, {}, ref};
  }

 private:
  BuildContext& bc_;
  uint32_t build_;
};

}  // namespace

std::unique_ptr<Task> make_push_task(BuildContext& bc, uint32_t build) { return std::make_unique<PushTask>(bc, build); }

}  // namespace flavourgraph
