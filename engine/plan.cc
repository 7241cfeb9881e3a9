// Plan expansion: Config × Selection → DAG (design.md §1.2).
#include "flavourgraph/plan.h"

#include "plan_parts.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "flavourgraph/oci/digest.h"
#include "flavourgraph/release_values.h"

namespace flavourgraph {

namespace {

using BuildKey = std::tuple<uint32_t, uint32_t, uint32_t>;  // image, flavour, kind

std::string layer_content_key(const LayerSpec& l, const CompressionSpec& c) {
  std::string s = "flavourgraph-layer-v1\n";
  s += "source=" + std::filesystem::path(l.source).lexically_normal().string() + "\n";
  s += "dest=" + l.dest + "\n";
  for (const auto& p : l.include) s += "include=" + p + "\n";
  for (const auto& p : l.exclude) s += "exclude=" + p + "\n";
  s += fmt::format("owner={}:{}\ncompression={}\n", l.uid, l.gid, c.str());
  if (l.incremental) s += "incremental\n";
  return oci::sha256_hex(s).substr(0, 16);
}

/// Kinds of an image ordered so that a `from:` parent comes before its children.
std::vector<uint32_t> kind_order(const ImageSpec& img) {
  auto depth = [&](uint32_t k) {
    int d = 0;
    const KindSpec* cur = &img.kinds[k];
    while (cur->from && d <= static_cast<int>(img.kinds.size())) {
      cur = img.kind(*cur->from);
      if (!cur) break;
      ++d;
    }
    return d;
  };
  std::vector<uint32_t> order(img.kinds.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return depth(a) < depth(b); });
  return order;
}

std::string join_names(const std::vector<std::string>& v) {
  return fmt::format("{}", fmt::join(v, ", "));
}

/// What builds share, by identity: base-pulls, layers and RUN builds.
struct Shared {
  std::map<std::string, uint32_t> base_of, layer_of, run_of;
};

struct Expander {
  const ImagesConfig& cfg;
  const Selection& sel;
  const PlanOptions& opts;
  Diagnostics& diags;
  Plan& plan;

  std::set<BuildKey> published;
  bool latest_reported = false;  ///< a bad latest tag is said once, not for every image

  /// Resolves a release's image of one role; records errors at the place the value was written.
  std::optional<BuildKey> resolve(const ReleaseTarget& t, const ReleaseImageKey& key) {
    std::string_view image = key.image;
    const std::string& flavour = key.flavour;
    const std::string& kind = key.kind;
    const Location& fl_at = key.flavour_at;
    const std::string& fl_field = key.flavour_field;
    int ii = cfg.image_index(image);
    if (ii < 0) {
      diags.error(fl_at, fl_field,
                  fmt::format("release '{}/{}' needs image '{}', which images.yaml ({}) does not "
                              "declare",
                              t.ns->name, t.release->name, image, cfg.file.string()));
      return std::nullopt;
    }
    const ImageSpec& img = cfg.images[static_cast<size_t>(ii)];
    const FlavourSpec* fl = img.flavour(flavour);
    if (!fl) {
      diags.error(fl_at, fl_field,
                  fmt::format("unknown flavour '{}' of image '{}' (known: {})", flavour, image,
                              join_names(img.flavour_names())));
      return std::nullopt;
    }
    int ki = img.kind_index(kind);
    if (ki < 0) {
      diags.error(key.kind_at, key.kind_field,
                  fmt::format("unknown kind '{}' of image '{}' (known: {})", kind, image,
                              join_names(img.kind_names())));
      return std::nullopt;
    }
    return BuildKey{static_cast<uint32_t>(ii), static_cast<uint32_t>(fl - img.flavours.data()),
                    static_cast<uint32_t>(ki)};
  }

