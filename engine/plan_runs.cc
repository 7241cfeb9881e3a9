// The plan's small parts: task kinds, lookups, the critical path; and the steps of expansion
// after the builds are known: engines for RUN builds, the final topological order of the tasks,
// the tasks' names for people.
#include <fmt/format.h>

#include <map>
#include <queue>

#include "plan_parts.h"

namespace flavourgraph {

std::string_view task_kind_name(TaskKind k) {
  switch (k) {
    case TaskKind::base_pull: return "base-pull";
    case TaskKind::layer: return "layer";
    case TaskKind::build: return "build";
    case TaskKind::tag: return "tag";
    case TaskKind::push: return "push";
    case TaskKind::render_values: return "render-values";
    case TaskKind::run: return "run";
    case TaskKind::publish: return "publish";
  }
  return "?";
}

std::optional<TaskKind> parse_task_kind(std::string_view s) {
  for (size_t i = 0; i < kTaskKindCount; ++i) {
    auto k = static_cast<TaskKind>(i);
    if (task_kind_name(k) == s) return k;
  }
  return std::nullopt;
}

std::string PlanBuild::id_suffix() const {
  return image_name + ":" + flavour_name + ":" + kind_name;
}

std::string PlanBuild::image_ref(std::string_view registry) const {
  return fmt::format("{}/{}:{}", registry, repository, tag);
}

int Plan::find(std::string_view id) const {
  for (size_t i = 0; i < tasks.size(); ++i)
    if (tasks[i].id == id) return static_cast<int>(i);
  return -1;
}

size_t Plan::count(TaskKind k) const {
  return static_cast<size_t>(
      std::count_if(tasks.begin(), tasks.end(), [&](const PlanTask& t) { return t.kind == k; }));
}

std::vector<uint32_t> Plan::critical_path() const {
  // Tasks are topologically ordered: longest chain ending at each task, then walk back.
  std::vector<int> len(tasks.size(), 1), prev(tasks.size(), -1);
  for (size_t i = 0; i < tasks.size(); ++i)
    for (uint32_t d : tasks[i].deps)
      if (len[d] + 1 > len[i] || (len[d] + 1 == len[i] && prev[i] > static_cast<int>(d))) {
        len[i] = len[d] + 1;
        prev[i] = static_cast<int>(d);
      }
  std::vector<uint32_t> path;
  if (tasks.empty()) return path;
  int best = 0;
  for (size_t i = 0; i < tasks.size(); ++i)
    if (len[i] > len[static_cast<size_t>(best)]) best = static_cast<int>(i);
  for (int i = best; i >= 0; i = prev[static_cast<size_t>(i)]) path.push_back(static_cast<uint32_t>(i));
  std::reverse(path.begin(), path.end());
  return path;
}


bool Plan::base_holds_layer(uint32_t b, uint32_t l) const {
  auto source_build = [&](const PlanBuild& pb) {
    if (pb.run >= 0) return runs[static_cast<size_t>(pb.run)].base_build;
    return pb.base_build_index();
  };
  int cur = source_build(builds[b]);
  for (size_t guard = 0; cur >= 0 && guard <= builds.size(); ++guard) {
    const PlanBuild& pb = builds[static_cast<size_t>(cur)];
    if (std::find(pb.layers.begin(), pb.layers.end(), l) != pb.layers.end()) return true;
    cur = source_build(pb);
  }
  return false;
}

void assign_engines(Plan& plan, const std::vector<EngineSpec>& cli) {
  std::vector<EngineSpec> engines = plan.config->engines;
  for (const auto& e : cli) {
    auto it = std::find_if(engines.begin(), engines.end(), [&](const EngineSpec& x) { return x.name == e.name; });
    if (it != engines.end())
      *it = e;
    else
      engines.push_back(e);
  }
  if (plan.runs.empty()) {
    plan.engines = std::move(engines);
    return;
  }
  if (engines.empty()) {
    EngineSpec local;
    parse_engine("buildah", local, "local");
    engines.push_back(local);
  }
  plan.engines = std::move(engines);
  std::vector<double> load(plan.engines.size(), 0);
  std::map<std::string, int> engine_of_base;
  for (auto& run : plan.runs) {
    std::string base = run.base >= 0 ? plan.bases[static_cast<size_t>(run.base)].ref
                                     : "build:" + plan.builds[static_cast<size_t>(run.base_build)].id_suffix();
    auto [it, fresh] = engine_of_base.emplace(base, 0);
    if (fresh) {
      size_t best = 0;
      for (size_t e = 1; e < plan.engines.size(); ++e)
        if ((load[e] + 1) / plan.engines[e].width < (load[best] + 1) / plan.engines[best].width) best = e;
      it->second = static_cast<int>(best);
    }
    run.engine = it->second;
    load[static_cast<size_t>(run.engine)] += 1;
  }
}

void sort_tasks(Plan& plan) {
  size_t n = plan.tasks.size();
  std::vector<std::vector<uint32_t>> users(n);
  std::vector<size_t> waiting(n, 0);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t d : plan.tasks[i].deps) users[d].push_back(i);
    for (uint32_t d : plan.tasks[i].after) users[d].push_back(i);
    waiting[i] = plan.tasks[i].deps.size() + plan.tasks[i].after.size();
  }
  std::priority_queue<uint32_t, std::vector<uint32_t>, std::greater<>> ready;
  for (uint32_t i = 0; i < n; ++i)
    if (waiting[i] == 0) ready.push(i);
  std::vector<uint32_t> order;
  order.reserve(n);
  while (!ready.empty()) {
    uint32_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (uint32_t u : users[i])
      if (--waiting[u] == 0) ready.push(u);
  }
  if (order.size() != n) throw std::logic_error("the plan's tasks form a cycle");
  std::vector<uint32_t> renumber(n);
  for (uint32_t pos = 0; pos < n; ++pos) renumber[order[pos]] = pos;
  std::vector<PlanTask> sorted;
  sorted.reserve(n);
  for (uint32_t i : order) {
    PlanTask t = std::move(plan.tasks[i]);
    for (auto& d : t.deps) d = renumber[d];
    for (auto& d : t.after) d = renumber[d];
    sorted.push_back(std::move(t));
  }
  plan.tasks = std::move(sorted);
  auto fix = [&](int& t) {
    if (t >= 0) t = static_cast<int>(renumber[static_cast<size_t>(t)]);
  };
  for (auto& b : plan.builds) {
    fix(b.build_task);
    fix(b.tag_task);
    fix(b.push_task);
  }
  for (auto& r : plan.runs) fix(r.task);
  for (auto& r : plan.releases) fix(r.task);
  fix(plan.publish_task);
}

