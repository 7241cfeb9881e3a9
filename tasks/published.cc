// Build keys, and the images the push target holds under them (published.h).
#include "flavourgraph/tasks/published.h"

#include <fmt/format.h>
#include <oneapi/tbb/parallel_for_each.h>
#include <oneapi/tbb/parallel_invoke.h>
#include <oneapi/tbb/task_arena.h>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/oci/digest.h"
#include "flavourgraph/tasks/previous.h"
#include "flavourgraph/tasks/tasks.h"
#include "flavourgraph/version.h"

namespace flavourgraph {

std::filesystem::path stat_cache_path(const BuildEnv& env, const PlanLayer& layer) {
  std::string id = layer.spec.source_path.string() + "\n" + layer_fingerprint(layer.spec, layer.compression);
  return env.cache_dir() / "layers" / (oci::sha256_hex(id).substr(0, 16) + ".stat");
}

namespace {

/// A tree as content, read through this machine's stat cache (the walk and the cache's load
/// at once). The caller saves the cache again.
LayerScan scan_tree(const std::filesystem::path& root, const oci::Filter& filter, const std::string& spec,
                    const std::filesystem::path& stat_file, const CancelSource& cancel) {
  LayerScan scan;
  oci::StatCache stats;
  tbb::this_task_arena::isolate([&] {
    tbb::parallel_invoke([&] { scan.listing = oci::walk_tree(root, filter, &cancel); },
                         [&] { stats = oci::StatCache::load(stat_file); });
  });
  if (cancel.requested()) throw oci::Cancelled();
  scan.tree = oci::index_tree(root, scan.listing, spec, stats, cancel, &scan.read);
  return scan;
}

}  // namespace

/// Which builder makes a RUN build's bytes: podman's service runs buildah (the same image as a
/// local buildah build, byte for byte); BuildKit is another.
std::string engine_family(const Plan& plan, const PlanRun& pr) {
  if (pr.engine < 0) return "";
  return plan.engines[static_cast<size_t>(pr.engine)].type == EngineType::buildkit ? "buildkit" : "buildah";
}

/// Computes the keys: bases resolved, layer trees read as content, then RUN builds and builds
/// in dependency order (a build's key holds the key of the image it starts from).
struct KeyPass {
  const BuildEnv& env;
  const Plan& plan;
  const CancelSource& cancel;
  PublishedImages& out;
  std::vector<std::string> bases, layers, runs;
  std::vector<int> state;  ///< per build: 0 not yet, 1 computing, 2 done

  void note(const std::string& what, const std::string& why) {
    out.problems_.push_back(fmt::format("{}: no build key: {}", what, why));
  }

  std::string base_digest(const PlanBase& b) {
    auto ref = oci::Reference::parse(b.ref, plan.config->dir);
    if (!ref) throw Error(ref.message());
    if (ref->digest) return ref->digest->str();
    if (ref->kind == oci::Reference::Kind::layout) {
      auto d = env.base_layout(ref->dir).resolve(ref->tag);
      if (!d) throw Error(fmt::format("{} has no image named '{}'", ref->dir.string(), ref->tag));
      return d->digest.str();
    }
    auto d = env.registries().client(ref->host).head_manifest(ref->repository, ref->tag);
    if (!d) throw Error(fmt::format("{} is not at its registry", b.ref));
    return d->digest.str();
  }

  void compute_bases() {
    bases.resize(plan.bases.size());
    for (size_t i = 0; i < plan.bases.size(); ++i) try {
        bases[i] = base_digest(plan.bases[i]);
      } catch (const oci::Cancelled&) {
        throw;
      } catch (const std::exception& e) {
        note("base-pull:" + plan.bases[i].ref, e.what());
      }
  }

  void compute_layers() {
    layers.resize(plan.layers.size());
    out.scans_.resize(plan.layers.size());
    std::vector<uint32_t> todo(plan.layers.size());
    for (uint32_t l = 0; l < todo.size(); ++l) todo[l] = l;
    std::vector<std::string> errors(plan.layers.size());
    tbb::this_task_arena::isolate([&] {
      tbb::parallel_for_each(todo.begin(), todo.end(), [&](uint32_t l) {
        const PlanLayer& pl = plan.layers[l];
        std::string spec = layer_fingerprint(pl.spec, pl.compression);
        try {
          auto scan = std::make_unique<LayerScan>(scan_tree(pl.spec.source_path, oci::Filter(pl.spec.include, pl.spec.exclude),
                                                            spec, stat_cache_path(env, pl), cancel));
          // The spec, and what the image's history and labels say of the layer besides its content.
          layers[l] = oci::sha256_hex(fmt::format("{}\n{}\n{}\nname={}\nsource={}\nincremental={}", spec,
                                                  env.settings().source_date_epoch, oci::content_digest(scan->tree),
                                                  pl.spec.name, pl.spec.source, pl.spec.incremental));
          out.scans_[l] = std::move(scan);
        } catch (const std::exception& e) {
          errors[l] = e.what();
        }
      });
    });
    if (cancel.requested()) throw oci::Cancelled();
    for (size_t l = 0; l < errors.size(); ++l)
      if (!errors[l].empty()) note("layer:" + plan.layers[l].key, errors[l]);
  }