  /// Parses one --only IMAGE:FLAVOUR[:KIND] into build keys.
  void only(const std::string& spec) {
    auto first = spec.find(':');
    auto second = first == std::string::npos ? std::string::npos : spec.find(':', first + 1);
    if (first == std::string::npos) {
      diags.error({}, "--only", fmt::format("'{}' is not IMAGE:FLAVOUR[:KIND]", spec));
      return;
    }
    std::string image = spec.substr(0, first);
    std::string flavour = spec.substr(first + 1, second == std::string::npos ? std::string::npos
                                                                             : second - first - 1);
    std::string kind = second == std::string::npos ? "" : spec.substr(second + 1);
    int ii = cfg.image_index(image);
    if (ii < 0) {
      std::vector<std::string> names;
      for (const auto& i : cfg.images) names.push_back(i.name);
      diags.error({}, "--only", fmt::format("unknown image '{}' (known: {})", image, join_names(names)));
      return;
    }
    const ImageSpec& img = cfg.images[static_cast<size_t>(ii)];
    const FlavourSpec* fl = img.flavour(flavour);
    if (!fl) {
      diags.error({}, "--only", fmt::format("unknown flavour '{}' of image '{}' (known: {})", flavour,
                                            image, join_names(img.flavour_names())));
      return;
    }
    auto fi = static_cast<uint32_t>(fl - img.flavours.data());
    if (kind.empty()) {
      for (uint32_t k = 0; k < img.kinds.size(); ++k) published.insert({static_cast<uint32_t>(ii), fi, k});
      return;
    }
    int ki = img.kind_index(kind);
    if (ki < 0) {
      diags.error({}, "--only", fmt::format("unknown kind '{}' of image '{}' (known: {})", kind, image,
                                            join_names(img.kind_names())));
      return;
    }
    published.insert({static_cast<uint32_t>(ii), fi, static_cast<uint32_t>(ki)});
  }

  /// An incremental layer decides, per image, between a delta and a full build by comparing
  /// each image's base now with the one its last build had: it runs after those base-pulls.
  std::vector<uint32_t> incremental_deps(uint32_t l, const std::vector<uint32_t>& base_task) const {
    std::vector<uint32_t> deps;
    if (!plan.layers[l].spec.incremental) return deps;
    for (uint32_t b : plan.layers[l].builds) {
      const PlanBuild& pb = plan.builds[b];
      if (pb.parent >= 0 || plan.base_holds_layer(b, l)) continue;  // takes no delta (a `from` kind), or would wait on itself
      uint32_t t = source_task(pb, base_task);
      if (std::find(deps.begin(), deps.end(), t) == deps.end()) deps.push_back(t);
    }
    return deps;
  }

  uint32_t add_task(std::string id, TaskKind kind, std::vector<uint32_t> deps, uint32_t subject) {
    plan.tasks.push_back({std::move(id), kind, std::move(deps), {}, subject, {}});
    return static_cast<uint32_t>(plan.tasks.size() - 1);
  }

  /// A release with both its images resolved to builds.
  struct Resolved {
    ReleaseTarget target;
    BuildKey mw, web;
  };

  void run(std::vector<ReleaseTarget> targets) {
    std::vector<Resolved> resolved = resolve_all(targets);  // every release, selected or not
    std::vector<Resolved> chosen = choose(resolved);
    if (diags.has_errors()) return;
    add_builds(chosen);
    add_tasks();
  }

  /// Every release must name images that exist, whether selected or not.
  std::vector<Resolved> resolve_all(const std::vector<ReleaseTarget>& targets) {
    std::vector<Resolved> resolved;
    for (const auto& t : targets) {
      ReleaseImageKeys keys = release_image_keys(*t.release);
      auto mw = resolve(t, keys.mw);
      auto web = resolve(t, keys.web);
      if (mw && web) resolved.push_back({t, *mw, *web});
    }
    // Errors for one release are usually repeated per cluster; keep the first of each.
    dedupe_diagnostics();
    return resolved;
  }

