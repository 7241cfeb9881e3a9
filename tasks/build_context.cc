#include "build_context.h"

#include <fmt/format.h>

#include <ctime>

#include "task.h"

namespace flavourgraph {

BuildContext::BuildContext(const Plan& p, BuildOptions o, oci::Layout& s)
    : plan(p), options(std::move(o)), store(s), bases(p.bases.size()), layers(p.layers.size()),
      images(p.builds.size()), pushed(p.builds.size()) {}

const oci::Layout& BuildContext::base_layout(const std::filesystem::path& dir) {
  std::lock_guard lock(layouts_mutex_);
  auto it = base_layouts_.find(dir);
  if (it == base_layouts_.end()) it = base_layouts_.emplace(dir, oci::Layout::open(dir, false)).first;
  return *it->second;
}

std::string iso_time(int64_t unix_seconds) { return format_utc(unix_seconds, "%Y-%m-%dT%H:%M:%SZ"); }

PlanRunner::PlanRunner(BuildContext& bc) {
  tasks_.reserve(bc.plan.tasks.size());
  for (const auto& t : bc.plan.tasks) {
    switch (t.kind) {
      case TaskKind::base_pull: tasks_.push_back(make_base_pull_task(bc, t.subject)); break;
      case TaskKind::layer: tasks_.push_back(make_layer_task(bc, t.subject)); break;
      case TaskKind::build: tasks_.push_back(make_build_task(bc, t.subject)); break;
      case TaskKind::tag: tasks_.push_back(make_tag_task(bc, t.subject)); break;
      case TaskKind::push: tasks_.push_back(make_push_task(bc, t.subject)); break;
      case TaskKind::render_values: tasks_.push_back(make_render_values_task(bc, t.subject)); break;
    }
  }
}

TaskOutcome PlanRunner::run(uint32_t index, TaskContext& ctx) { return tasks_[index]->run(ctx); }

}  // namespace flavourgraph
