// base-pull: resolve a base reference to a pinned manifest (linux/amd64 from an index), read
// its config, and bring into the store the blobs the images built on it need.
#include <fmt/format.h>

#include "task.h"

namespace flavourgraph {

namespace {

class BasePullTask final : public Task {
 public:
  BasePullTask(BuildContext& bc, uint32_t base) : bc_(bc), base_(base) {}

  TaskOutcome run(TaskContext& ctx) override {
    const PlanBase& pb = bc_.plan.bases[base_];
    std::string err;
    auto ref = oci::Reference::parse(pb.ref, bc_.plan.config->dir, &err);
    if (!ref) return TaskOutcome::fail(fmt::format("base {}: {}", pb.ref, err));
    if (ref->kind != oci::Reference::Kind::layout)
      return TaskOutcome::fail(fmt::format("base {}: registry bases need registry support, which this "
                                           "build does not have yet; use an oci: base",
                                           pb.ref));
    const oci::Layout& src = bc_.base_layout(ref->dir);
    ImageData img = resolve(src, *ref, pb.ref);
    // The store holds complete images: copy the config and layers it lacks.
    uint64_t copied = 0;
    bool any = false;
    for (const auto* d : blobs(img)) {
      if (ctx.cancelled()) return {TaskState::cancelled, "cancelled", {}};
      if (bc_.store.copy_blob_from(src, *d)) {
        copied += static_cast<uint64_t>(d->size);
        any = true;
      }
    }
    ctx.add_bytes_in(copied);
    img.layout = &bc_.store;
    std::string pinned = img.name;
    bc_.bases[base_] = std::move(img);
    return {any ? TaskState::done : TaskState::cached, {}, pinned};
  }

 private:
  static std::vector<const oci::Descriptor*> blobs(const ImageData& img) {
    std::vector<const oci::Descriptor*> out{&img.parsed.config};
    for (const auto& l : img.parsed.layers) out.push_back(&l);
    return out;
  }

  ImageData resolve(const oci::Layout& src, const oci::Reference& ref, const std::string& text) const {
    std::optional<oci::Descriptor> top;
    if (ref.digest) {
      if (!src.has_blob(*ref.digest))
        throw std::runtime_error(fmt::format("base {}: no blob {} in {}", text, ref.digest->str(), ref.dir.string()));
      std::string data = src.read_blob(*ref.digest);
      auto j = nlohmann::json::parse(data, nullptr, false);
      std::string mt = j.is_object() ? j.value("mediaType", std::string(oci::media::kManifest)) : "";
      if (j.is_object() && j.contains("manifests")) mt = std::string(oci::media::kIndex);
      top = oci::Descriptor{mt, *ref.digest, static_cast<int64_t>(data.size()), {}, std::nullopt, {}};
    } else {
      top = src.resolve(ref.tag);
      if (!top) {
        auto names = src.ref_names();
        throw std::runtime_error(fmt::format("base {}: no image named '{}' in {} (it has: {})", text, ref.tag,
                                             ref.dir.string(), names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
      }
    }
    oci::Descriptor chosen = *top;
    std::string err;
    if (oci::is_index_media_type(top->media_type)) {
      auto idx = oci::Index::parse(src.read_blob(top->digest), &err);
      if (!idx) throw std::runtime_error(fmt::format("base {}: {}", text, err));
      auto pick = idx->pick(bc_.options.os, bc_.options.arch);
      if (!pick)
        throw std::runtime_error(fmt::format("base {}: its index has no {}/{} image", text, bc_.options.os,
                                             bc_.options.arch));
      chosen = *pick;
    }
    std::string manifest_json = src.read_blob(chosen.digest);
    auto m = oci::Manifest::parse(manifest_json, &err);
    if (!m) throw std::runtime_error(fmt::format("base {}: {}", text, err));
    ImageData img;
    img.manifest = oci::Descriptor{m->media_type, chosen.digest, static_cast<int64_t>(manifest_json.size()), {}, std::nullopt, {}};
    img.parsed = *m;
    img.config = nlohmann::json::parse(src.read_blob(m->config.digest), nullptr, false);
    if (!img.config.is_object()) throw std::runtime_error(fmt::format("base {}: its config is not a JSON object", text));
    std::string base_text = text;
    if (auto at = base_text.find('@'); at != std::string::npos) base_text.resize(at);
    img.name = base_text + "@" + chosen.digest.str();
    return img;
  }

  BuildContext& bc_;
  uint32_t base_;
};

}  // namespace

std::unique_ptr<Task> make_base_pull_task(BuildContext& bc, uint32_t base) {
  return std::make_unique<BasePullTask>(bc, base);
}

}  // namespace flavourgraph
