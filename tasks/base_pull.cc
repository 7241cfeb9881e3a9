// base-pull: one ImageSource (a layout or a registry repository), pulled once.
#include <fmt/format.h>

#include "flavourgraph/tasks/published.h"
#include "flavourgraph/tasks/tasks.h"

namespace flavourgraph {

TaskOutcome BasePullTask::run(TaskContext& ctx) {
  const PlanBase& pb = env_.plan().bases[base_];
  if (const PublishedImages* p = env_.published(); p && p->skip_base(base_))
    return {TaskState::cached, {}, {}, "published already: every image that needs it is at the push target"};
  auto ref = oci::Reference::parse(pb.ref, env_.plan().config->dir);
  if (!ref) return TaskOutcome::fail(fmt::format("base {}: {}", pb.ref, ref.message()));
  oci::PullOptions opt;
  opt.os = env_.settings().os;
  opt.arch = env_.settings().arch;
  opt.progress = [&ctx](uint64_t done, uint64_t total) { ctx.progress(done, total); };
  std::string at = ref->digest ? ref->digest->str() : ref->tag;
  if (const PublishedImages* p = env_.published(); p && !p->base_digest(base_).empty())
    at = p->base_digest(base_);  // as resolved for the build keys: a tag moved since is not mixed in
  oci::PullResult pulled;
  ImageData img;
  try {
    if (ref->kind == oci::Reference::Kind::layout) {
      oci::LayoutSource source(env_.base_layout(ref->dir));
      pulled = oci::pull_image(source, at, pb.ref, env_.store(), opt, ctx.cancel());
    } else {
      // Layers on the push target's registry are mounted there, never downloaded.
      bool mountable = env_.target().kind == oci::Target::Kind::registry && env_.target().host == ref->host;
      opt.layers = !mountable;
      oci::RegistrySource source(env_.registries().client(ref->host), ref->repository);
      pulled = oci::pull_image(source, at, pb.ref, env_.store(), opt, ctx.cancel());
      if (mountable) {
        img.remote_host = ref->host;
        img.remote_repo = ref->repository;
      }
    }
  } catch (const oci::Cancelled&) {
    return {TaskState::cancelled, "cancelled", {}};
  }
  ctx.add_bytes_in(pulled.bytes_in);
  img.manifest = pulled.image.manifest;
  img.parsed = std::move(pulled.image.parsed);
  img.config = std::move(pulled.image.config);
  img.name = pulled.image.name;
  std::string pinned = img.name;
  image_.set(std::move(img));
  std::string reason = pulled.copied ? fmt::format("pinned {}; {} bytes brought into the store", pinned, pulled.bytes_in)
                                     : fmt::format("pinned {}; the store has what it needs", pinned);
  return {pulled.copied ? TaskState::done : TaskState::cached, {}, pinned, reason};
}

}  // namespace flavourgraph
