#include "flavourgraph/report.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace flavourgraph {

using nlohmann::json;

void BuiltImages::add(const std::string& image, const std::string& flavour, const std::string& kind,
                      const std::string& name, const StringPairs& metadata, const std::string& base) {
  Flavour& f = images[image][flavour];
  f.kinds[kind] = name;
  if (!base.empty()) f.bases[kind] = base;
  for (const auto& [k, v] : metadata) f.metadata[k] = MetaValue{v, false};
}

void BuiltImages::add_unpushed(const std::string& image, const std::string& flavour, const std::string& kind,
                               Unpushed u) {
  images[image][flavour].unpushed[kind] = std::move(u);
}

size_t BuiltImages::count_unpushed() const {
  size_t n = 0;
  for (const auto& [_, flavours] : images)
    for (const auto& [__, f] : flavours) n += f.unpushed.size();
  return n;
}

std::optional<std::string> BuiltImages::find(const std::string& image, const std::string& flavour,
                                             const std::string& kind, std::string* error) const {
  auto list = [](const auto& m) {
    std::vector<std::string> names;
    for (const auto& [k, _] : m) names.push_back(k);
    return fmt::format("[{}]", fmt::join(names, ", "));
  };
  auto img = images.find(image);
  if (img == images.end()) {
    if (error) *error = fmt::format("Image '{}' not found among built images in {}", image, list(images));
    return std::nullopt;
  }
  auto fl = img->second.find(flavour);
  if (fl == img->second.end()) {
    if (error) *error = fmt::format("Image flavour '{}' not found among built images in {}", flavour, list(img->second));
    return std::nullopt;
  }
  auto k = fl->second.kinds.find(kind);
  if (k == fl->second.kinds.end()) {
    if (auto u = fl->second.unpushed.find(kind); u != fl->second.unpushed.end()) {
      if (error)
        *error = fmt::format("Image kind '{}' of flavour '{}' was built but never pushed (a --no-push run left {} in {})",
                             kind, flavour, u->second.ref, u->second.store);
      return std::nullopt;
    }
    if (error)
      *error = fmt::format("Image kind '{}' not found among built images for flavour '{}' in {}", kind, flavour,
                           list(fl->second.kinds));
    return std::nullopt;
  }
  return k->second;
}

std::optional<MetaValue> BuiltImages::metadata(const std::string& image, const std::string& flavour,
                                                 const std::string& key) const {
  auto img = images.find(image);
  if (img == images.end()) return std::nullopt;
  auto fl = img->second.find(flavour);
  if (fl == img->second.end()) return std::nullopt;
  auto m = fl->second.metadata.find(key);
  if (m == fl->second.metadata.end()) return std::nullopt;
  return m->second;
}

void BuiltImages::merge(const BuiltImages& newer) {
  for (const auto& [image, flavours] : newer.images)
    for (const auto& [name, f] : flavours) {
      Flavour& mine = images[image][name];
      for (const auto& [kind, ref] : f.kinds) {
        mine.kinds[kind] = ref;
        mine.unpushed.erase(kind);
      }
      for (const auto& [kind, base] : f.bases) mine.bases[kind] = base;
      for (const auto& [kind, u] : f.unpushed) mine.unpushed[kind] = u;
      if (!f.kinds.empty()) mine.metadata = f.metadata;
    }
}

std::string report_json(const BuiltImages& built, ReportFormat format) {
  json out = json::object();
  for (const auto& [image, flavours] : built.images) {
    json fls = json::object();
    for (const auto& [name, f] : flavours) {
      if (format == ReportFormat::v3) {
        json kinds = json::object();
        for (const auto& [kind, ref] : f.kinds) {
          kinds[kind] = {{"image_name", ref}};
          if (auto b = f.bases.find(kind); b != f.bases.end()) kinds[kind]["base"] = b->second;
        }
        json meta = json::object();
        for (const auto& [k, v] : f.metadata) meta[k] = v.json_literal ? json::parse(v.text) : json(v.text);
        fls[name] = {{"kinds", kinds}, {"metadata", meta}};
        if (!f.unpushed.empty()) {
          json unpushed = json::object();
          for (const auto& [kind, u] : f.unpushed)
            unpushed[kind] = {{"ref", u.ref}, {"digest", u.digest}, {"store", u.store}};
          fls[name]["unpushed"] = unpushed;
        }
      } else if (!f.kinds.empty()) {  // v2 has no room for unpushed images
        json kinds = json::object();
        for (const auto& [kind, ref] : f.kinds) kinds[kind] = ref;
        fls[name] = kinds;
      }
    }
    if (format == ReportFormat::v2 && fls.empty()) continue;
    out[image] = {{format == ReportFormat::v3 ? "flavours" : "by-flavour", fls}};
  }
  return out.dump(2) + "\n";
}

Expected<BuiltImages> parse_report(std::string_view text) {
  auto fail = [](std::string msg) { return Error(std::move(msg), ErrorKind::config); };
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("not a JSON object");
  BuiltImages b;
  for (const auto& [image, body] : j.items()) {
    if (!body.is_object()) return fail(fmt::format("'{}' is not an object", image));
    auto& flavours = b.images[image];
    if (body.contains("flavours") && body["flavours"].is_object()) {
      for (const auto& [fl, fb] : body["flavours"].items()) {
        if (!fb.is_object() || !fb.contains("kinds") || !fb["kinds"].is_object())
          return fail(fmt::format("{}.flavours.{} has no kinds", image, fl));
        auto& f = flavours[fl];
        if (fb.contains("unpushed") && fb["unpushed"].is_object())
          for (const auto& item : fb["unpushed"].items()) {
            const json& u = item.value();
            auto text = [&u](const char* key) {
              return u.is_object() && u.contains(key) && u[key].is_string() ? u[key].get<std::string>() : std::string();
            };
            f.unpushed[item.key()] = {text("ref"), text("digest"), text("store")};
          }
        for (const auto& [kind, kb] : fb["kinds"].items()) {
          if (!kb.is_object() || !kb.contains("image_name") || !kb["image_name"].is_string())
            return fail(fmt::format("{}.flavours.{}.kinds.{} has no image_name", image, fl, kind));
          f.kinds[kind] = kb["image_name"].get<std::string>();
          if (kb.contains("base") && kb["base"].is_string()) f.bases[kind] = kb["base"].get<std::string>();
        }
        if (fb.contains("metadata") && fb["metadata"].is_object())
          for (const auto& [k, v] : fb["metadata"].items()) {
            if (v.is_string())
              f.metadata[k] = MetaValue{v.get<std::string>(), false};
            else if (v.is_number() || v.is_boolean() || v.is_null())
              f.metadata[k] = MetaValue{v.dump(), true};
          }
      }
    } else if (body.contains("by-flavour") && body["by-flavour"].is_object()) {
      for (const auto& [fl, fb] : body["by-flavour"].items()) {
        if (!fb.is_object()) return fail(fmt::format("{}.by-flavour.{} is not an object", image, fl));
        auto& f = flavours[fl];
        for (const auto& [kind, ref] : fb.items())
          if (ref.is_string()) f.kinds[kind] = ref.get<std::string>();
      }
    } else {
      return fail(fmt::format("'{}' has neither 'flavours' (v3) nor 'by-flavour' (v2)", image));
    }
  }
  return b;
}

}  // namespace flavourgraph
