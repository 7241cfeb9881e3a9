// render-values: a release's helmfile values file, written only when its content changed.
// Git commits happen after the run, stage by stage (see engine/publish.cc).
#include <fmt/format.h>

#include "task.h"

namespace flavourgraph {

namespace {

class RenderValuesTask final : public Task {
 public:
  RenderValuesTask(BuildContext& bc, uint32_t release) : bc_(bc), release_(release) {}

  TaskOutcome run(TaskContext& ctx) override {
    const PlanRelease& pr = bc_.plan.releases[release_];
    if (!bc_.values) return TaskOutcome::fail("no values directory");
    const PlanBuild& mw = bc_.plan.builds[static_cast<size_t>(pr.mw_build)];
    const PlanBuild& web = bc_.plan.builds[static_cast<size_t>(pr.web_build)];
    if (!bc_.pushed[static_cast<size_t>(pr.mw_build)] || !bc_.pushed[static_cast<size_t>(pr.web_build)])
      return TaskOutcome::fail("an image of this release was not pushed");
    std::optional<MetaValue> php;
    for (const auto& [k, v] : mw.metadata)
      if (k == "php_version") php = MetaValue{v, false};
    std::string content = values_content(bc_.plan.registry, mw.image_ref(bc_.plan.registry),
                                         web.image_ref(bc_.plan.registry), php);
    std::string file = pr.target.values_file();
    bool wrote = bc_.values->write(file, content);
    if (wrote) ctx.add_bytes_out(content.size());
    return {wrote ? TaskState::done : TaskState::cached, {}, (bc_.values->dir() / file).string()};
  }

 private:
  BuildContext& bc_;
  uint32_t release_;
};

}  // namespace

std::unique_ptr<Task> make_render_values_task(BuildContext& bc, uint32_t release) {
  return std::make_unique<RenderValuesTask>(bc, release);
}

}  // namespace flavourgraph