  std::string run_key(uint32_t r) {
    if (!runs[r].empty()) return runs[r];
    const PlanRun& pr = plan.runs[r];
    std::string base = pr.base >= 0 ? bases[static_cast<size_t>(pr.base)] : build_key(static_cast<uint32_t>(pr.base_build));
    if (base.empty()) return "";
    auto stat_file = env.cache_dir() / "runs" / (oci::sha256_hex(pr.spec.context_path.string()).substr(0, 16) + ".stat");
    auto context = scan_tree(pr.spec.context_path, oci::Filter{}, "context", stat_file, cancel);
    try {  // a cache: when it cannot be written, the next run reads the files again
      oci::StatCache::save(stat_file, context.listing, context.tree);
    } catch (const std::exception&) {
    }
    nlohmann::json key = {{"containerfile", oci::sha256_hex(read_file(pr.spec.containerfile_path))},
                          {"context", oci::content_digest(context.tree)},
                          {"target", pr.spec.target.value_or("")},
                          {"args", pr.args},
                          {"base", base},
                          {"engine", engine_family(plan, pr)},
                          {"timestamp", env.settings().source_date_epoch}};
    return runs[r] = oci::sha256_hex(key.dump());
  }

  std::string source_key(const PlanBuild& pb) {
    if (pb.run >= 0) {
      std::string k = run_key(static_cast<uint32_t>(pb.run));
      return k.empty() ? "" : "run:" + k;
    }
    if (pb.base >= 0) {  // the ref as written goes into the image's annotations
      const std::string& d = bases[static_cast<size_t>(pb.base)];
      return d.empty() ? "" : plan.bases[static_cast<size_t>(pb.base)].ref + "@" + d;
    }
    const PlanBuild& parent = plan.builds[static_cast<size_t>(pb.base_build_index())];
    std::string k = build_key(static_cast<uint32_t>(pb.base_build_index()));
    return k.empty() ? "" : "build:" + parent.repository + ":" + k;
  }