  /// The releases the selection keeps, and the builds it publishes (into `published`).
  std::vector<Resolved> choose(const std::vector<Resolved>& resolved) {
    std::vector<Resolved> chosen;
    if (sel.prunes()) {
      for (const auto& spec : sel.only) only(spec);
      std::set<std::string> matched;
      for (const auto& r : resolved) {
        std::string name = r.target.ns->name + "/" + r.target.release->name;
        bool by_release = std::find(sel.releases.begin(), sel.releases.end(), name) != sel.releases.end();
        bool by_stage = sel.stage && r.target.release->stage == *sel.stage;
        if (by_release) matched.insert(name);
        if (by_release || by_stage) chosen.push_back(r);
      }
      for (const auto& want : sel.releases)
        if (!matched.count(want) && !diags.has_errors())
          diags.error({}, "--release",
                      fmt::format("'{}' matches no release (write NAMESPACE/RELEASE, e.g. "
                                  "mw-web/main)",
                                  want));
      if (sel.stage && std::none_of(resolved.begin(), resolved.end(), [&](const Resolved& r) {
            return r.target.release->stage == *sel.stage;
          }))
        diags.error({}, "--stage",
                    fmt::format("no release is in stage '{}'", stage_name(*sel.stage)));
    } else {
      chosen = resolved;
      if (sel.all_flavours)
        for (uint32_t i = 0; i < cfg.images.size(); ++i)
          for (uint32_t f = 0; f < cfg.images[i].flavours.size(); ++f)
            for (uint32_t k = 0; k < cfg.images[i].kinds.size(); ++k) published.insert({i, f, k});
    }
    for (const auto& r : chosen) {
      published.insert(r.mw);
      published.insert(r.web);
    }
    return chosen;
  }

  /// The build a kind's `build:IMAGE/FLAVOUR/KIND` base names (nullopt for other bases).
  std::optional<BuildKey> build_ref_of(uint32_t i, uint32_t f, uint32_t k) {
    const ImageSpec& img = cfg.images[i];
    const KindSpec& kind = img.kinds[k];
    if (kind.from) return std::nullopt;
    const std::optional<std::string>& tmpl = kind.base ? kind.base : img.flavours[f].base;
    std::string ref = expand_template(tmpl.value_or(""), vars_of(i, f, k), nullptr);
    std::string problem;
    auto r = parse_build_ref(ref, &problem);
    if (!r) {
      if (!problem.empty()) diags.error(kind.base_at, "base", problem);
      return std::nullopt;
    }
    int ti = cfg.image_index(r->image);
    const ImageSpec* target = ti < 0 ? nullptr : &cfg.images[static_cast<size_t>(ti)];
    const FlavourSpec* tf = target ? target->flavour(r->flavour) : nullptr;
    int tk = target ? target->kind_index(r->kind) : -1;
    if (!tf || tk < 0) {
      diags.error(kind.base_at, "base", fmt::format("'{}' (for {}:{}:{}) names no kind of this file", ref, img.name,
                                                    img.flavours[f].name, kind.name));
      return std::nullopt;
    }
    return BuildKey{static_cast<uint32_t>(ti), static_cast<uint32_t>(tf - target->flavours.data()),
                    static_cast<uint32_t>(tk)};
  }

  /// The builds a build needs first: its `from` kind and its `build:` base.
  std::vector<BuildKey> build_deps(const BuildKey& key) {
    auto [i, f, k] = key;
    const ImageSpec& img = cfg.images[i];
    std::vector<BuildKey> out;
    if (const KindSpec& kind = img.kinds[k]; kind.from) {
      int pk = img.kind_index(*kind.from);
      if (pk >= 0) out.push_back({i, f, static_cast<uint32_t>(pk)});
    } else if (auto ref = build_ref_of(i, f, k)) {
      out.push_back(*ref);
    }
    return out;
  }

  /// Adds `key` and every build it needs to `needed`; reports a cycle of `build:` bases.
  void need(const BuildKey& key, std::set<BuildKey>& needed, std::vector<BuildKey>& stack) {
    if (std::find(stack.begin(), stack.end(), key) != stack.end()) {
      std::vector<std::string> names;
      for (const auto& [i, f, k] : stack)
        names.push_back(fmt::format("{}:{}:{}", cfg.images[i].name, cfg.images[i].flavours[f].name, cfg.images[i].kinds[k].name));
      auto [i, f, k] = key;
      diags.error(cfg.images[i].kinds[k].base_at, "base", fmt::format("bases form a cycle: {}", fmt::join(names, " -> ")));
      return;
    }
    if (!needed.insert(key).second) return;
    stack.push_back(key);
    for (const auto& dep : build_deps(key)) need(dep, needed, stack);
    stack.pop_back();
  }

