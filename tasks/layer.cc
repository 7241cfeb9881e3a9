// layer: a reproducible, compressed tar of a source tree, cached by a key computed from the
// tree's listing (no file is read when the key is unchanged). Incremental layers are in
// incremental_layer.cc.
#include <fmt/format.h>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/tasks/published.h"
#include "flavourgraph/tasks/tasks.h"

namespace flavourgraph {

std::string layer_fingerprint(const LayerSpec& spec, const oci::CompressionSpec& compression) {
  return fmt::format("dest={};owner={}:{};include={};exclude={};compression={}", spec.dest, spec.uid, spec.gid,
                     fmt::join(spec.include, ","), fmt::join(spec.exclude, ","), compression.str());
}

bool LayerTask::incremental() const { return env_.plan().layers[layer_].spec.incremental; }

const LayerChoice* LayerTask::choice(uint32_t build) const {
  auto it = choices_.find(build);
  return it == choices_.end() ? nullptr : &it->second;
}

const oci::LayerBlob* LayerTask::blob_for(uint32_t build) const {
  if (!incremental()) return &blob();
  const LayerChoice* c = choice(build);
  return c ? c->blob : nullptr;
}

oci::TarOptions LayerTask::tar_options() const {
  const LayerSpec& spec = env_.plan().layers[layer_].spec;
  oci::TarOptions tar;
  tar.dest = spec.dest == "/" ? "" : spec.dest.substr(1);
  tar.uid = spec.uid;
  tar.gid = spec.gid;
  tar.mtime = env_.settings().source_date_epoch;
  return tar;
}

TaskOutcome LayerTask::run(TaskContext& ctx) {
  const LayerSpec& spec = env_.plan().layers[layer_].spec;
  if (const PublishedImages* p = env_.published(); p && p->skip_layer(layer_))
    return {TaskState::cached, {}, {}, "published already: every image that needs it is at the push target"};
  std::string where = spec.where.str();
  std::error_code ec;
  if (!std::filesystem::is_directory(spec.source_path, ec))
    return TaskOutcome::fail(fmt::format("layer source {} is not a directory ({}{})", spec.source_path.string(),
                                         where.empty() ? "" : "set at ", where));
  try {
    return incremental() ? run_incremental(ctx) : run_full(ctx);
  } catch (const oci::Cancelled&) {
    return {TaskState::cancelled, "cancelled", {}};
  }
}

TaskOutcome LayerTask::run_full(TaskContext& ctx) {
  const PlanLayer& pl = env_.plan().layers[layer_];
  const LayerSpec& spec = pl.spec;
  // The tree as the build-key pass listed it (so that the layer holds what its key says), else
  // a walk that stores nothing decides whether the layer is cached.
  std::unique_ptr<LayerScan> scan = env_.published() ? env_.published()->take_scan(layer_) : nullptr;
  oci::Filter filter(spec.include, spec.exclude);
  auto key_of = [&](const std::string& tree) {
    return oci::layer_cache_key(spec.source_path, tree, tar_options(), pl.compression, spec.include, spec.exclude);
  };
  if (!env_.settings().no_cache) {
    std::vector<std::string> sockets;
    std::string key = key_of(scan ? oci::tree_hash(scan->listing)
                                  : oci::tree_hash(spec.source_path, filter, &ctx.cancel(), &sockets));
    if (ctx.cancelled()) return {TaskState::cancelled, "cancelled", {}};
    warn_sockets(ctx, scan ? scan->listing.skipped : sockets);
    if (auto cached = cached_entry(env_.cache_dir() / "layers" / (key + ".json"))) {
      blob_.set(*cached);
      return {TaskState::cached, {}, cached->blob.digest.str(), "the tree is as when the layer was last built"};
    }
  }
  oci::TreeListing listing = scan ? std::move(scan->listing) : oci::walk_tree(spec.source_path, filter, &ctx.cancel());
  if (ctx.cancelled()) return {TaskState::cancelled, "cancelled", {}};
  if (env_.settings().no_cache) warn_sockets(ctx, listing.skipped);
  // Recorded under the key of the listing the layer is made from, so that a tree that changed
  // since the first walk cannot leave a wrong entry behind.
  bool built = false;
  oci::LayerBlob blob = layer_blob(ctx, listing, key_of(oci::tree_hash(listing)), &built);
  blob_.set(blob);
  return {TaskState::done, {}, blob.blob.digest.str(),
          env_.settings().no_cache ? "--no-cache" : "the tree changed since the layer was last built (or never was)"};
}

oci::LayerBlob LayerTask::layer_blob(TaskContext& ctx, const oci::TreeListing& listing, const std::string& key,
                                     bool* built) {
  const PlanLayer& pl = env_.plan().layers[layer_];
  auto entry_path = env_.cache_dir() / "layers" / (key + ".json");
  if (!env_.settings().no_cache)
    if (auto cached = cached_entry(entry_path)) return *cached;
  uint64_t read = 0;
  uint64_t total = oci::estimated_tar_size(listing, tar_options());
  ctx.progress(0, total);
  oci::LayerBlob blob = oci::write_layer(pl.spec.source_path, listing, tar_options(), pl.compression, env_.store(),
                                         ctx.cancel(), [&](uint64_t n) {
                                           read = n;
                                           ctx.progress(n, std::max(n, total));
                                         });
  ctx.add_bytes_in(read);
  ctx.add_bytes_out(static_cast<uint64_t>(blob.blob.size));
  write_entry(entry_path, blob);
  *built = true;
  return blob;
}

/// Sockets cannot be archived: the layer leaves them out, and says so.
void LayerTask::warn_sockets(TaskContext& ctx, const std::vector<std::string>& sockets) const {
  if (sockets.empty()) return;
  const PlanLayer& pl = env_.plan().layers[layer_];
  std::vector<std::string> shown(sockets.begin(), sockets.begin() + static_cast<long>(std::min<size_t>(sockets.size(), 5)));
  ctx.warn(fmt::format("{} socket(s) in {} left out of the layer (a socket cannot be archived): {}{}", sockets.size(),
                       pl.spec.source_path.string(), fmt::join(shown, ", "), sockets.size() > shown.size() ? ", ..." : ""));
}

/// A cache entry is used only when its blob is still in the store.
std::optional<oci::LayerBlob> LayerTask::cached_entry(const std::filesystem::path& p) const {
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) return std::nullopt;
  auto j = nlohmann::json::parse(read_file(p), nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto diff = oci::Digest::parse(j.value("diff_id", ""));
  auto dg = oci::Digest::parse(j.value("digest", ""));
  if (!diff || !dg) return std::nullopt;
  oci::LayerBlob b;
  b.diff_id = *diff;
  b.blob = oci::Descriptor{j.value("media_type", ""), *dg, j.value("size", int64_t{-1}), {}, std::nullopt, {}};
  b.tar_size = j.value("tar_size", uint64_t{0});
  if (b.blob.media_type != env_.plan().layers[layer_].compression.media_type()) return std::nullopt;
  if (!env_.store().has_blob(b.blob.digest, b.blob.size)) return std::nullopt;
  return b;
}

void LayerTask::write_entry(const std::filesystem::path& p, const oci::LayerBlob& b) const {
  std::filesystem::create_directories(p.parent_path());
  nlohmann::json j = {{"diff_id", b.diff_id.str()},
                      {"digest", b.blob.digest.str()},
                      {"size", b.blob.size},
                      {"media_type", b.blob.media_type},
                      {"tar_size", b.tar_size},
                      {"source", env_.plan().layers[layer_].spec.source_path.string()}};
  write_file_atomic(p, j.dump(2) + "\n");
}

}  // namespace flavourgraph
