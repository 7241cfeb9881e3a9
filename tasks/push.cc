// push: publish an image to the push target. Blobs first, the name last, so a name never
// points at an incomplete image.
#include <fmt/format.h>

#include <algorithm>

#include "task.h"

namespace flavourgraph {

namespace {

class PushTask final : public Task {
 public:
  PushTask(BuildContext& bc, uint32_t build) : bc_(bc), build_(build) {}

  TaskOutcome run(TaskContext& ctx) override {
    const PlanBuild& pb = bc_.plan.builds[build_];
    const auto& img = bc_.images[build_];
    if (!img) return TaskOutcome::fail("the image was not built");
    if (bc_.target.kind == oci::Target::Kind::registry) return push_to_registry(pb, *img, ctx);
    oci::Layout& dst = *bc_.target_layout;
    uint64_t sent = 0;
    std::vector<const oci::Descriptor*> blobs{&img->parsed.config};
    for (const auto& l : img->parsed.layers) blobs.push_back(&l);
    blobs.push_back(&img->manifest);
    for (const auto* d : blobs) {
      if (ctx.cancelled()) return {TaskState::cancelled, "cancelled", {}};
      if (dst.copy_blob_from(bc_.store, *d, /*link=*/true)) sent += static_cast<uint64_t>(d->size);
    }
    bool changed = dst.set_ref(pb.repository + ":" + pb.tag, img->manifest);
    for (const auto& t : pb.extra_tags) changed |= dst.set_ref(pb.repository + ":" + t, img->manifest);
    ctx.add_bytes_out(sent);
    std::string ref = fmt::format("{}@{}", pb.image_ref(bc_.plan.registry), img->manifest.digest.str());
    bc_.pushed[build_] = PushResult{ref, sent};
    return {(sent > 0 || changed) ? TaskState::done : TaskState::cached, {}, ref};
  }

 private:
  /// Blobs first (HEAD: skip what the registry has; mount what another repository of it has;
  /// upload the rest), the manifest by tag last.
  TaskOutcome push_to_registry(const PlanBuild& pb, const ImageData& img, TaskContext& ctx) {
    RegistryPool& pool = *bc_.registries;
    const std::string& host = bc_.target.host;
    oci::RegistryClient& client = pool.client(host);
    std::string repo = bc_.target.prefix.empty() ? pb.repository : bc_.target.prefix + "/" + pb.repository;
    uint64_t sent = 0;
    size_t placed_new = 0;
    std::vector<const oci::Descriptor*> blobs;
    for (const auto& l : img.parsed.layers) blobs.push_back(&l);
    blobs.push_back(&img.parsed.config);
    for (size_t i = 0; i < blobs.size(); ++i) {
      const oci::Descriptor& d = *blobs[i];
      if (ctx.cancelled()) return {TaskState::cancelled, "cancelled", {}};
      std::vector<std::string> known = pool.begin_blob(host, d.digest.str());
      std::string placed;
      try {
        if (client.blob_size(repo, d.digest, /*for_push=*/true)) {
          placed = repo;
        } else {
          for (const auto& from : mount_candidates(d, i, img, known, repo))
            if (client.mount_blob(repo, d.digest, from)) {
              placed = repo;
              break;
            }
          if (placed.empty()) {
            if (!bc_.store.has_blob(d.digest, d.size)) {
              if (img.remote_repo.empty())
                throw std::runtime_error(fmt::format("blob {} is neither in the store nor mountable", d.digest.str()));
              // The registry would not mount the base's layer: copy it through the store.
              ctx.add_bytes_in(bc_.registries->client(img.remote_host).fetch_blob(img.remote_repo, d, bc_.store));
            }
            client.upload_blob(repo, d, bc_.store.blob_path(d.digest));
            sent += static_cast<uint64_t>(d.size);
            placed = repo;
          }
          ++placed_new;
        }
      } catch (...) {
        pool.finish_blob(host, d.digest.str(), "");
        throw;
      }
      pool.finish_blob(host, d.digest.str(), placed);
    }
    // The name last: a tag never points at an image whose blobs are not all there.
    std::string manifest = bc_.store.read_blob(img.manifest.digest);
    bool changed = false;
    std::vector<std::string> tags{pb.tag};
    tags.insert(tags.end(), pb.extra_tags.begin(), pb.extra_tags.end());
    for (const auto& t : tags) {
      auto have = client.head_manifest(repo, t, /*for_push=*/true);
      if (have && have->digest == img.manifest.digest) continue;
      client.put_manifest(repo, t, manifest, img.manifest.media_type);
      changed = true;
    }
    ctx.add_bytes_out(sent);
    std::string ref = fmt::format("{}@{}", pb.image_ref(bc_.plan.registry), img.manifest.digest.str());
    bc_.pushed[build_] = PushResult{ref, sent};
    return {(placed_new > 0 || changed) ? TaskState::done : TaskState::cached, {}, ref};
  }

  /// Repositories of the target registry that may hold blob `d` (the `index`th layer of the
  /// image, or its config): those a push of this run put it in; for base layers, the base's
  /// own repository and those of the plan's images on the same base; for built layers, those
  /// of the plan's images that list the same layer. Only the plan and the outputs of this
  /// push's own ancestors are read (other tasks may still be running).
  std::vector<std::string> mount_candidates(const oci::Descriptor& d, size_t index, const ImageData& img,
                                            const std::vector<std::string>& known, const std::string& repo) const {
    std::vector<std::string> out;
    auto add = [&](const std::string& r) {
      if (!r.empty() && r != repo && std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
    };
    auto add_build = [&](uint32_t b) {
      const PlanBuild& other = bc_.plan.builds[b];
      if (other.published) add(bc_.target.prefix.empty() ? other.repository : bc_.target.prefix + "/" + other.repository);
    };
    for (const auto& r : known) add(r);
    if (index < img.parsed.layers.size()) {
      // Walk this image's `from` chain: its layer tasks and, at the root, its base.
      for (int b = static_cast<int>(build_); b >= 0; b = bc_.plan.builds[static_cast<size_t>(b)].parent) {
        const PlanBuild& pb = bc_.plan.builds[static_cast<size_t>(b)];
        for (uint32_t l : pb.layers)
          if (bc_.layers[l] && bc_.layers[l]->blob.blob.digest == d.digest)
            for (uint32_t user : bc_.plan.layers[l].builds) add_build(user);
        if (pb.parent < 0 && pb.base >= 0) {
          const auto& base = bc_.bases[static_cast<size_t>(pb.base)];
          if (base && index < base->parsed.layers.size()) {  // the image starts with its base's layers
            if (img.remote_host == bc_.target.host) add(img.remote_repo);
            for (uint32_t user : bc_.plan.bases[static_cast<size_t>(pb.base)].builds) add_build(user);
          }
        }
      }
    }
    if (out.size() > 4) out.resize(4);
    return out;
  }

  BuildContext& bc_;
  uint32_t build_;
};

}  // namespace

std::unique_ptr<Task> make_push_task(BuildContext& bc, uint32_t build) { return std::make_unique<PushTask>(bc, build); }

}  // namespace flavourgraph