  /// Makes `key`'s build after the builds it needs (which may come later in config order).
  uint32_t ensure(const BuildKey& key, std::map<BuildKey, uint32_t>& build_of, Shared& shared) {
    if (auto it = build_of.find(key); it != build_of.end()) return it->second;
    for (const auto& dep : build_deps(key)) ensure(dep, build_of, shared);
    auto [i, f, k] = key;
    uint32_t index = make_build(i, f, k, build_of, shared);
    build_of[key] = index;
    return index;
  }

  /// Builds in config order (image, flavour, kind with `from` parents first, a `build:` base
  /// before the builds on it), and the releases they serve.
  void add_builds(const std::vector<Resolved>& chosen) {
    std::set<BuildKey> needed;
    std::vector<BuildKey> stack;
    for (const auto& key : published) need(key, needed, stack);
    if (diags.has_errors()) return;
    std::map<BuildKey, uint32_t> build_of;
    Shared shared;
    for (uint32_t i = 0; i < cfg.images.size(); ++i) {
      auto korder = kind_order(cfg.images[i]);
      for (uint32_t f = 0; f < cfg.images[i].flavours.size(); ++f)
        for (uint32_t k : korder)
          if (needed.count({i, f, k})) ensure({i, f, k}, build_of, shared);
    }
    assign_names();
    for (const auto& r : chosen) {
      PlanRelease pr{r.target, static_cast<int>(build_of.at(r.mw)), static_cast<int>(build_of.at(r.web)), -1};
      plan.builds[static_cast<size_t>(pr.mw_build)].serves.push_back(r.target.id());
      plan.builds[static_cast<size_t>(pr.web_build)].serves.push_back(r.target.id());
      plan.releases.push_back(std::move(pr));
    }
  }

  /// The task whose image build `b` starts from: a base-pull, a build or a RUN build.
  uint32_t source_task(const PlanBuild& pb, const std::vector<uint32_t>& base_task) const {
    if (pb.run >= 0) return static_cast<uint32_t>(plan.runs[static_cast<size_t>(pb.run)].task);
    if (pb.base >= 0) return base_task[static_cast<size_t>(pb.base)];
    return static_cast<uint32_t>(plan.builds[static_cast<size_t>(pb.base_build_index())].build_task);
  }

  /// Tasks: base-pulls, RUN builds, layers, builds, tags, pushes, render-values; then put in a
  /// topological order (a build's task index is known before its task is made).
  void add_tasks() {
    std::vector<uint32_t> base_task, layer_task;
    for (uint32_t b = 0; b < plan.bases.size(); ++b)
      base_task.push_back(add_task("base-pull:" + plan.bases[b].ref, TaskKind::base_pull, {}, b));
    auto first_build_task = static_cast<uint32_t>(plan.bases.size() + plan.runs.size() + plan.layers.size());
    for (uint32_t b = 0; b < plan.builds.size(); ++b) plan.builds[b].build_task = static_cast<int>(first_build_task + b);
    for (uint32_t r = 0; r < plan.runs.size(); ++r) {
      PlanRun& run = plan.runs[r];
      uint32_t dep = run.base >= 0 ? base_task[static_cast<size_t>(run.base)]
                                   : static_cast<uint32_t>(plan.builds[static_cast<size_t>(run.base_build)].build_task);
      run.task = static_cast<int>(add_task("run:" + run.name, TaskKind::run, {dep}, r));
    }
    for (uint32_t l = 0; l < plan.layers.size(); ++l) {
      layer_task.push_back(add_task("layer:" + plan.layers[l].key, TaskKind::layer, {}, l));
      plan.tasks.back().after = incremental_deps(l, base_task);
    }
    for (uint32_t b = 0; b < plan.builds.size(); ++b) {
      PlanBuild& pb = plan.builds[b];
      std::vector<uint32_t> deps = {source_task(pb, base_task)};
      for (uint32_t l : pb.layers)
        if (std::find(deps.begin(), deps.end(), layer_task[l]) == deps.end()) deps.push_back(layer_task[l]);
      add_task("build:" + pb.id_suffix(), TaskKind::build, deps, b);
    }
    for (uint32_t b = 0; b < plan.builds.size(); ++b) {
      PlanBuild& pb = plan.builds[b];
      if (pb.published)
        pb.tag_task = static_cast<int>(
            add_task("tag:" + pb.id_suffix(), TaskKind::tag, {static_cast<uint32_t>(pb.build_task)}, b));
    }
    if (plan.push) add_publish_tasks();
    assign_engines(plan, opts.engines);
    sort_tasks(plan);
    name_tasks(plan);
  }

