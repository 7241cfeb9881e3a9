// push: publish an image through the run's ImageSink (a layout or a registry): blobs first,
// the names last, so a name never points at an incomplete image.
#include <fmt/format.h>

#include <algorithm>

#include "flavourgraph/tasks/published.h"
#include "flavourgraph/tasks/tasks.h"

namespace flavourgraph {

TaskOutcome PushTask::run(TaskContext& ctx) {
  const PlanBuild& pb = env_.plan().builds[build_];
  const ImageData& img = image_.image();
  oci::ImageSink& sink = env_.sink();
  std::string repo = env_.target_repository(pb.repository);
  uint64_t sent = 0;
  bool placed = false;
  std::vector<const oci::Descriptor*> blobs;
  for (const auto& l : img.parsed.layers) blobs.push_back(&l);
  blobs.push_back(&img.parsed.config);
  // An image taken from the target under its build key is there whole: only names move.
  if (img.published_already) blobs.clear();
  // Progress by whole blobs: those the target has already count as done.
  uint64_t total = 0, done = 0;
  for (const oci::Descriptor* d : blobs) total += static_cast<uint64_t>(std::max<int64_t>(0, d->size));
  if (total) ctx.progress(0, total);
  for (size_t i = 0; i < blobs.size(); ++i) {
    if (ctx.cancelled()) return {TaskState::cancelled, "cancelled", {}};
    const oci::Descriptor& d = *blobs[i];
    std::function<uint64_t()> fetch;
    if (!img.remote_repo.empty())  // a base layer the registry would not mount: copied through the store
      fetch = [&] { return env_.registries().client(img.remote_host).fetch_blob(img.remote_repo, d, env_.store()); };
    auto r = sink.put_blob(repo, d, env_.store(), sink.mounts() ? mount_candidates(d, i) : std::vector<std::string>{},
                           fetch);
    ctx.add_bytes_in(r.fetched);
    sent += r.sent;
    placed |= r.placed;
    done += static_cast<uint64_t>(std::max<int64_t>(0, d.size));
    ctx.progress(done, total);
  }
  // The names last: a tag never points at an image whose blobs are not all there.
  std::vector<PendingTag> names;
  for (const auto& t : pb.all_tags()) names.push_back({repo, t, img.manifest});
  if (img.tree_index && !img.published_already) {
    // The tree index travels with the image: any machine builds the next delta from it.
    oci::Layout& store = env_.store();
    oci::IndexArtifact art = oci::index_artifact(*img.tree_index, img.manifest);
    store.put_blob(oci::kEmptyJson, oci::kEmptyMediaType);
    oci::Descriptor art_desc = store.put_blob(art.manifest, oci::media::kManifest);
    std::string tag = oci::referrers_tag(img.manifest.digest);
    auto existing = sink.tag_manifest(repo, tag);
    oci::Descriptor referrers =
        store.put_blob(existing ? oci::add_referrer(*existing, art) : art.referrers, oci::media::kIndex);
    for (const oci::Descriptor* d : std::initializer_list<const oci::Descriptor*>{&*img.tree_index, &art.config}) {
      auto r = sink.put_blob(repo, *d, store, {}, {});
      sent += r.sent;
      placed |= r.placed;
    }
    placed |= sink.put_manifest(repo, art_desc, store);
    names.push_back({repo, tag, referrers});
  }
  // The build key last: an image found by its key has everything else (its tree index too).
  const PublishedImages* published = env_.published();
  if (published && !img.published_already && !published->key(build_).empty())
    names.push_back({repo, key_tag(published->key(build_)), img.manifest});
  const std::string registry_repo = fmt::format("{}/{}", env_.plan().registry, pb.repository);
  if (env_.plan().atomic) {
    // Uploaded by digest: the publish task sets the names once every image of the run is up.
    if (sink.put_manifest(repo, img.manifest, env_.store())) {
      placed = true;
      sent += static_cast<uint64_t>(img.manifest.size);
    }
    ctx.add_bytes_out(sent);
    std::string ref = fmt::format("{}@{}", registry_repo, img.manifest.digest.str());
    pushed_.set(PushResult{ref, sent, std::move(names)});
    return {placed ? TaskState::done : TaskState::cached, {}, ref,
            fmt::format("{} bytes sent; uploaded by digest, its names wait for every image of the run (--atomic)", sent)};
  }
  bool changed = false;
  for (const auto& n : names) {
    auto r = sink.put_tag(n.repository, n.tag, n.manifest, env_.store());
    changed |= r.changed;
    sent += r.sent;
  }
  ctx.add_bytes_out(sent);
  std::string ref = fmt::format("{}:{}@{}", registry_repo, pb.tag, img.manifest.digest.str());
  pushed_.set(PushResult{ref, sent, {}});
  std::string reason = placed || changed ? fmt::format("{} bytes sent; {}", sent, changed ? "names moved" : "names unchanged")
                                        : "the target has the image under every name";
  return {(placed || changed) ? TaskState::done : TaskState::cached, {}, ref, reason};
}

TaskOutcome PublishTask::run(TaskContext& ctx) {
  std::vector<std::string> moved;
  size_t total = 0, unchanged = 0;
  uint64_t sent = 0;
  for (const PushTask* p : pushes_) total += p->pushed().names.size();
  for (const PushTask* p : pushes_)
    for (const auto& n : p->pushed().names) {
      if (ctx.cancelled() && moved.empty()) return {TaskState::cancelled, "cancelled: no name was set", {}};
      try {
        auto r = env_.sink().put_tag(n.repository, n.tag, n.manifest, env_.store());
        sent += r.sent;
        if (r.changed)
          moved.push_back(n.repository + ":" + n.tag);
        else
          ++unchanged;
      } catch (const std::exception& e) {
        return TaskOutcome::fail(fmt::format("setting {}:{}: {}; {} of {} name(s) were set before ({}), the others "
                                             "were not; rerun to finish",
                                             n.repository, n.tag, e.what(), moved.size() + unchanged, total,
                                             moved.empty() ? "none moved" : fmt::format("moved: {}", fmt::join(moved, ", "))));
      }
    }
  ctx.add_bytes_out(sent);
  published_ = true;
  std::string out = fmt::format("{} name(s) moved, {} unchanged", moved.size(), unchanged);
  return {moved.empty() ? TaskState::cached : TaskState::done, {}, out, "every image of the run is up: " + out};
}

/// Repositories of the target registry that may hold blob `d` (the `index`th layer of the
/// image, or its config), besides those the sink knows this run put it in: for base layers,
/// the base's own repository and those of the plan's images on the same base; for built
/// layers, those of the plan's images that list the same layer. Only the plan and the outputs
/// of this push's own ancestors are read (other tasks may still be running).
std::vector<std::string> PushTask::mount_candidates(const oci::Descriptor& d, size_t index) const {
  const Plan& plan = env_.plan();
  const ImageData& img = image_.image();
  std::vector<std::string> out;
  auto add = [&](const std::string& r) {
    if (!r.empty() && std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  };
  auto add_build = [&](uint32_t b) {
    if (plan.builds[b].published) add(env_.target_repository(plan.builds[b].repository));
  };
  // A delta's image holds the layers of the last build, which live in its own repository; an
  // image taken from the target by its build key has every layer in its own repository (and
  // the tasks below it did not run: the walk stops there).
  for (const BuildTask* b = &image_; b && b->has_image();) {
    if (b->image().external_layers) add(env_.target_repository(plan.builds[b->index()].repository));
    if (b->image().published_already) break;
    b = plan.builds[b->index()].base_build_index() >= 0 ? static_cast<const BuildTask*>(&b->base()) : nullptr;
  }
  if (index >= img.parsed.layers.size()) return out;
  // Walk this image's `from` chain: its layer tasks and, at the root, its base.
  for (const BuildTask* b = &image_; b && b->has_image() && !b->image().published_already;) {
    for (const LayerTask* l : b->layers()) {
      const oci::LayerBlob* blob = l->blob_for(b->index());
      if (blob && blob->blob.digest == d.digest)
        for (uint32_t user : plan.layers[l->index()].builds) add_build(user);
    }
    const PlanBuild& pb = plan.builds[b->index()];
    if (pb.base_build_index() >= 0) {
      b = static_cast<const BuildTask*>(&b->base());
      continue;
    }
    if (pb.base >= 0 && b->base().has_image() && index < b->base().image().parsed.layers.size()) {  // the image starts with its base's layers
      if (img.remote_host == env_.target().host) add(img.remote_repo);
      for (uint32_t user : plan.bases[static_cast<size_t>(pb.base)].builds) add_build(user);
    }
    b = nullptr;
  }
  return out;
}

}  // namespace flavourgraph
