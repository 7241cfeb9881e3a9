// images.yaml: kinds built from a Containerfile, build engines and `build:` bases
// (docs/run-builds.md).
#include <fmt/format.h>

#include <charconv>

#include "config_parts.h"

namespace flavourgraph {

namespace {

bool valid_engine_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

/// `HOST:PORT` with a port of 1 to 65535.
bool host_port(std::string_view s) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  unsigned port = 0;
  auto digits = s.substr(colon + 1);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  return ec == std::errc() && p == digits.data() + digits.size() && port >= 1 && port <= 65535;
}

/// The engine's client address for `url` (no width), or a problem.
std::string engine_address(std::string_view url, EngineSpec& out) {
  auto scheme_of = [&](std::string_view prefix) { return url.starts_with(prefix); };
  if (url == "buildah" || scheme_of("buildah:")) {
    out.type = EngineType::buildah;
    out.address = url == "buildah" ? "" : std::string(url.substr(8));
    if (!out.address.empty() && out.address.front() != '/')
      return fmt::format("'{}': buildah:DIR needs an absolute storage directory", url);
    return "";
  }
  for (auto [prefix, type] : {std::pair{std::string_view("podman+"), EngineType::podman},
                              std::pair{std::string_view("buildkit+"), EngineType::buildkit}}) {
    if (!scheme_of(prefix)) continue;
    out.type = type;
    out.address = std::string(url.substr(prefix.size()));
    std::string_view a = out.address;
    if (a.starts_with("tcp://") && host_port(a.substr(6))) return "";
    if (a.starts_with("unix:///") && a.size() > 8) return "";
    if (type == EngineType::podman && a.starts_with("ssh://") && a.size() > 6) return "";
    return fmt::format("'{}' is not an address {} can be reached at (tcp://HOST:PORT, unix:///PATH{})", a,
                       type == EngineType::podman ? "podman's API service" : "a BuildKit daemon",
                       type == EngineType::podman ? ", ssh://USER@HOST/PATH" : "");
  }
  return fmt::format("unknown engine '{}' (buildah, buildah:STORAGE_DIR, podman+tcp://HOST:PORT, "
                     "podman+unix:///PATH, podman+ssh://..., buildkit+tcp://HOST:PORT or buildkit+unix:///PATH)",
                     url);
}

}  // namespace

std::string parse_engine(std::string_view text, EngineSpec& out, std::string_view name) {
  if (name.empty()) {
    size_t eq = text.find('=');
    if (eq == std::string_view::npos) return fmt::format("'{}' is not NAME=URL (e.g. m1=podman+tcp://10.0.0.5:8888)", text);
    name = text.substr(0, eq);
    text = text.substr(eq + 1);
  }
  if (!valid_engine_name(name)) return fmt::format("'{}' is not an engine name (letters, digits, '-', '_', '.')", name);
  out.name = std::string(name);
  out.width = 1;
  if (size_t q = text.find("?width="); q != std::string_view::npos) {
    auto w = config_parts::parse_id(text.substr(q + 7));
    if (!w || *w < 1 || *w > 64) return fmt::format("width '{}' is not a number from 1 to 64", text.substr(q + 7));
    out.width = *w;
    text = text.substr(0, q);
  }
  out.url = std::string(text);
  return engine_address(text, out);
}

std::optional<BuildRef> parse_build_ref(std::string_view ref, std::string* problem) {
  if (!ref.starts_with(kBuildRefPrefix)) return std::nullopt;
  std::string_view rest = ref.substr(kBuildRefPrefix.size());
  size_t a = rest.find('/');
  size_t b = a == std::string_view::npos ? a : rest.find('/', a + 1);
  if (b == std::string_view::npos || rest.find('/', b + 1) != std::string_view::npos || a == 0 || b == a + 1 ||
      b + 1 == rest.size()) {
    if (problem) *problem = "write build:IMAGE/FLAVOUR/KIND (e.g. build:php-base/php8.1/image)";
    return std::nullopt;
  }
  return BuildRef{std::string(rest.substr(0, a)), std::string(rest.substr(a + 1, b - a - 1)),
                  std::string(rest.substr(b + 1))};
}

namespace config_parts {

using yamlr::Ctx;
using yamlr::MapReader;

std::string build_ref_problem(const ImagesConfig& cfg, std::string_view ref) {
  std::string problem;
  auto r = parse_build_ref(ref, &problem);
  if (!r) return problem;
  const ImageSpec* img = cfg.image(r->image);
  if (!img) return fmt::format("no image '{}' in this file", r->image);
  if (!img->flavour(r->flavour))
    return fmt::format("image '{}' has no flavour '{}' (its flavours: {})", r->image, r->flavour,
                       fmt::join(img->flavour_names(), ", "));
  if (!img->kind(r->kind))
    return fmt::format("image '{}' has no kind '{}' (its kinds: {})", r->image, r->kind, fmt::join(img->kind_names(), ", "));
  return "";
}

std::optional<RunSpec> parse_run(const Ctx& ctx, const MapReader& m, const std::filesystem::path& dir) {
  auto file = m.str("containerfile");
  if (!file) {
    for (const char* key : {"context", "target"})
      if (const auto* e = m.find(key))
        ctx.error(e->key_node, m.field(key), fmt::format("'{}' needs 'containerfile'", key));
    return std::nullopt;
  }
  RunSpec r;
  const auto* fe = m.find("containerfile");
  r.where = yamlr::where(ctx.file, fe->value);
  r.containerfile = *file;
  r.containerfile_path = (dir / *file).lexically_normal();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(r.containerfile_path, ec))
    ctx.error(fe->value, m.field("containerfile"), fmt::format("'{}' is not a file", r.containerfile_path.string()));
  if (auto c = m.str("context")) {
    r.context = *c;
    r.context_path = (dir / *c).lexically_normal();
    if (!std::filesystem::is_directory(r.context_path, ec))
      ctx.error(m.find("context")->value, m.field("context"), fmt::format("'{}' is not a directory", r.context_path.string()));
  } else {
    r.context_path = r.containerfile_path.parent_path();
  }
  r.target = m.str("target");
  return r;
}

std::vector<EngineSpec> parse_engines(const Ctx& ctx, const YAML::Node& node) {
  std::vector<EngineSpec> out;
  MapReader engines(ctx, node, "engines");
  for (const auto& e : engines.entries()) {
    std::string field = engines.field(e.key);
    std::string url;
    std::optional<std::string> width;
    if (e.value.IsMap()) {
      MapReader m(ctx, e.value, field);
      m.allow({"url", "width"});
      url = m.str("url", true).value_or("");
      width = m.str("width");
    } else if (auto s = yamlr::scalar_string(ctx, e.value, field)) {
      url = *s;
    }
    if (url.empty()) continue;
    EngineSpec spec;
    if (width) url += "?width=" + *width;
    if (std::string problem = parse_engine(url, spec, e.key); !problem.empty()) {
      ctx.error(e.value, field, problem);
      continue;
    }
    spec.where = yamlr::where(ctx.file, e.value);
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace config_parts

}  // namespace flavourgraph