  /// Pushes, the publish task of an atomic run, and render-values (which read pushed images).
  void add_publish_tasks() {
    std::vector<uint32_t> pushes;
    for (uint32_t b = 0; b < plan.builds.size(); ++b) {
      PlanBuild& pb = plan.builds[b];
      if (!pb.published) continue;
      pb.push_task = static_cast<int>(
          add_task("push:" + pb.id_suffix(), TaskKind::push, {static_cast<uint32_t>(pb.tag_task)}, b));
      pushes.push_back(static_cast<uint32_t>(pb.push_task));
    }
    if (plan.atomic && !pushes.empty())
      plan.publish_task = static_cast<int>(add_task("publish:" + plan.registry, TaskKind::publish, pushes, 0));
    for (uint32_t r = 0; r < plan.releases.size(); ++r) {
      PlanRelease& pr = plan.releases[r];
      std::vector<uint32_t> deps;
      if (plan.publish_task >= 0) {
        deps.push_back(static_cast<uint32_t>(plan.publish_task));
      } else {
        deps.push_back(static_cast<uint32_t>(plan.builds[static_cast<size_t>(pr.mw_build)].push_task));
        auto web = static_cast<uint32_t>(plan.builds[static_cast<size_t>(pr.web_build)].push_task);
        if (web != deps[0]) deps.push_back(web);
      }
      pr.task = static_cast<int>(add_task("render-values:" + pr.target.id(), TaskKind::render_values, deps, r));
    }
  }

  StringPairs vars_of(uint32_t i, uint32_t f, uint32_t k) const {
    return template_vars(cfg, cfg.images[i], cfg.images[i].flavours[f], cfg.images[i].kinds[k]);
  }

  uint32_t base_index(const std::string& ref, Shared& shared) {
    auto [it, fresh] = shared.base_of.emplace(ref, static_cast<uint32_t>(plan.bases.size()));
    if (fresh) plan.bases.push_back({ref, {}});
    return it->second;
  }

  /// The RUN build of `kind` on the given base: one per Containerfile, context, target, args and base.
  uint32_t run_index(const KindSpec& kind, const PlanBuild& b, int base, int base_build, Shared& shared) {
    const RunSpec& spec = *kind.run;
    nlohmann::json id = {{"containerfile", spec.containerfile_path.string()},
                         {"context", spec.context_path.string()},
                         {"target", spec.target.value_or("")},
                         {"args", b.args},
                         {"base", base >= 0 ? plan.bases[static_cast<size_t>(base)].ref
                                            : "build:" + plan.builds[static_cast<size_t>(base_build)].id_suffix()}};
    std::string key = oci::sha256_hex(id.dump()).substr(0, 16);
    auto [it, fresh] = shared.run_of.emplace(key, static_cast<uint32_t>(plan.runs.size()));
    if (fresh) plan.runs.push_back({key, b.id_suffix(), spec, b.args, base, base_build, -1, {}, -1});
    return it->second;
  }

