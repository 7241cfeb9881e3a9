// render-values: a release's helmfile values file (release_values.h says what it holds),
// written only when its content changed. Git commits happen after the run, stage by stage.
#include "flavourgraph/tasks/tasks.h"

namespace flavourgraph {

TaskOutcome RenderValuesTask::run(TaskContext& ctx) {
  const Plan& plan = env_.plan();
  const PlanRelease& pr = plan.releases[release_];
  if (!env_.values()) return TaskOutcome::fail("no values directory");
  if (!mw_.has_pushed() || !web_.has_pushed()) return TaskOutcome::fail("an image of this release was not pushed");
  RenderedValues v = render_values(pr.target, plan.registry, release_images(plan, pr));
  bool wrote = env_.values()->write(v.file, v.content);
  if (wrote) ctx.add_bytes_out(v.content.size());
  std::string path = (env_.values()->dir() / v.file).string();
  rendered_.set(std::move(v));
  return {wrote ? TaskState::done : TaskState::cached, {}, path,
          wrote ? "its images changed (or it was not there)" : "the file already says this"};
}

}  // namespace flavourgraph
