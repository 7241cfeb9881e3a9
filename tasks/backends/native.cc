// The native backend: a new config and manifest over the base's layers plus the new ones.
#include <fmt/format.h>

#include "flavourgraph/tasks/backend.h"
#include "flavourgraph/version.h"

namespace flavourgraph {

using nlohmann::json;

json native_image_config(const BuildInputs& in) {
  json cfg = in.base.config;
  std::string created = iso_time(in.created);
  cfg["created"] = created;
  if (!cfg.contains("architecture")) cfg["architecture"] = "amd64";
  if (!cfg.contains("os")) cfg["os"] = "linux";
  if (!cfg.contains("config") || !cfg["config"].is_object()) cfg["config"] = json::object();
  json& c = cfg["config"];
  const ImageSettings& s = in.kind.config;
  if (s.user) c["User"] = *s.user;
  if (s.workdir) c["WorkingDir"] = *s.workdir;

  // Env: a kind's variable replaces the base's of the same name in place, others are appended.
  std::vector<std::string> env;
  if (c.contains("Env") && c["Env"].is_array())
    for (const auto& e : c["Env"])
      if (e.is_string()) env.push_back(e.get<std::string>());
  for (const auto& [name, value] : in.build.env) {
    std::string entry = name + "=" + value;
    auto it = std::find_if(env.begin(), env.end(), [&](const std::string& e) { return e.rfind(name + "=", 0) == 0; });
    if (it != env.end())
      *it = entry;
    else
      env.push_back(entry);
  }
  if (!env.empty()) c["Env"] = env;

  json labels = c.contains("Labels") && c["Labels"].is_object() ? c["Labels"] : json::object();
  labels["io.flavourgraph.builder.name"] = std::string(kName);
  labels["io.flavourgraph.builder.version"] = std::string(kVersion);
  labels["io.flavourgraph.image"] = in.build.image_name;
  labels["io.flavourgraph.flavour"] = in.build.flavour_name;
  labels["io.flavourgraph.kind"] = in.build.kind_name;
  for (const auto& [name, value] : in.build.args) labels["io.flavourgraph.arg." + name] = value;
  for (const auto& [name, value] : in.build.labels) labels[name] = value;
  for (const auto& [name, value] : in.extra_labels) labels[name] = value;
  c["Labels"] = labels;

  if (s.entrypoint) {
    c["Entrypoint"] = *s.entrypoint;
    if (!s.cmd) c.erase("Cmd");  // as with Dockerfiles: a new entrypoint drops the inherited command
  }
  if (s.cmd) c["Cmd"] = *s.cmd;

  if (!cfg.contains("rootfs") || !cfg["rootfs"].is_object() || !cfg["rootfs"].contains("diff_ids") ||
      !cfg["rootfs"]["diff_ids"].is_array())
    throw std::runtime_error(fmt::format("base {}: its config has no rootfs.diff_ids", in.base.name));
  size_t base_layers = in.base.parsed.layers.size();
  if (cfg["rootfs"]["diff_ids"].size() != base_layers)
    throw std::runtime_error(fmt::format("base {}: its config lists {} layers, its manifest {}", in.base.name,
                                         cfg["rootfs"]["diff_ids"].size(), base_layers));
  json& history = cfg["history"];
  if (!history.is_array()) history = json::array();
  for (size_t i = 0; i < in.layers.size(); ++i) {
    cfg["rootfs"]["diff_ids"].push_back(in.layers[i]->diff_id.str());
    const LayerSpec& ls = *in.layer_specs[i];
    history.push_back({{"created", created},
                       {"created_by", fmt::format("{} layer {} -> {}", kName, ls.name.empty() ? ls.source : ls.name, ls.dest)},
                       {"comment", fmt::format("{} {}", kName, kVersion)}});
  }
  if (in.layers.empty())
    history.push_back({{"created", created},
                       {"created_by", fmt::format("{} config for {}", kName, in.build.id_suffix())},
                       {"comment", fmt::format("{} {}", kName, kVersion)},
                       {"empty_layer", true}});
  return cfg;
}

namespace {

class NativeBackend final : public Backend {
 public:
  BuildOutput build(const BuildEnv& env, const BuildInputs& in, TaskContext&) override {
    json cfg = native_image_config(in);
    std::string config_json = oci::canonical(cfg);
    oci::Descriptor config_desc{std::string(oci::media::kConfig), oci::Digest::sha256_of(config_json),
                                static_cast<int64_t>(config_json.size()), {}, std::nullopt, {}};
    oci::Manifest m;
    m.media_type = std::string(oci::media::kManifest);
    m.config = config_desc;
    for (auto l : in.base.parsed.layers) {
      l.media_type = oci::oci_layer_media_type(l.media_type);
      m.layers.push_back(l);
    }
    for (const auto* l : in.layers) m.layers.push_back(l->blob);
    m.annotations["org.opencontainers.image.base.name"] = in.base_name;
    m.annotations["org.opencontainers.image.base.digest"] =
        in.base_digest.empty() ? in.base.manifest.digest.str() : in.base_digest;
    if (!in.settings.empty()) m.annotations["io.flavourgraph.settings"] = in.settings;
    std::string manifest_json = m.serialize();
    oci::Descriptor manifest_desc{std::string(oci::media::kManifest), oci::Digest::sha256_of(manifest_json),
                                  static_cast<int64_t>(manifest_json.size()), {}, std::nullopt, {}};

    // Every blob the manifest names must be in the store before the manifest is, except base
    // layers the push target's registry holds (they are mounted there, never downloaded).
    for (size_t i = 0; i < m.layers.size(); ++i) {
      const auto& l = m.layers[i];
      bool remote_base = i < in.base.parsed.layers.size() && (!in.base.remote_repo.empty() || in.base.external_layers);
      if (!remote_base && !env.store().has_blob(l.digest, l.size))
        throw std::runtime_error(fmt::format("layer {} of {} is missing from the store", l.digest.str(), in.build.id_suffix()));
    }
    BuildOutput result;
    result.cached = !env.settings().no_cache && env.store().has_blob(manifest_desc.digest, manifest_desc.size) &&
                    env.store().has_blob(config_desc.digest, config_desc.size);
    if (!result.cached) {
      env.store().put_blob(config_json, oci::media::kConfig);
      env.store().put_blob(manifest_json, oci::media::kManifest);
    }
    ImageData& out = result.image;
    out.manifest = manifest_desc;
    out.parsed = std::move(m);
    out.config = std::move(cfg);
    out.name = fmt::format("{}:{}@{}", in.build.repository, in.build.tag, manifest_desc.digest.str());
    out.remote_host = in.base.remote_host;
    out.remote_repo = in.base.remote_repo;
    out.external_layers = in.base.external_layers;
    out.settings = in.settings;
    return result;
  }
};

}  // namespace

std::unique_ptr<Backend> make_native_backend() { return std::make_unique<NativeBackend>(); }

}  // namespace flavourgraph