  /// Where a build starts: a RUN build (on its `from` kind, `build:` base or pulled base), its
  /// `from` kind, a `build:` base, or a pulled base.
  void set_source(PlanBuild& b, uint32_t index, const BuildKey& key, const std::map<BuildKey, uint32_t>& build_of,
                  Shared& shared) {
    auto [i, f, k] = key;
    const ImageSpec& img = cfg.images[i];
    const KindSpec& kind = img.kinds[k];
    int base = -1, base_build = -1;
    if (kind.from) {
      base_build = static_cast<int>(build_of.at({i, f, static_cast<uint32_t>(img.kind_index(*kind.from))}));
    } else if (auto ref = build_ref_of(i, f, k)) {
      base_build = static_cast<int>(build_of.at(*ref));
    } else {
      const std::optional<std::string>& tmpl = kind.base ? kind.base : img.flavours[f].base;
      base = static_cast<int>(base_index(expand_template(tmpl.value_or(""), vars_of(i, f, k), nullptr), shared));
    }
    if (kind.run) {
      b.run = static_cast<int>(run_index(kind, b, base, base_build, shared));
      plan.runs[static_cast<size_t>(b.run)].builds.push_back(index);
    } else if (kind.from) {
      b.parent = base_build;
    } else if (base_build >= 0) {
      b.base_build = base_build;
    } else {
      b.base = base;
      plan.bases[static_cast<size_t>(base)].builds.push_back(index);
    }
  }

  uint32_t make_build(uint32_t i, uint32_t f, uint32_t k, const std::map<BuildKey, uint32_t>& build_of,
                      Shared& shared) {
    const ImageSpec& img = cfg.images[i];
    const FlavourSpec& fl = img.flavours[f];
    const KindSpec& kind = img.kinds[k];
    PlanBuild b;
    b.image = i;
    b.flavour = f;
    b.kind = k;
    b.image_name = img.name;
    b.flavour_name = fl.name;
    b.kind_name = kind.name;
    b.published = published.count({i, f, k}) > 0;
    StringPairs vars = vars_of(i, f, k);
    b.repository = expand_template(kind.repository, vars, nullptr);
    StringPairs tag_vars = vars;
    tag_vars.emplace_back("timestamp", plan.timestamp);
    b.tag = expand_template(cfg.tag_template, tag_vars, nullptr);
    if (!valid_tag(b.tag))
      diags.error(cfg.tag_where, "tag",
                  fmt::format("'{}' (for {}) is not a valid image tag: letters, digits, '_', '.', "
                              "'-', at most 128, not starting with '.' or '-'",
                              b.tag, b.id_suffix()));
    std::vector<std::string> unknown;
    std::string latest = expand_template(opts.latest_tag.value_or(cfg.latest_tag), vars, &unknown);
    if (!unknown.empty() || (!latest.empty() && !valid_tag(latest))) {  // images.yaml's is checked at load
      if (!std::exchange(latest_reported, true))
        diags.error(opts.latest_tag ? Location{} : cfg.latest_tag_where, opts.latest_tag ? "--latest-tag" : "latest_tag",
                  unknown.empty()                            ? fmt::format("gives '{}' for {}, not a valid tag", latest, b.id_suffix())
                  : unknown.front().rfind("unclosed", 0) == 0 ? unknown.front()
                                                              : fmt::format("'{{{}}}' is not defined (known: image, flavour, kind, the "
                                                "flavour's args and the variables)", unknown.front()));
      latest.clear();
    }
    if (!latest.empty() && latest != b.tag) b.extra_tags.push_back(latest);
    b.args = fl.args;
    b.metadata = fl.metadata;
    for (const auto& [name, v] : kind.config.env) b.env.emplace_back(name, expand_template(v, vars, nullptr));
    for (const auto& [name, v] : kind.config.labels) b.labels.emplace_back(name, expand_template(v, vars, nullptr));
    auto index = static_cast<uint32_t>(plan.builds.size());
    set_source(b, index, {i, f, k}, build_of, shared);
    for (const auto& ls : kind.layers) {
      std::string key = layer_content_key(ls, cfg.compression);
      auto [it, fresh] = shared.layer_of.emplace(key, static_cast<uint32_t>(plan.layers.size()));
      if (fresh) plan.layers.push_back({key, ls, cfg.compression, {}});
      plan.layers[it->second].builds.push_back(index);
      b.layers.push_back(it->second);
    }
    plan.builds.push_back(std::move(b));
    return index;
  }

