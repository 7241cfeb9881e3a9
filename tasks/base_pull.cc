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
    if (ref->kind == oci::Reference::Kind::registry) return pull_from_registry(*ref, pb.ref, ctx);
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

  /// A registry base: the tag is resolved to a digest (pinned); the config comes into the
  /// store; layers come too unless the push target is the same registry, which mounts them.
  TaskOutcome pull_from_registry(const oci::Reference& ref, const std::string& text, TaskContext& ctx) {
    auto& client = bc_.registries->client(ref.host);
    std::string at = ref.digest ? ref.digest->str() : ref.tag;
    oci::FetchedManifest top = client.get_manifest(ref.repository, at);
    oci::FetchedManifest chosen = top;
    std::string err;
    if (oci::is_index_media_type(top.media_type)) {
      auto idx = oci::Index::parse(top.bytes, &err);
      if (!idx) return TaskOutcome::fail(fmt::format("base {}: {}", text, err));
      auto pick = idx->pick(bc_.options.os, bc_.options.arch);
      if (!pick)
        return TaskOutcome::fail(fmt::format("base {}: its index has no {}/{} image", text, bc_.options.os, bc_.options.arch));
      chosen = client.get_manifest(ref.repository, pick->digest.str());
    }
    auto m = oci::Manifest::parse(chosen.bytes, &err);
    if (!m) return TaskOutcome::fail(fmt::format("base {}: {}", text, err));
    uint64_t received = 0;
    bool any = false;
    if (!bc_.store.has_blob(m->config.digest, m->config.size)) {
      received += client.fetch_blob(ref.repository, m->config, bc_.store);
      any = true;
    }
    ImageData img;
    img.manifest = oci::Descriptor{m->media_type, chosen.digest, static_cast<int64_t>(chosen.bytes.size()), {}, std::nullopt, {}};
    img.parsed = *m;
    img.config = nlohmann::json::parse(bc_.store.read_blob(m->config.digest), nullptr, false);
    if (!img.config.is_object()) return TaskOutcome::fail(fmt::format("base {}: its config is not a JSON object", text));
    std::string base_text = text;
    if (auto pos = base_text.find('@'); pos != std::string::npos) base_text.resize(pos);
    img.name = base_text + "@" + chosen.digest.str();
    img.layout = &bc_.store;
    bool mountable = bc_.target.kind == oci::Target::Kind::registry && bc_.target.host == ref.host;
    if (mountable) {
      img.remote_host = ref.host;
      img.remote_repo = ref.repository;
    } else {
      for (const auto& l : m->layers) {
        if (ctx.cancelled()) return {TaskState::cancelled, "cancelled", {}};
        if (bc_.store.has_blob(l.digest, l.size)) continue;
        received += client.fetch_blob(ref.repository, l, bc_.store);
        any = true;
      }
    }
    ctx.add_bytes_in(received);
    std::string pinned = img.name;
    bc_.bases[base_] = std::move(img);
    return {any ? TaskState::done : TaskState::cached, {}, pinned};
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
