#pragma once
/// The executor's view of a plan: a task per plan task with its dependencies, its pool (base
/// pulls and pushes on the I/O threads) and a weight for critical-path-first priorities.

#include "flavourgraph/executor.h"
#include "flavourgraph/plan.h"

namespace flavourgraph {

struct SimModel;

/// Weights are the model's durations when given, else typical costs.
ExecGraph exec_graph(const Plan& plan, const SimModel* model = nullptr);

}  // namespace flavourgraph