  /// A name (repository:tag) belongs to one published image. Two builds given the same
  /// primary name is an error; an extra tag shared by several (`latest` of a repository that
  /// several flavours publish to) goes to the last of them in plan order only, so that it does
  /// not change hands from run to run.
  void assign_names() {
    std::map<std::string, uint32_t> primary, extra;
    for (uint32_t b = 0; b < plan.builds.size(); ++b) {
      const PlanBuild& pb = plan.builds[b];
      if (!pb.published) continue;
      auto [it, fresh] = primary.emplace(pb.repository + ":" + pb.tag, b);
      if (!fresh)
        diags.error(cfg.tag_where, "tag",
                    fmt::format("{} and {} would both be named {}:{}; make the tag template tell them apart "
                                "(e.g. with {{flavour}} or {{kind}})",
                                plan.builds[it->second].id_suffix(), pb.id_suffix(), pb.repository, pb.tag));
      for (const auto& t : pb.extra_tags) extra[pb.repository + ":" + t] = b;
    }
    for (uint32_t b = 0; b < plan.builds.size(); ++b) {
      PlanBuild& pb = plan.builds[b];
      std::erase_if(pb.extra_tags, [&](const std::string& t) {
        auto it = extra.find(pb.repository + ":" + t);
        return !pb.published || it == extra.end() || it->second != b || primary.count(pb.repository + ":" + t);
      });
    }
  }

  void dedupe_diagnostics() {
    Diagnostics out;
    std::set<std::string> seen;
    for (const auto& d : diags.items())
      if (seen.insert(d.str()).second) out.add(d);
    diags = std::move(out);
  }
};

}  // namespace

Plan expand(std::shared_ptr<const ImagesConfig> config,
            std::shared_ptr<const DeploymentsFile> deployments, const Selection& selection,
            const PlanOptions& options, Diagnostics& diags) {
  Plan plan;
  plan.config = config;
  plan.deployments = deployments;
  plan.registry = options.registry.value_or(config->registry);
  if (plan.registry.empty())
    diags.error({config->file.string(), 0, 0}, "registry",
                "no push target: set 'registry:' in images.yaml or pass --registry");
  plan.timestamp = options.timestamp;
  plan.push = options.push;
  plan.atomic = options.atomic && options.push;
  std::vector<std::string> clusters = options.clusters.value_or(config->clusters);
  plan.clusters = clusters;

  std::vector<ReleaseTarget> targets;
  if (deployments) {
    Diagnostics local;
    targets = expand_targets(*deployments, clusters, local);
    diags.append(local);
    for (const auto& t : targets) plan.values_files.insert(t.values_file());
    bool any_ns_clusters = std::any_of(deployments->namespaces.begin(), deployments->namespaces.end(),
                                       [](const NamespaceSpec& n) { return !n.clusters.empty(); });
    if (any_ns_clusters && clusters.empty())
      for (const auto& ns : deployments->namespaces)
        if (ns.clusters.empty() && !ns.releases.empty())
          diags.warning(ns.where, ns.name,
                        fmt::format("no clusters and no default cluster list (--clusters or "
                                    "'clusters:' in images.yaml): its values files are named "
                                    "'{}-<release>.yaml', without a cluster",
                                    ns.name));
    if (selection.scope) {
      bool known = std::any_of(deployments->namespaces.begin(), deployments->namespaces.end(),
                               [&](const NamespaceSpec& n) { return n.scope == *selection.scope; });
      if (!known)
        diags.error({}, "--scope", fmt::format("'{}' matches no deployment targets", *selection.scope));
      std::erase_if(targets, [&](const ReleaseTarget& t) { return t.ns->scope != *selection.scope; });
    }
  }
  Expander ex{*config, selection, options, diags, plan, {}};
  ex.run(std::move(targets));
  for (const auto& d : diags.items())
    if (d.severity == Severity::warning) plan.warnings.push_back(d.str());
  return plan;
}

}  // namespace flavourgraph
