#pragma once
// Plan expansion: the steps after the builds are known (engine-internal).

#include <vector>

#include "flavourgraph/plan.h"

namespace flavourgraph {

/// The engines RUN builds go to: images.yaml's, with `cli` replacing those of the same name and
/// adding the rest; buildah on this machine when none is given. Each RUN build gets one: builds
/// on the same base go to the same engine (its cache), groups spread by load over width.
void assign_engines(Plan& plan, const std::vector<EngineSpec>& cli);

/// Puts the tasks in a topological order, keeping the order they were made in wherever the
/// dependencies allow (so plans without `build:` bases keep their familiar order), and
/// renumbers every task index the plan holds.
void sort_tasks(Plan& plan);

/// Gives every task its name for people (PlanTask::name): a layer by its name in images.yaml
/// (an inline layer by its source), told apart by the first image that uses it (then by its
/// key) where several layers would share one; an image by image:flavour:kind.
void name_tasks(Plan& plan);

}  // namespace flavourgraph
