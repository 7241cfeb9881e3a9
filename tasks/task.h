#pragma once
/// One Task interface for every kind of plan task; one file per kind implements it.
/// The executor sees only TaskRunner; PlanRunner maps plan task indices to Tasks.

#include <memory>
#include <vector>

#include "build_context.h"
#include "flavourgraph/executor.h"

namespace flavourgraph {

class Task {
 public:
  virtual ~Task() = default;
  /// Does the work; throws or returns failed on error, cancelled when asked to stop.
  virtual TaskOutcome run(TaskContext& ctx) = 0;
};

std::unique_ptr<Task> make_base_pull_task(BuildContext& bc, uint32_t base);
std::unique_ptr<Task> make_layer_task(BuildContext& bc, uint32_t layer);
std::unique_ptr<Task> make_build_task(BuildContext& bc, uint32_t build);
std::unique_ptr<Task> make_tag_task(BuildContext& bc, uint32_t build);
std::unique_ptr<Task> make_push_task(BuildContext& bc, uint32_t build);
std::unique_ptr<Task> make_render_values_task(BuildContext& bc, uint32_t release);

class PlanRunner final : public TaskRunner {
 public:
  explicit PlanRunner(BuildContext& bc);
  TaskOutcome run(uint32_t index, TaskContext& ctx) override;

 private:
  std::vector<std::unique_ptr<Task>> tasks_;
};

}  // namespace flavourgraph
