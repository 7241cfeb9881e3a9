// The executor's view of a plan.
#include "flavourgraph/plan_graph.h"

#include <array>

#include "flavourgraph/simulate.h"

namespace flavourgraph {

ExecGraph exec_graph(const Plan& plan, const SimModel* model) {
  // Typical relative costs when no model is given: a layer is the big CPU job, a push the
  // big transfer.
  static constexpr std::array<double, kTaskKindCount> typical = {0.5, 5.0, 0.3, 0.01, 2.0, 0.01, 10.0, 0.05};
  ExecGraph g;
  g.tasks.reserve(plan.tasks.size());
  for (const auto& t : plan.tasks) {
    ExecTask e;
    e.id = t.id;
    e.name = t.name;
    e.kind = std::string(task_kind_name(t.kind));
    // A RUN build waits on an engine (here or remote): it must not hold a CPU worker.
    e.pool = (t.kind == TaskKind::base_pull || t.kind == TaskKind::push || t.kind == TaskKind::run ||
              t.kind == TaskKind::publish) ? Pool::io : Pool::cpu;
    e.deps = t.deps;
    e.after = t.after;
    auto k = static_cast<size_t>(t.kind);
    e.weight = model ? model->seconds[k] : typical[k];
    g.tasks.push_back(std::move(e));
  }
  return g;
}

}  // namespace flavourgraph
