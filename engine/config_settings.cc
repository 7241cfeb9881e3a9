// images.yaml: numbers and the top-level settings (docs/configuration.md has the schema).
#include <fmt/format.h>

#include <charconv>

#include "config_parts.h"
#include "flavourgraph/deployments.h"

namespace flavourgraph::config_parts {

using yamlr::Ctx;
using yamlr::MapReader;

std::optional<uint32_t> parse_id(std::string_view s) {
  uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_fraction(std::string_view s) {
  bool percent = !s.empty() && s.back() == '%';
  if (percent) s.remove_suffix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  if (percent) v /= 100;
  if (v < 0 || v > 1) return std::nullopt;
  return v;
}

void parse_settings(const Ctx& ctx, const MapReader& top, ImagesConfig& cfg) {
  if (auto r = top.str("registry")) {
    auto at = top.find("registry")->value;
    if (auto problem = check_push_target(*r); !problem.empty())
      ctx.error(at, "registry", problem);
    else
      cfg.registry = normalise_push_target(*r);
  }
  cfg.insecure_registries = top.str_list("insecure_registries");
  if (auto t = top.str("tag")) {
    cfg.tag_template = *t;
    cfg.tag_where = yamlr::where(ctx.file, top.find("tag")->value);
  }
  if (const auto* e = top.find("latest_tag")) {
    if (e->value.IsNull() || (e->value.IsScalar() && e->value.Scalar().empty()))
      cfg.latest_tag.clear();
    else if (auto t = yamlr::scalar_string(ctx, e->value, "latest_tag"))
      cfg.latest_tag = *t;
    cfg.latest_tag_where = yamlr::where(ctx.file, e->value);
  }
  cfg.clusters = top.str_list("clusters");
  if (const auto* e = top.find("clusters"))
    for (const auto& problem : check_cluster_list(cfg.clusters)) ctx.error(e->value, "clusters", problem);
}

CompressionSpec parse_compression(const Ctx& ctx, const YAML::Node& node) {
  CompressionSpec out;
  MapReader c(ctx, node, "compression");
  if (!c.ok()) return out;
  c.allow({"format", "level"});
  if (auto f = c.str("format")) {
    if (*f == "gzip") {
      out.format = Compression::gzip;
    } else if (*f == "zstd") {
      out.format = Compression::zstd;
      out.level = 3;
    } else {
      ctx.error(c.find("format")->value, "compression.format", fmt::format("unknown compression '{}' (gzip or zstd)", *f));
    }
  }
  if (auto l = c.str("level")) {
    auto v = parse_id(*l);
    int max = out.format == Compression::zstd ? 19 : 12;
    if (!v || *v < 1 || static_cast<int>(*v) > max)
      ctx.error(c.find("level")->value, "compression.level", fmt::format("'{}' is not a level from 1 to {}", *l, max));
    else
      out.level = static_cast<int>(*v);
  }
  return out;
}

IncrementalSettings parse_incremental(const Ctx& ctx, const YAML::Node& node) {
  IncrementalSettings out;
  MapReader m(ctx, node, "incremental");
  if (!m.ok()) return out;
  m.allow({"max_layers", "max_delta", "labels"});
  if (auto v = m.str("max_layers")) {
    auto n = parse_id(*v);
    if (!n || *n < 2 || *n > 500)
      ctx.error(m.find("max_layers")->value, "incremental.max_layers",
                fmt::format("'{}' is not a layer count from 2 to 500 (overlayfs takes at most 128 here)", *v));
    else
      out.max_layers = static_cast<int>(*n);
  }
  if (auto v = m.str("max_delta")) {
    auto f = parse_fraction(*v);
    if (!f)
      ctx.error(m.find("max_delta")->value, "incremental.max_delta",
                fmt::format("'{}' is not a fraction of the tree from 0 to 1, e.g. 0.25 or 25%", *v));
    else
      out.max_delta = *f;
  }
  if (const auto* e = m.find("labels")) {
    MapReader l(ctx, e->value, "incremental.labels");
    if (l.ok()) {
      l.allow({"build_type", "parent_image"});
      if (auto v = l.str("build_type")) out.build_type_label = *v;
      if (auto v = l.str("parent_image")) out.parent_image_label = *v;
    }
  }
  return out;
}

}  // namespace flavourgraph::config_parts