  std::string build_key(uint32_t b) {
    auto& mine = out.builds_[b];
    if (state[b] == 2) return mine.key;
    if (state[b] == 1) return "";  // a cycle: the plan refuses those; never loop here
    state[b] = 1;
    const PlanBuild& pb = plan.builds[b];
    std::string source;
    try {
      source = source_key(pb);
    } catch (const oci::Cancelled&) {
      throw;
    } catch (const std::exception& e) {
      note("build:" + pb.id_suffix(), e.what());
    }
    nlohmann::json layer_keys = nlohmann::json::array();
    for (uint32_t l : pb.layers) layer_keys.push_back(layers[l]);
    bool complete = !source.empty();
    for (uint32_t l : pb.layers) complete &= !layers[l].empty();
    if (complete) {
      const KindSpec& kind = plan.config->images[pb.image].kinds[pb.kind];
      nlohmann::json key = {{"v", 1},
                            {"builder", std::string(kVersion)},
                            {"source", source},
                            {"layers", layer_keys},
                            {"settings", settings_digest(pb, kind)},
                            {"platform", env.settings().os + "/" + env.settings().arch},
                            {"created", env.settings().source_date_epoch}};
      if (!pb.layers.empty() && plan.layers[pb.layers.back()].spec.incremental) {
        // What an image with an incremental layer carries besides content: its label names, and
        // the layer count it may reach (a lower max_layers wants fewer layers).
        const auto& inc = plan.config->incremental;
        key["incremental"] = {inc.build_type_label, inc.parent_image_label, env.max_layers()};
      }
      mine.key = oci::sha256_hex(key.dump());
    }
    state[b] = 2;
    return mine.key;
  }
};

namespace {

/// Marks what no image of the run needs: a build whose image is at the target, or whose every
/// user is skipped; then the layers, bases and RUN builds only skipped builds use.
void mark_skips(const Plan& plan, PublishedImages& p, std::vector<bool>& skip, std::vector<bool>& layers,
                std::vector<bool>& bases, std::vector<bool>& runs) {
  size_t n = plan.builds.size();
  std::vector<std::vector<uint32_t>> users(n);  // builds (and runs' builds) that start from build b
  for (uint32_t b = 0; b < n; ++b) {
    const PlanBuild& pb = plan.builds[b];
    if (pb.base_build_index() >= 0) users[static_cast<size_t>(pb.base_build_index())].push_back(b);
    if (pb.run >= 0 && plan.runs[static_cast<size_t>(pb.run)].base_build >= 0)
      users[static_cast<size_t>(plan.runs[static_cast<size_t>(pb.run)].base_build)].push_back(b);
  }
  // A published image at the target is taken from there; an ancestor is skipped when every
  // image that starts from it is. Users come later in the plan's order, but settle by rounds
  // (at most one per build).
  skip.assign(n, false);
  for (uint32_t b = 0; b < n; ++b) skip[b] = plan.builds[b].published && p.found(b);
  for (size_t round = 0; round < n; ++round) {
    bool changed = false;
    for (uint32_t b = 0; b < n; ++b) {
      if (skip[b] || plan.builds[b].published || users[b].empty()) continue;
      bool all = true;
      for (uint32_t u : users[b]) all &= static_cast<bool>(skip[u]);
      if (all) skip[b] = changed = true;
    }
    if (!changed) break;
  }
  layers.assign(plan.layers.size(), true);
  bases.assign(plan.bases.size(), true);
  runs.assign(plan.runs.size(), true);
  for (uint32_t b = 0; b < n; ++b) {
    if (skip[b]) continue;
    const PlanBuild& pb = plan.builds[b];
    for (uint32_t l : pb.layers) layers[l] = false;
    if (pb.base >= 0) bases[static_cast<size_t>(pb.base)] = false;
    if (pb.run >= 0) {
      const PlanRun& r = plan.runs[static_cast<size_t>(pb.run)];
      runs[static_cast<size_t>(pb.run)] = false;
      if (r.base >= 0) bases[static_cast<size_t>(r.base)] = false;
    }
  }
}

}  // namespace

std::unique_ptr<PublishedImages> PublishedImages::check(const BuildEnv& env, PreviousBuilds& previous,
                                                        const CancelSource& cancel, bool look_up) {
  const Plan& plan = env.plan();
  auto p = std::make_unique<PublishedImages>();
  p->builds_.resize(plan.builds.size());
  KeyPass pass{env, plan, cancel, *p, {}, {}, std::vector<std::string>(plan.runs.size()), std::vector<int>(plan.builds.size())};
  pass.compute_bases();
  pass.compute_layers();
  for (uint32_t b = 0; b < plan.builds.size(); ++b) pass.build_key(b);
  p->bases_ = pass.bases;
  for (uint32_t b = 0; b < plan.builds.size(); ++b) {
    Build& mine = p->builds_[b];
    if (!look_up || !plan.builds[b].published || mine.key.empty()) continue;
    std::string why;
    mine.found = previous.at_target(b, key_tag(mine.key), &why);
  }
  std::vector<bool> skip;
  mark_skips(plan, *p, skip, p->skip_layers_, p->skip_bases_, p->skip_runs_);
  for (uint32_t b = 0; b < plan.builds.size(); ++b) p->builds_[b].skip = skip[b];
  // This machine's stat caches, for the next run; an incremental layer that runs saves its own
  // (beside its other work), with the scan it takes.
  std::vector<uint32_t> save;
  for (uint32_t l = 0; l < plan.layers.size(); ++l)
    if (p->scans_[l] && (!look_up || !plan.layers[l].spec.incremental || p->skip_layers_[l])) save.push_back(l);
  tbb::this_task_arena::isolate([&] {
    tbb::parallel_for_each(save.begin(), save.end(), [&](uint32_t l) {
      try {  // a cache: when it cannot be written, the next run reads the files again
        oci::StatCache::save(stat_cache_path(env, plan.layers[l]), p->scans_[l]->listing, p->scans_[l]->tree);
      } catch (const std::exception&) {
      }
    });
  });
  if (!look_up) p->scans_.clear();  // the layer tasks read every file themselves
  return p;
}

std::unique_ptr<LayerScan> PublishedImages::take_scan(uint32_t l) const {
  std::lock_guard lock(scans_mutex_);
  return l < scans_.size() ? std::move(scans_[l]) : nullptr;
}

size_t PublishedImages::found_count() const {
  size_t n = 0;
  for (const auto& b : builds_) n += b.found.has_value();
  return n;
}

}  // namespace flavourgraph
