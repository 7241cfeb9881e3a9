// An incremental layer: for each image that uses it, a delta on the image's last good build
// where the rules allow it, else the full layer. One walk and one tree index serve every
// image; one delta serves every image whose last build holds the same tree.
#include <fmt/format.h>
#include <oneapi/tbb/parallel_invoke.h>
#include <oneapi/tbb/task_arena.h>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/oci/digest.h"
#include "flavourgraph/oci/tree_index.h"
#include "flavourgraph/tasks/previous.h"
#include "flavourgraph/tasks/published.h"
#include "flavourgraph/tasks/tasks.h"

namespace flavourgraph {

namespace {

std::string short_digest(const std::string& d) {
  auto colon = d.find(':');
  return colon == std::string::npos ? d.substr(0, 12) : d.substr(colon + 1, 12);
}

std::string megabytes(uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

/// "delta on NAME: 20 changed, 2 added, 3 removed (1.2 MB): a, b, c"
std::string describe(const oci::TreeDelta& d, const std::string& on) {
  if (d.empty()) return "unchanged: the tree is as " + on + " holds it";
  return fmt::format("delta on {}: {} changed, {} added, {} removed ({}): {}", on, d.changed, d.added, d.removed,
                     megabytes(d.bytes), fmt::join(d.sample, ", "));
}

}  // namespace

std::string LayerTask::no_delta(uint32_t build, std::optional<BuildRecord>* previous) const {
  const Plan& plan = env_.plan();
  const PlanBuild& pb = plan.builds[build];
  if (env_.settings().full) return "--full";
  if (env_.settings().no_cache) return "--no-cache";
  if (pb.parent >= 0) return "the kind is built from another kind";
  if (plan.base_holds_layer(build, layer_)) return "its base is built in this run with this layer";
  if (pb.layers.size() != 1) return "the kind has other layers besides this one";
  if (plan.layers[layer_].spec.dest == "/") return "the layer's dest is /: a delta's whiteouts would hide the base's files";
  if (!env_.previous()) return "no previous build";
  std::string why;
  auto prev = env_.previous()->find(build, &why);
  if (!prev) return why;
  if (!prev->incremental) return "the last build " + prev->name + " has no tree index";
  if (prev->incremental->spec != fingerprint_) return "the layer's dest, owner, filters or compression changed";
  const KindSpec& kind = plan.config->images[pb.image].kinds[pb.kind];
  if (prev->settings != settings_digest(pb, kind)) return "the kind's settings (args, env, labels, ...) changed";
  auto base = bases_.find(build);
  if (base == bases_.end() || !base->second->has_image()) return "its base image is not there (its task failed)";
  std::string now = base->second->image().manifest.digest.str();
  if (prev->base_digest != now)
    return fmt::format("the base changed ({} -> {})", short_digest(prev->base_digest), short_digest(now));
  if (static_cast<int>(prev->layers.size()) >= env_.max_layers())
    return fmt::format("the last image has {} layers (max_layers {})", prev->layers.size(), env_.max_layers());
  *previous = std::move(prev);
  return "";
}

struct LayerTask::IncrementalRun {
  oci::TreeListing listing;
  oci::TreeIndex tree;
  std::string full_key;  // the full layer's cache key
  std::map<std::string, std::vector<uint32_t>> by_previous_tree;  // builds by their last tree's digest
  std::map<std::string, Expected<oci::TreeIndex>> previous_trees;
  std::map<std::string, oci::TreeDelta> deltas;
  bool need_full = false;
  bool built = false;
  std::vector<std::string> reasons;
};

void LayerTask::choose(IncrementalRun& run) {
  for (uint32_t b : env_.plan().layers[layer_].builds) {
    if (env_.published() && env_.published()->skip_build(b)) continue;  // taken from the push target
    LayerChoice c;
    std::string why = no_delta(b, &c.previous);
    if (why.empty()) {
      c.delta = true;
      run.by_previous_tree[c.previous->incremental->index.digest.str()].push_back(b);
    } else {
      c.reason = "full layer: " + why;
      run.need_full = true;
    }
    choices_[b] = std::move(c);
  }
  for (const auto& [digest, builds] : run.by_previous_tree) {
    const auto& index = choices_[builds.front()].previous->incremental->index;
    try {
      run.previous_trees.emplace(digest, oci::TreeIndex::parse(env_.store().read_blob(index.digest, size_t{1} << 30)));
    } catch (const oci::StoreError& e) {  // damaged in the store: a full layer, and why
      run.previous_trees.emplace(digest, Error(e.what()));
    }
  }
}

void LayerTask::take_deltas(TaskContext& ctx, IncrementalRun& run) {
  for (auto& [previous_tree, builds] : run.by_previous_tree) {
    const auto& before = run.previous_trees.at(previous_tree);
    std::string why;
    oci::TreeDelta delta;
    if (!before) {
      why = "the last build's tree index does not read: " + before.message();
    } else {
      delta = std::move(run.deltas.at(previous_tree));
      if (static_cast<double>(delta.bytes) > env_.max_delta() * static_cast<double>(run.tree.file_bytes))
        why = fmt::format("the delta would be {:.1f} % of the tree (max_delta {:.0f} %)",
                          100.0 * static_cast<double>(delta.bytes) /
                              static_cast<double>(std::max<uint64_t>(1, run.tree.file_bytes)),
                          100 * env_.max_delta());
    }
    if (!why.empty()) {
      for (uint32_t b : builds) choices_[b] = LayerChoice{false, "full layer: " + why, std::nullopt, nullptr};
      run.need_full = true;
      continue;
    }
    const oci::LayerBlob* blob = nullptr;
    if (!delta.empty()) {
      std::string key = oci::sha256_hex("delta\n" + previous_tree + "\n" + index_->digest.str() + "\n" + run.full_key);
      blob = &(deltas_[previous_tree] = layer_blob(ctx, delta.listing, key, &run.built));
    }
    for (uint32_t b : builds) {
      choices_[b].blob = blob;
      choices_[b].reason = describe(delta, choices_[b].previous->name);
    }
    run.reasons.push_back(describe(delta, choices_[builds.front()].previous->name));
  }
}

void LayerTask::take_full(TaskContext& ctx, IncrementalRun& run) {
  bool full_built = false;
  blob_.set(layer_blob(ctx, run.listing, run.full_key, &full_built));
  run.built |= full_built;
  for (auto& [b, c] : choices_)
    if (!c.delta) {
      c.blob = &blob_.get("the layer");
      run.reasons.push_back(env_.plan().builds[b].id_suffix() + ": " + c.reason);
    }
}

TaskOutcome LayerTask::run_incremental(TaskContext& ctx) {
  const PlanLayer& pl = env_.plan().layers[layer_];
  const LayerSpec& spec = pl.spec;
  fingerprint_ = layer_fingerprint(spec, pl.compression);
  auto stat_file = stat_cache_path(env_, pl);
  // The tree as content (only files whose stat changed since this machine last looked are
  // read): as the build-key pass read it, else walked and indexed here. At the same time, each
  // image's choice (its last build, maybe from the push target) and the last trees, which the
  // deltas compare against.
  IncrementalRun run;
  oci::IndexStats read;
  std::unique_ptr<LayerScan> scan = env_.published() ? env_.published()->take_scan(layer_) : nullptr;
  if (scan) {
    choose(run);
    run.listing = std::move(scan->listing);
    run.tree = std::move(scan->tree);
    read = scan->read;
  } else {
    oci::StatCache stats;
    tbb::this_task_arena::isolate([&] {
      tbb::parallel_invoke(
          [&] { run.listing = oci::walk_tree(spec.source_path, oci::Filter(spec.include, spec.exclude), &ctx.cancel()); },
          [&] { stats = oci::StatCache::load(stat_file); }, [&] { choose(run); });
    });
    if (ctx.cancelled()) return {TaskState::cancelled, "cancelled", {}};
    run.tree = oci::index_tree(spec.source_path, run.listing, fingerprint_,
                               env_.settings().no_cache ? oci::StatCache{} : stats, ctx.cancel(), &read);
  }
  warn_sockets(ctx, run.listing.skipped);
  ctx.add_bytes_in(read.bytes_read);
  run.full_key = oci::layer_cache_key(spec.source_path, oci::tree_hash(run.listing), tar_options(), pl.compression,
                                      spec.include, spec.exclude);
  for (const auto& [digest, before] : run.previous_trees)
    if (before) run.deltas.emplace(digest, oci::TreeDelta{});
  tbb::this_task_arena::isolate([&] {
    tbb::parallel_invoke(
        [&] { oci::StatCache::save(stat_file, run.listing, run.tree); },
        [&] { index_ = env_.store().put_blob(run.tree.serialize(), oci::kTreeIndexMediaType); },
        [&] {
          for (auto& [digest, delta] : run.deltas)
            delta = oci::diff_trees(*run.previous_trees.at(digest), run.tree, run.listing);
        });
  });
  take_deltas(ctx, run);
  if (run.need_full) take_full(ctx, run);
  if (ctx.cancelled()) return {TaskState::cancelled, "cancelled", {}};
  // The output: the full layer when there is one (as for any layer), else the tree index.
  TaskOutcome out{run.built ? TaskState::done : TaskState::cached, {},
                  blob_.has() ? blob_.get("the layer").blob.digest.str() : index_->digest.str(), {}};
  out.reason = fmt::format("{} file(s) read for the tree index ({}); {}", read.files_read, megabytes(read.bytes_read),
                           fmt::join(run.reasons, "; "));
  return out;
}

}  // namespace flavourgraph
