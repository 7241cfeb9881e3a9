// `plan` output: text summary, JSON and Graphviz.
#include <fmt/format.h>

#include <array>
#include <nlohmann/json.hpp>
#include <set>

#include "flavourgraph/plan.h"

namespace flavourgraph {
namespace {

using nlohmann::json;

std::string owner_of(const LayerSpec& l) { return fmt::format("{}:{}", l.uid, l.gid); }

size_t distinct_releases(const Plan& plan) {
  std::set<std::string> names;
  for (const auto& r : plan.releases) names.insert(r.target.ns->name + "/" + r.target.release->name);
  return names.size();
}

void layer_json(const Plan& plan, const PlanLayer& l, json& j) {
  j["key"] = l.key;
  j["source"] = l.spec.source;
  j["dest"] = l.spec.dest;
  j["owner"] = owner_of(l.spec);
  j["include"] = l.spec.include;
  j["exclude"] = l.spec.exclude;
  j["compression"] = l.compression.str();
  if (!l.spec.name.empty()) j["name"] = l.spec.name;
  json users = json::array();
  for (uint32_t u : l.builds) users.push_back(plan.tasks[static_cast<size_t>(plan.builds[u].build_task)].id);
  j["used_by"] = users;
}

void build_json(const Plan& plan, const PlanBuild& b, json& j) {
  j["image"] = b.image_name;
  j["flavour"] = b.flavour_name;
  j["image_kind"] = b.kind_name;
  j["repository"] = b.repository;
  j["tag"] = b.tag;
  j["published"] = b.published;
  if (b.base >= 0) j["base"] = plan.bases[static_cast<size_t>(b.base)].ref;
  if (b.parent >= 0)
    j["from"] = plan.tasks[static_cast<size_t>(plan.builds[static_cast<size_t>(b.parent)].build_task)].id;
  if (b.base_build >= 0)
    j["base_build"] = plan.tasks[static_cast<size_t>(plan.builds[static_cast<size_t>(b.base_build)].build_task)].id;
  if (b.run >= 0) j["run"] = plan.tasks[static_cast<size_t>(plan.runs[static_cast<size_t>(b.run)].task)].id;
  json layers = json::array();
  for (uint32_t l : b.layers) layers.push_back("layer:" + plan.layers[l].key);
  j["layers"] = layers;
  j["serves"] = b.serves;
  json args = json::object();
  for (const auto& [k, v] : b.args) args[k] = v;
  j["args"] = args;
}

void run_json(const Plan& plan, const PlanRun& r, json& j) {
  j["key"] = r.key;
  j["containerfile"] = r.spec.containerfile_path.string();
  j["context"] = r.spec.context_path.string();
  if (r.spec.target) j["target"] = *r.spec.target;
  json args = json::object();
  for (const auto& [k, v] : r.args) args[k] = v;
  j["args"] = args;
  j["base"] = r.base >= 0 ? plan.bases[static_cast<size_t>(r.base)].ref
                          : plan.tasks[static_cast<size_t>(plan.builds[static_cast<size_t>(r.base_build)].build_task)].id;
  const EngineSpec& e = plan.engines[static_cast<size_t>(r.engine)];
  j["engine"] = {{"name", e.name}, {"url", e.url}, {"width", e.width}};
  json users = json::array();
  for (uint32_t u : r.builds) users.push_back(plan.tasks[static_cast<size_t>(plan.builds[u].build_task)].id);
  j["used_by"] = users;
}

json task_json(const Plan& plan, const PlanTask& t) {
  json j;
  j["id"] = t.id;
  j["name"] = t.name;
  j["kind"] = std::string(task_kind_name(t.kind));
  json deps = json::array();
  for (uint32_t d : t.deps) deps.push_back(plan.tasks[d].id);
  j["deps"] = deps;
  if (!t.after.empty()) {
    json after = json::array();
    for (uint32_t d : t.after) after.push_back(plan.tasks[d].id);
    j["after"] = after;
  }
  switch (t.kind) {
    case TaskKind::base_pull: {
      const PlanBase& b = plan.bases[t.subject];
      j["ref"] = b.ref;
      json users = json::array();
      for (uint32_t u : b.builds) users.push_back(plan.tasks[static_cast<size_t>(plan.builds[u].build_task)].id);
      j["used_by"] = users;
      break;
    }
    case TaskKind::layer:
      layer_json(plan, plan.layers[t.subject], j);
      break;
    case TaskKind::build:
      build_json(plan, plan.builds[t.subject], j);
      break;
    case TaskKind::run:
      run_json(plan, plan.runs[t.subject], j);
      break;
    case TaskKind::tag: {
      const PlanBuild& b = plan.builds[t.subject];
      json refs = json::array({b.repository + ":" + b.tag});
      for (const auto& x : b.extra_tags) refs.push_back(b.repository + ":" + x);
      j["refs"] = refs;
      break;
    }
    case TaskKind::push: {
      const PlanBuild& b = plan.builds[t.subject];
      j["target"] = plan.registry;
      j["image_ref"] = b.image_ref(plan.registry);
      break;
    }
    case TaskKind::publish:
      j["target"] = plan.registry;
      j["tags_of"] = t.deps.size();
      break;
    case TaskKind::render_values: {
      const PlanRelease& r = plan.releases[t.subject];
      j["namespace"] = r.target.ns->name;
      j["release"] = r.target.release->name;
      j["cluster"] = r.target.cluster;
      j["stage"] = std::string(stage_name(r.target.release->stage));
      j["scope"] = r.target.ns->scope;
      j["deploy"] = r.target.release->deploy;
      j["values_file"] = r.target.values_file();
      j["mw_image"] = plan.builds[static_cast<size_t>(r.mw_build)].image_ref(plan.registry);
      j["web_image"] = plan.builds[static_cast<size_t>(r.web_build)].image_ref(plan.registry);
      break;
    }
  }
  return j;
}

json variables_json(const ImagesConfig& cfg) {
  json out = json::object();
  for (const auto& v : cfg.variables) out[v.name] = v.list ? json(v.values) : json(v.str());
  return out;
}

}  // namespace

std::string plan_to_json(const Plan& plan) {
  json tasks = json::array();
  for (const auto& t : plan.tasks) tasks.push_back(task_json(plan, t));
  json by_kind = json::object();
  for (size_t k = 0; k < kTaskKindCount; ++k)
    by_kind[std::string(task_kind_name(static_cast<TaskKind>(k)))] = plan.count(static_cast<TaskKind>(k));
  size_t layer_uses = 0, base_uses = 0;
  for (const auto& b : plan.builds) {
    layer_uses += b.layers.size();
    base_uses += b.base >= 0;
  }
  json stages = json::object();
  for (Stage s : kStages) {
    json ids = json::array();
    for (const auto& r : plan.releases)
      if (r.target.release->stage == s) ids.push_back(r.target.id());
    stages[std::string(stage_name(s))] = ids;
  }
  json cp = json::array();
  for (uint32_t i : plan.critical_path()) cp.push_back(plan.tasks[i].id);
  json summary = {
      {"tasks", plan.tasks.size()},
      {"by_kind", by_kind},
      {"builds", plan.builds.size()},
      {"published_images", plan.count(TaskKind::push)},
      {"releases", distinct_releases(plan)},
      {"values_files", plan.releases.size()},
      {"layers", {{"tasks", plan.layers.size()}, {"uses", layer_uses}}},
      {"bases", {{"tasks", plan.bases.size()}, {"uses", base_uses}}},
      {"stages", stages},
      {"critical_path", cp},
      {"registry", plan.registry},
      {"push", plan.push},
      {"atomic", plan.atomic},
      {"timestamp", plan.timestamp},
      {"variables", variables_json(*plan.config)},
      {"warnings", plan.warnings},
  };
  json out = {{"tasks", tasks}, {"summary", summary}};
  return out.dump(2) + "\n";
}

std::string plan_to_text(const Plan& plan) {
  std::string out;
  out += fmt::format("plan: {} tasks (", plan.tasks.size());
  for (size_t k = 0; k < kTaskKindCount; ++k)
    if (static_cast<TaskKind>(k) != TaskKind::run || !plan.runs.empty())
      out += fmt::format("{}{} {}", k ? ", " : "", plan.count(static_cast<TaskKind>(k)),
                         task_kind_name(static_cast<TaskKind>(k)));
  out += ")\n";
  size_t layer_uses = 0, base_uses = 0;
  for (const auto& b : plan.builds) {
    layer_uses += b.layers.size();
    base_uses += b.base >= 0;
  }
  out += fmt::format("shared: {} layer task(s) for {} layer use(s); {} base-pull(s) for {} "
                     "build(s) on a base; {} build(s) for {} values file(s) of {} release(s)\n",
                     plan.layers.size(), layer_uses, plan.bases.size(), base_uses, plan.builds.size(),
                     plan.releases.size(), distinct_releases(plan));
  if (!plan.config->variables.empty()) {
    std::vector<std::string> vars;
    for (const auto& v : plan.config->variables) vars.push_back(v.name + "=" + v.str() + (v.set ? " (--set)" : ""));
    out += fmt::format("variables: {}\n", fmt::join(vars, ", "));
  }
  out += fmt::format("registry: {}\n", plan.registry);
  if (!plan.runs.empty()) {
    out += fmt::format("engines for {} RUN build(s):", plan.runs.size());
    for (const auto& e : plan.engines) out += fmt::format(" {}={} (width {})", e.name, e.url, e.width);
    out += "\n";
  }
  out += "\nbuilds:\n";
  for (const auto& b : plan.builds) {
    out += fmt::format("  {}", b.id_suffix());
    if (b.published)
      out += fmt::format(" -> {}:{}", b.repository, b.tag);
    else
      out += " (built as a parent only, not published)";
    out += "\n    ";
    if (b.run >= 0) {
      const PlanRun& r = plan.runs[static_cast<size_t>(b.run)];
      out += fmt::format("run {} ({}) on {} on engine {}", r.spec.containerfile, r.key,
                         r.base >= 0 ? plan.bases[static_cast<size_t>(r.base)].ref
                                     : "build:" + plan.builds[static_cast<size_t>(r.base_build)].id_suffix(),
                         plan.engines[static_cast<size_t>(r.engine)].name);
    } else if (b.base >= 0) {
      out += "base " + plan.bases[static_cast<size_t>(b.base)].ref;
    } else if (b.base_build >= 0) {
      out += "base build:" + plan.builds[static_cast<size_t>(b.base_build)].id_suffix();
    } else {
      out += "from " + plan.builds[static_cast<size_t>(b.parent)].kind_name;
    }
    for (uint32_t l : b.layers) {
      const PlanLayer& pl = plan.layers[l];
      out += fmt::format("; layer {} -> {} ({})", pl.spec.name.empty() ? pl.spec.source : pl.spec.name,
                         pl.spec.dest, pl.key);
    }
    out += "\n";
    if (!b.serves.empty())
      out += fmt::format("    serves {}: {}\n", b.serves.size(), fmt::join(b.serves, ", "));
  }
  out += "\nstages (rollout order):\n";
  for (Stage s : kStages) {
    std::vector<std::string> ids;
    for (const auto& r : plan.releases)
      if (r.target.release->stage == s)
        ids.push_back(r.target.id() + (r.target.release->deploy ? "" : " (deploy: false)"));
    out += fmt::format("  {} ({}): {}\n", stage_name(s), ids.size(),
                       ids.empty() ? std::string("-") : fmt::format("{}", fmt::join(ids, ", ")));
  }
  auto cp = plan.critical_path();
  std::vector<std::string> ids;
  for (uint32_t i : cp) ids.push_back(plan.tasks[i].id);
  out += fmt::format("\ncritical path ({} tasks): {}\n", cp.size(), fmt::join(ids, " -> "));
  return out;
}

std::string plan_to_dot(const Plan& plan) {
  static constexpr std::array<const char*, kTaskKindCount> colours = {
      "#c6dbef", "#fdd0a2", "#a1d99b", "#dadaeb", "#fcbba1", "#d9d9d9", "#fee391", "#fc9272"};
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    return q + "\"";
  };
  std::string out = "digraph plan {\n  rankdir=LR;\n  node [shape=box, style=filled, fontname=\"monospace\"];\n";
  for (const auto& t : plan.tasks)
    out += fmt::format("  {} [fillcolor=\"{}\"];\n", quote(t.id), colours[static_cast<size_t>(t.kind)]);
  for (const auto& t : plan.tasks) {
    for (uint32_t d : t.deps) out += fmt::format("  {} -> {};\n", quote(plan.tasks[d].id), quote(t.id));
    for (uint32_t d : t.after) out += fmt::format("  {} -> {} [style=dashed];\n", quote(plan.tasks[d].id), quote(t.id));
  }
  out += "}\n";
  return out;
}

}  // namespace flavourgraph
