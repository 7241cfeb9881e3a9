#include "flavourgraph/oci/types.h"

#include <fmt/format.h>

namespace flavourgraph::oci {

using nlohmann::json;

bool is_index_media_type(std::string_view mt) { return mt == media::kIndex || mt == media::kDockerList; }

bool is_manifest_media_type(std::string_view mt) {
  return mt == media::kManifest || mt == media::kDockerManifest;
}

std::string oci_layer_media_type(std::string_view mt) {
  if (mt == media::kDockerLayer) return std::string(media::kLayerGzip);
  if (mt == media::kDockerForeignLayer) return std::string(media::kNondistributableGzip);
  return std::string(mt);
}

std::string canonical(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::strict);
}

json Descriptor::to_json() const {
  json j = {{"mediaType", media_type}, {"digest", digest.str()}, {"size", size}};
  if (!annotations.empty()) j["annotations"] = annotations;
  if (platform) {
    json p = {{"os", platform->os}, {"architecture", platform->architecture}};
    if (!platform->variant.empty()) p["variant"] = platform->variant;
    j["platform"] = p;
  }
  if (!urls.empty()) j["urls"] = urls;
  return j;
}

Expected<Descriptor> Descriptor::from_json(const json& j) {
  auto fail = [](std::string msg) { return Error(std::move(msg), ErrorKind::runtime); };
  if (!j.is_object()) return fail("a descriptor is not a JSON object");
  Descriptor d;
  if (!j.contains("mediaType") || !j["mediaType"].is_string()) return fail("a descriptor has no mediaType");
  d.media_type = j["mediaType"].get<std::string>();
  if (!j.contains("digest") || !j["digest"].is_string()) return fail("a descriptor has no digest");
  auto dg = Digest::parse(j["digest"].get<std::string>());
  if (!dg) return fail(fmt::format("'{}' is not a valid digest", j["digest"].get<std::string>()));
  d.digest = *dg;
  if (!j.contains("size") || !j["size"].is_number_integer() || j["size"].get<int64_t>() < 0)
    return fail("a descriptor has no valid size");
  d.size = j["size"].get<int64_t>();
  if (j.contains("annotations") && j["annotations"].is_object())
    for (const auto& [k, v] : j["annotations"].items())
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
  if (j.contains("platform") && j["platform"].is_object()) {
    const auto& p = j["platform"];
    Platform pl;
    if (p.contains("os") && p["os"].is_string()) pl.os = p["os"];
    if (p.contains("architecture") && p["architecture"].is_string()) pl.architecture = p["architecture"];
    if (p.contains("variant") && p["variant"].is_string()) pl.variant = p["variant"];
    d.platform = pl;
  }
  if (j.contains("urls") && j["urls"].is_array())
    for (const auto& u : j["urls"])
      if (u.is_string()) d.urls.push_back(u);
  return d;
}

Expected<Manifest> Manifest::parse(std::string_view text) {
  auto fail = [](std::string msg) { return Error(std::move(msg), ErrorKind::runtime); };
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("manifest is not a JSON object");
  if (!j.contains("schemaVersion") || j["schemaVersion"] != 2) return fail("manifest schemaVersion is not 2");
  Manifest m;
  m.media_type = j.value("mediaType", std::string(media::kManifest));
  if (is_index_media_type(m.media_type) || j.contains("manifests"))
    return fail("this is an image index, not a manifest");
  if (!j.contains("config")) return fail("manifest has no config");
  auto cfg = Descriptor::from_json(j["config"]);
  if (!cfg) return fail("manifest config: " + cfg.message());
  m.config = *cfg;
  if (!j.contains("layers") || !j["layers"].is_array()) return fail("manifest has no layers list");
  for (const auto& l : j["layers"]) {
    auto d = Descriptor::from_json(l);
    if (!d) return fail("manifest layer: " + d.message());
    m.layers.push_back(*d);
  }
  if (j.contains("annotations") && j["annotations"].is_object())
    for (const auto& [k, v] : j["annotations"].items())
      if (v.is_string()) m.annotations[k] = v.get<std::string>();
  return m;
}

std::string Manifest::serialize() const {
  json layers_j = json::array();
  for (const auto& l : layers) layers_j.push_back(l.to_json());
  json j = {{"schemaVersion", 2}, {"mediaType", media_type}, {"config", config.to_json()}, {"layers", layers_j}};
  if (!annotations.empty()) j["annotations"] = annotations;
  return canonical(j);
}

Expected<Index> Index::parse(std::string_view text) {
  auto fail = [](std::string msg) { return Error(std::move(msg), ErrorKind::runtime); };
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("index is not a JSON object");
  if (!j.contains("manifests") || !j["manifests"].is_array()) return fail("index has no manifests list");
  Index idx;
  for (const auto& m : j["manifests"]) {
    auto d = Descriptor::from_json(m);
    if (!d) return fail("index entry: " + d.message());
    idx.manifests.push_back(*d);
  }
  return idx;
}

std::optional<Descriptor> Index::pick(std::string_view os, std::string_view arch) const {
  for (const auto& m : manifests)
    if (m.platform && m.platform->os == os && m.platform->architecture == arch) return m;
  return std::nullopt;
}

}  // namespace flavourgraph::oci
