#include "flavourgraph/build_state.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "flavourgraph/fs_util.h"

namespace flavourgraph {

using nlohmann::json;

std::string record_json(const BuildRecord& r) {
  json layers = json::array();
  for (const auto& l : r.layers) layers.push_back(l.to_json());
  json j = {{"image", r.image},         {"flavour", r.flavour},         {"kind", r.kind},
            {"name", r.name},           {"manifest", r.manifest.to_json()}, {"config", r.config.to_json()},
            {"layers", layers},         {"base_digest", r.base_digest}, {"base_name", r.base_name},
            {"settings", r.settings}};
  if (r.incremental) j["incremental"] = {{"spec", r.incremental->spec}, {"index", r.incremental->index.to_json()}};
  return j.dump(2) + "\n";
}

Expected<BuildRecord> parse_record(std::string_view text) {
  auto fail = [](const std::string& m) { return Error("not a build record: " + m); };
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return fail("not a JSON object");
  BuildRecord r;
  auto str = [&](const char* k, std::string& out) {
    if (!j.contains(k) || !j[k].is_string()) return false;
    out = j[k].get<std::string>();
    return true;
  };
  for (auto [k, out] : {std::pair{"image", &r.image}, std::pair{"flavour", &r.flavour}, std::pair{"kind", &r.kind},
                        std::pair{"name", &r.name}, std::pair{"base_digest", &r.base_digest},
                        std::pair{"base_name", &r.base_name}})
    if (!str(k, *out)) return fail(fmt::format("no '{}'", k));
  auto desc = [&](const json& v, const char* what) -> Expected<oci::Descriptor> {
    auto d = oci::Descriptor::from_json(v);
    if (!d) return fail(fmt::format("{}: {}", what, d.message()));
    return d;
  };
  if (j.contains("settings") && j["settings"].is_string()) r.settings = j["settings"].get<std::string>();
  if (!j.contains("manifest") || !j.contains("config") || !j.contains("layers") || !j["layers"].is_array())
    return fail("no manifest, config or layers");
  auto m = desc(j["manifest"], "manifest");
  auto c = desc(j["config"], "config");
  if (!m) return m.error();
  if (!c) return c.error();
  r.manifest = *m;
  r.config = *c;
  for (const auto& l : j["layers"]) {
    auto d = desc(l, "layer");
    if (!d) return d.error();
    r.layers.push_back(*d);
  }
  if (j.contains("incremental") && j["incremental"].is_object()) {
    const json& inc = j["incremental"];
    if (!inc.contains("spec") || !inc["spec"].is_string() || !inc.contains("index"))
      return fail("incomplete 'incremental'");
    auto idx = desc(inc["index"], "incremental.index");
    if (!idx) return idx.error();
    r.incremental = BuildRecord::Incremental{inc["spec"].get<std::string>(), *idx};
  }
  return r;
}

std::filesystem::path BuildState::path_of(const std::filesystem::path& state_dir, const std::string& image,
                                          const std::string& flavour, const std::string& kind) {
  return state_dir / "builds" / image / flavour / (kind + ".json");
}

BuildState BuildState::load(const std::filesystem::path& state_dir, Diagnostics& diags) {
  BuildState out;
  std::error_code ec;
  auto root = state_dir / "builds";
  if (!std::filesystem::is_directory(root, ec)) return out;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it.depth() > 2) it.disable_recursion_pending();
    const auto& p = it->path();
    if (it.depth() != 2 || p.extension() != ".json" || !it->is_regular_file(ec)) continue;
    std::string text;
    try {
      text = read_file(p);
    } catch (const std::exception& e) {
      diags.warning({p.string(), 0, 0}, "", fmt::format("{}: this image is built as if new", e.what()));
      continue;
    }
    auto r = parse_record(text);
    if (!r) {
      diags.warning({p.string(), 0, 0}, "", r.message() + "; this image is built as if new");
      continue;
    }
    out.add(std::move(*r));
  }
  return out;
}

const BuildRecord* BuildState::find(const std::string& image, const std::string& flavour,
                                    const std::string& kind) const {
  auto it = records_.find({image, flavour, kind});
  return it == records_.end() ? nullptr : &it->second;
}

void BuildState::add(BuildRecord record) {
  BuildKeyNames key{record.image, record.flavour, record.kind};
  records_[key] = std::move(record);
}

void BuildState::write(const std::filesystem::path& state_dir, const BuildRecord& record) {
  auto p = path_of(state_dir, record.image, record.flavour, record.kind);
  std::filesystem::create_directories(p.parent_path());
  write_file_atomic(p, record_json(record));
}

}  // namespace flavourgraph