namespace {

/// Each layer's name for people: its name in images.yaml (an inline layer's source), then, where
/// several layers would share one, the first image that uses each, then a prefix of its key.
std::vector<std::string> layer_names(const Plan& plan) {
  std::vector<std::string> names;
  for (const auto& l : plan.layers) names.push_back(l.spec.name.empty() ? l.spec.source : l.spec.name);
  auto tell_apart = [&](auto&& suffix) {
    std::map<std::string, size_t> uses;
    for (const auto& n : names) ++uses[n];
    for (size_t i = 0; i < names.size(); ++i)
      if (uses[names[i]] > 1) names[i] += suffix(plan.layers[i]);
  };
  tell_apart([&](const PlanLayer& l) {
    return l.builds.empty() ? std::string() : " (" + plan.builds[l.builds.front()].id_suffix() + ")";
  });
  tell_apart([](const PlanLayer& l) { return " #" + l.key.substr(0, 8); });
  return names;
}

}  // namespace

void name_tasks(Plan& plan) {
  std::vector<std::string> layers = layer_names(plan);
  for (auto& t : plan.tasks) {
    switch (t.kind) {
      case TaskKind::base_pull: t.name = "pull " + plan.bases[t.subject].ref; break;
      case TaskKind::layer: t.name = "layer " + layers[t.subject]; break;
      case TaskKind::run: t.name = "run " + plan.runs[t.subject].name; break;
      case TaskKind::build:
      case TaskKind::tag:
      case TaskKind::push:
        t.name = fmt::format("{} {}", task_kind_name(t.kind), plan.builds[t.subject].id_suffix());
        break;
      case TaskKind::render_values: t.name = "values " + plan.releases[t.subject].target.id(); break;
      case TaskKind::publish: t.name = "publish " + plan.registry; break;
    }
  }
}

}  // namespace flavourgraph
