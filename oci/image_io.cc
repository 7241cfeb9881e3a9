// Image sources (pulling a base) and sinks (publishing an image), for layouts and registries.
#include "flavourgraph/oci/image_io.h"

#include "flavourgraph/oci/tree_index.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace flavourgraph::oci {

using nlohmann::json;

FetchedManifest LayoutSource::manifest(const std::string& ref) {
  if (auto d = Digest::parse(ref)) {
    if (!layout_.has_blob(*d)) throw StoreError(fmt::format("no blob {} in {}", d->str(), layout_.dir().string()));
    std::string data = layout_.read_blob(*d);
    auto j = json::parse(data, nullptr, false);
    std::string mt(media::kManifest);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) mt = j["mediaType"];
    if (j.is_object() && j.contains("manifests")) mt = media::kIndex;
    return {std::move(data), mt, *d};
  }
  auto top = layout_.resolve(ref);
  if (!top) {
    auto names = layout_.ref_names();
    throw NotFound(fmt::format("no image named '{}' in {} (it has: {})", ref, layout_.dir().string(),
                                 names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  }
  return {layout_.read_blob(top->digest), top->media_type, top->digest};
}

uint64_t LayoutSource::copy_blob(const Descriptor& d, Layout& store) {
  return store.copy_blob_from(layout_, d) ? static_cast<uint64_t>(d.size) : 0;
}

uint64_t RegistrySource::copy_blob(const Descriptor& d, Layout& store) {
  if (store.has_blob(d.digest, d.size)) return 0;
  return client_.fetch_blob(repository_, d, store);
}

namespace {
uint64_t blob_bytes(const Descriptor& d) { return static_cast<uint64_t>(std::max<int64_t>(0, d.size)); }
}  // namespace

PullResult pull_image(ImageSource& source, const std::string& ref, const std::string& text, Layout& store,
                      const PullOptions& options, const CancelSource& cancel) {
  try {
    FetchedManifest chosen = source.manifest(ref);
    if (is_index_media_type(chosen.media_type)) {
      auto idx = Index::parse(chosen.bytes);
      if (!idx) throw idx.error();
      auto pick = idx->pick(options.os, options.arch);
      if (!pick) throw Error(fmt::format("its index has no {}/{} image", options.os, options.arch));
      chosen = source.manifest(pick->digest.str());
    }
    auto m = Manifest::parse(chosen.bytes);
    if (!m) throw m.error();
    PullResult out;
    uint64_t done = 0, total = blob_bytes(m->config);
    if (options.layers)
      for (const auto& l : m->layers) total += blob_bytes(l);
    auto bring = [&](const Descriptor& d) {
      if (cancel.requested()) throw Cancelled();
      bool had = store.has_blob(d.digest, d.size);
      out.bytes_in += source.copy_blob(d, store);
      out.copied |= !had;
      done += blob_bytes(d);
      if (options.progress) options.progress(done, total);
    };
    bring(m->config);
    // The manifest too, so that the store holds the whole image (a RUN build exports it).
    if (!store.has_blob(chosen.digest, static_cast<int64_t>(chosen.bytes.size())) &&
        store.put_blob(chosen.bytes, m->media_type).digest.str() != chosen.digest.str())
      throw Error(fmt::format("its manifest does not match its digest {}", chosen.digest.str()));
    if (options.layers)
      for (const auto& l : m->layers) bring(l);
    PulledImage& img = out.image;
    img.manifest = Descriptor{m->media_type, chosen.digest, static_cast<int64_t>(chosen.bytes.size()), {}, std::nullopt, {}};
    img.config = json::parse(store.read_blob(m->config.digest), nullptr, false);
    if (!img.config.is_object()) throw Error("its config is not a JSON object");
    img.parsed = std::move(*m);
    img.name = text.substr(0, text.find('@')) + "@" + chosen.digest.str();
    return out;
  } catch (const Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(fmt::format("base {}: {}", text, e.what()));
  }
}

ImageSink::BlobResult LayoutSink::put_blob(const std::string&, const Descriptor& d, Layout& store,
                                           const std::vector<std::string>&, const std::function<uint64_t()>&) {
  bool copied = layout_.copy_blob_from(store, d, /*link=*/true);
  return {copied, copied ? static_cast<uint64_t>(d.size) : 0, 0};
}

ImageSink::TagResult LayoutSink::put_tag(const std::string& repository, const std::string& tag,
                                         const Descriptor& manifest, Layout& store) {
  bool copied = layout_.copy_blob_from(store, manifest, /*link=*/true);
  bool named = layout_.set_ref(repository + ":" + tag, manifest);
  return {copied || named, copied ? static_cast<uint64_t>(manifest.size) : 0};
}

bool LayoutSink::put_manifest(const std::string&, const Descriptor& manifest, Layout& store) {
  return layout_.copy_blob_from(store, manifest, /*link=*/true);
}

bool RegistrySink::put_manifest(const std::string& repository, const Descriptor& manifest, Layout& store) {
  if (auto have = client_.head_manifest(repository, manifest.digest.str(), /*for_push=*/true)) return false;
  client_.put_manifest(repository, manifest.digest.str(), store.read_blob(manifest.digest), manifest.media_type);
  return true;
}

std::string referrers_tag(const Digest& image) { return image.algorithm + "-" + image.hex; }

IndexArtifact index_artifact(const Descriptor& index_blob, const Descriptor& image) {
  IndexArtifact out;
  out.config = Descriptor{std::string(kEmptyMediaType), Digest::sha256_of(kEmptyJson),
                          static_cast<int64_t>(kEmptyJson.size()), {}, std::nullopt, {}};
  json subject = {{"mediaType", image.media_type}, {"digest", image.digest.str()}, {"size", image.size}};
  json m = {{"schemaVersion", 2},
            {"mediaType", media::kManifest},
            {"artifactType", kTreeIndexArtifactType},
            {"config", out.config.to_json()},
            {"layers", json::array({index_blob.to_json()})},
            {"subject", subject}};
  out.manifest = canonical(m);
  json entry = {{"mediaType", media::kManifest},
                {"digest", Digest::sha256_of(out.manifest).str()},
                {"size", out.manifest.size()},
                {"artifactType", kTreeIndexArtifactType}};
  out.referrers = canonical({{"schemaVersion", 2}, {"mediaType", media::kIndex}, {"manifests", json::array({entry})}});
  return out;
}

std::string add_referrer(std::string_view existing, const IndexArtifact& art) {
  json ours = json::parse(art.referrers)["manifests"][0];
  json idx = json::parse(existing, nullptr, false);
  json manifests = json::array();
  if (idx.is_object() && idx.contains("manifests") && idx["manifests"].is_array())
    for (const auto& m : idx["manifests"])
      if (m.is_object() && m.value("artifactType", "") != kTreeIndexArtifactType) manifests.push_back(m);
  manifests.push_back(ours);
  return canonical({{"schemaVersion", 2}, {"mediaType", media::kIndex}, {"manifests", manifests}});
}

std::optional<std::string> LayoutSink::tag_manifest(const std::string& repository, const std::string& tag) {
  auto d = layout_.resolve(repository + ":" + tag);
  if (!d) return std::nullopt;
  return layout_.read_blob(d->digest);
}

std::optional<std::string> RegistrySink::tag_manifest(const std::string& repository, const std::string& tag) {
  try {
    return client_.get_manifest(repository, tag).bytes;
  } catch (const RegistryError& e) {
    if (e.status() == 404) return std::nullopt;
    throw;
  }
}

std::optional<Descriptor> fetch_tree_index(ImageSource& source, const std::string& referrers_ref, const Digest& image,
                                           Layout& store) {
  FetchedManifest referrers;
  try {
    referrers = source.manifest(referrers_ref);
  } catch (const NotFound&) {
    return std::nullopt;  // no referrers: an image without a tree index
  } catch (const RegistryError& e) {
    if (e.status() == 404) return std::nullopt;
    throw;  // any other failure is said, not taken for "no index"
  }
  json idx = json::parse(referrers.bytes, nullptr, false);
  if (!idx.is_object() || !idx.contains("manifests") || !idx["manifests"].is_array()) return std::nullopt;
  for (const auto& m : idx["manifests"]) {
    if (!m.is_object() || m.value("artifactType", "") != kTreeIndexArtifactType || !m.contains("digest") ||
        !m["digest"].is_string())
      continue;
    FetchedManifest art = source.manifest(m["digest"].get<std::string>());
    auto parsed = Manifest::parse(art.bytes);
    json raw = json::parse(art.bytes, nullptr, false);
    bool about = raw.is_object() && raw.contains("subject") && raw["subject"].is_object() &&
                 raw["subject"].value("digest", "") == image.str();
    if (!parsed || !about || parsed->layers.size() != 1 || parsed->layers[0].media_type != kTreeIndexMediaType)
      continue;
    source.copy_blob(parsed->layers[0], store);
    return parsed->layers[0];
  }
  return std::nullopt;
}

std::vector<std::string> RegistrySink::begin(const std::string& digest) {
  std::unique_lock lock(mutex_);
  auto& st = blobs_[digest];
  // Bounded: the wait ends when the uploader finishes (its requests time out) or on cancel.
  while (st.busy && !cancel_.requested()) cv_.wait_for(lock, std::chrono::milliseconds(200));
  st.busy = true;
  return st.repositories;
}

void RegistrySink::finish(const std::string& digest, const std::string& repository) {
  {
    std::lock_guard lock(mutex_);
    auto& st = blobs_[digest];
    st.busy = false;
    if (!repository.empty() && std::find(st.repositories.begin(), st.repositories.end(), repository) == st.repositories.end())
      st.repositories.push_back(repository);
  }
  cv_.notify_all();
}

ImageSink::BlobResult RegistrySink::put_blob(const std::string& repository, const Descriptor& d, Layout& store,
                                             const std::vector<std::string>& mount_from,
                                             const std::function<uint64_t()>& fetch) {
  std::vector<std::string> candidates;
  auto add = [&](const std::string& r) {
    if (!r.empty() && r != repository && std::find(candidates.begin(), candidates.end(), r) == candidates.end())
      candidates.push_back(r);
  };
  for (const auto& r : begin(d.digest.str())) add(r);  // where this run put it: the likeliest mounts
  for (const auto& r : mount_from) add(r);
  if (candidates.size() > 4) candidates.resize(4);
  BlobResult out;
  try {
    if (!client_.blob_size(repository, d.digest, /*for_push=*/true)) {
      out.placed = true;
      bool mounted = false;
      for (const auto& from : candidates)
        if ((mounted = client_.mount_blob(repository, d.digest, from))) break;
      if (!mounted) {
        if (!store.has_blob(d.digest, d.size)) {
          if (!fetch) throw StoreError(fmt::format("blob {} is neither in the store nor mountable", d.digest.str()));
          out.fetched = fetch();  // a base layer the registry would not mount: through the store
        }
        client_.upload_blob(repository, d, store.blob_path(d.digest));
        out.sent = static_cast<uint64_t>(d.size);
      }
    }
  } catch (...) {
    finish(d.digest.str(), "");
    throw;
  }
  finish(d.digest.str(), repository);
  return out;
}

ImageSink::TagResult RegistrySink::put_tag(const std::string& repository, const std::string& tag,
                                           const Descriptor& manifest, Layout& store) {
  auto have = client_.head_manifest(repository, tag, /*for_push=*/true);
  if (have && have->digest == manifest.digest) return {};
  std::string bytes = store.read_blob(manifest.digest);
  client_.put_manifest(repository, tag, bytes, manifest.media_type);
  return {true, bytes.size()};
}

}  // namespace flavourgraph::oci
