// images.yaml: loading and validation (docs/configuration.md has the schema).
#include "flavourgraph/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <set>

#include "flavourgraph/deployments.h"
#include "flavourgraph/oci/reference.h"
#include "config_parts.h"
#include "yaml_reader.h"

namespace flavourgraph {

const FlavourSpec* ImageSpec::flavour(std::string_view n) const {
  for (const auto& f : flavours)
    if (f.name == n) return &f;
  return nullptr;
}

const KindSpec* ImageSpec::kind(std::string_view n) const {
  int i = kind_index(n);
  return i < 0 ? nullptr : &kinds[static_cast<size_t>(i)];
}

int ImageSpec::kind_index(std::string_view n) const {
  for (size_t i = 0; i < kinds.size(); ++i)
    if (kinds[i].name == n) return static_cast<int>(i);
  return -1;
}

std::vector<std::string> ImageSpec::flavour_names() const {
  std::vector<std::string> out;
  for (const auto& f : flavours) out.push_back(f.name);
  return out;
}

std::vector<std::string> ImageSpec::kind_names() const {
  std::vector<std::string> out;
  for (const auto& k : kinds) out.push_back(k.name);
  return out;
}

const ImageSpec* ImagesConfig::image(std::string_view n) const {
  int i = image_index(n);
  return i < 0 ? nullptr : &images[static_cast<size_t>(i)];
}

int ImagesConfig::image_index(std::string_view n) const {
  for (size_t i = 0; i < images.size(); ++i)
    if (images[i].name == n) return static_cast<int>(i);
  return -1;
}

std::string expand_template(std::string_view tmpl, const StringPairs& vars,
                            std::vector<std::string>* unknown) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c == '{' && i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < tmpl.size() && tmpl[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = tmpl.find('}', i + 1);
      if (close == std::string_view::npos) {
        if (unknown) unknown->push_back("unclosed '{' in \"" + std::string(tmpl) + "\"");
        break;
      }
      std::string_view name = tmpl.substr(i + 1, close - i - 1);
      auto it = std::find_if(vars.begin(), vars.end(), [&](const auto& p) { return p.first == name; });
      if (it == vars.end()) {
        if (unknown) unknown->push_back(std::string(name));
      } else {
        out += it->second;
      }
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

std::string normalise_push_target(std::string_view target) {
  std::string t(target);
  while (t.size() > 1 && t.back() == '/' && t.rfind("oci:", 0) != 0) t.pop_back();
  return t;
}

std::string check_push_target(std::string_view target) {
  if (target.find("://") != std::string_view::npos)
    return fmt::format("'{}': write the registry as HOST[:PORT][/PREFIX], without a scheme (TLS is the default; "
                       "--insecure-registry allows plain HTTP)",
                       target);
  if (auto t = oci::Target::parse(normalise_push_target(target), "."); !t) return t.message();
  return {};
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(t.front())) return false;
  return std::all_of(t.begin(), t.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

namespace {

using config_parts::parse_compression;
using config_parts::parse_engines;
using config_parts::parse_run;
using config_parts::parse_id;
using config_parts::parse_incremental;
using config_parts::parse_settings;
using config_parts::parse_variables;
using config_parts::apply_sets;
using config_parts::expand_layers;
using yamlr::Ctx;
using yamlr::MapReader;

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return false;
  return true;
}

/// Normalises an absolute path inside the image: no `.`/`..`, no doubled or trailing slashes.
std::optional<std::string> normalise_dest(std::string_view p) {
  if (p.empty() || p.front() != '/') return std::nullopt;
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    auto part = p.substr(i, j - i);
    if (part == "..") return std::nullopt;
    if (!part.empty() && part != ".") parts.push_back(part);
    i = j + 1;
  }
  std::string out;
  for (auto part : parts) {
    out += '/';
    out += part;
  }
  return out.empty() ? "/" : out;
}

LayerSpec parse_layer(const Ctx& ctx, const YAML::Node& node, const std::string& path,
                      const std::filesystem::path& dir) {
  LayerSpec l;
  l.where = yamlr::where(ctx.file, node);
  MapReader m(ctx, node, path);
  if (!m.ok()) return l;
  m.allow({"source", "dest", "include", "exclude", "owner", "incremental"});
  if (auto inc = m.boolean("incremental")) l.incremental = *inc;
  if (auto s = m.str("source", true)) {
    l.source = *s;
    std::filesystem::path sp(*s);
    l.source_path = (sp.is_absolute() ? sp : dir / sp).lexically_normal();
  }
  if (auto d = m.str("dest", true)) {
    auto n = normalise_dest(*d);
    if (!n)
      ctx.error(m.find("dest")->value, m.field("dest"),
                fmt::format("'{}' must be an absolute path inside the image, without '..'", *d));
    else
      l.dest = *n;
  }
  l.include = m.str_list("include");
  l.exclude = m.str_list("exclude");
  for (std::string_view key : {"include", "exclude"})
    for (const auto& p : key == "include" ? l.include : l.exclude)
      if (p == "/" || p == "**" || p == "/**")
        ctx.error(m.find(key)->value, m.field(key),
                  fmt::format("pattern '{}' matches the whole tree: leave the layer out instead", p));
  if (const auto* e = m.find("owner")) {
    std::optional<std::string> o = yamlr::scalar_string(ctx, e->value, m.field("owner"));
    if (o) {
      auto colon = o->find(':');
      auto uid = parse_id(std::string_view(*o).substr(0, colon));
      auto gid = colon == std::string::npos ? uid : parse_id(std::string_view(*o).substr(colon + 1));
      if (!uid || !gid)
        ctx.error(e->value, m.field("owner"),
                  fmt::format("'{}' is not a numeric owner: write UID or UID:GID, e.g. 33:33", *o));
      else {
        l.uid = *uid;
        l.gid = *gid;
      }
    }
  }
  return l;
}

std::optional<std::vector<std::string>> parse_argv(const MapReader& m, std::string_view key) {
  if (!m.has(key)) return std::nullopt;
  const auto* e = m.find(key);
  if (e->value.IsScalar()) {
    m.ctx().error(e->value, m.field(key),
                  "expected a list of strings (exec form), e.g. [\"php-fpm\", \"-F\"]");
    return std::nullopt;
  }
  return m.str_list(key);
}

KindSpec parse_kind(const Ctx& ctx, const yamlr::Entry& entry, const std::string& path,
                    const std::map<std::string, LayerSpec>& named_layers,
                    const std::filesystem::path& dir) {
  KindSpec k;
  k.name = entry.key;
  k.where = yamlr::where(ctx.file, entry.key_node);
  if (!valid_name(k.name))
    ctx.error(entry.key_node, path, "kind names use letters, digits, '-', '_' and '.'");
  MapReader m(ctx, entry.value, path);
  if (!m.ok()) return k;
  m.allow({"repository", "from", "base", "containerfile", "context", "target", "layers", "config"});
  k.run = parse_run(ctx, m, dir);
  if (auto r = m.str("repository", true)) {
    k.repository = *r;
    k.repository_at = yamlr::where(ctx.file, m.find("repository")->value);
  }
  k.from = m.str("from");
  k.base = m.str("base");
  if (k.base) k.base_at = yamlr::where(ctx.file, m.find("base")->value);
  if (k.from && k.base)
    ctx.error(m.find("base")->key_node, m.field("base"),
              fmt::format("a kind built from another kind ('{}') takes that kind's image as its "
                          "base; remove 'base' or 'from'",
                          *k.from));
  if (const auto* e = m.find("layers")) {
    if (!e->value.IsSequence()) {
      ctx.error(e->value, m.field("layers"),
                "expected a list of layers (names of top-level layers or inline layers)");
    } else {
      size_t i = 0;
      for (const auto& item : e->value) {
        std::string field = fmt::format("{}[{}]", m.field("layers"), i++);
        if (item.IsScalar()) {
          auto it = named_layers.find(item.Scalar());
          if (it == named_layers.end()) {
            std::vector<std::string> names;
            for (const auto& [n, _] : named_layers) names.push_back(n);
            std::string hint = yamlr::suggest(item.Scalar(), names);
            ctx.error(item, field,
                      fmt::format("unknown layer '{}'{}", item.Scalar(),
                                  hint.empty() ? " (define it under the top-level 'layers:')"
                                               : fmt::format(" (did you mean '{}'?)", hint)));
          } else {
            k.layers.push_back(it->second);
          }
        } else {
          k.layers.push_back(parse_layer(ctx, item, field, dir));
        }
      }
    }
  }
  if (const auto* e = m.find("config")) {
    MapReader c(ctx, e->value, m.field("config"));
    if (c.ok()) {
      c.allow({"user", "workdir", "env", "labels", "entrypoint", "cmd"});
      k.config.user = c.str("user");
      k.config.workdir = c.str("workdir");
      if (k.config.workdir && k.config.workdir->front() != '/')
        ctx.error(c.find("workdir")->value, c.field("workdir"), "must be an absolute path");
      k.config.env = c.str_map("env");
      for (const auto& [name, _] : k.config.env)
        if (name.empty() || name.find('=') != std::string::npos)
          ctx.error(c.find("env")->value, c.field("env"),
                    fmt::format("'{}' is not a valid environment variable name", name));
      k.config.labels = c.str_map("labels");
      k.config.entrypoint = parse_argv(c, "entrypoint");
      k.config.cmd = parse_argv(c, "cmd");
    }
  }
  return k;
}

FlavourSpec parse_flavour(const Ctx& ctx, const yamlr::Entry& entry, const std::string& path) {
  FlavourSpec f;
  f.name = entry.key;
  f.where = yamlr::where(ctx.file, entry.key_node);
  if (!valid_name(f.name))
    ctx.error(entry.key_node, path, "flavour names use letters, digits, '-', '_' and '.'");
  YAML::Node body = entry.value;
  YAML::Node empty(YAML::NodeType::Map);
  if (!body.IsDefined() || body.IsNull()) body = empty;
  MapReader m(ctx, body, path);
  if (!m.ok()) return f;
  m.allow({"base", "args", "metadata"});
  f.base = m.str("base");
  if (f.base) f.base_at = yamlr::where(ctx.file, m.find("base")->value);
  f.args = m.str_map("args");
  f.metadata = m.str_map("metadata");
  for (const auto& [name, _] : f.args)
    if (!valid_name(name) || name == "flavour" || name == "image" || name == "kind" ||
        name == "timestamp")
      ctx.error(m.find("args")->value, m.field("args"),
                fmt::format("'{}' cannot be a build arg name (reserved or invalid)", name));
  return f;
}

/// The template variables of one (image, flavour, kind).
bool valid_repository(std::string_view r) {
  // OCI distribution: components [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* joined by '/'.
  if (r.empty() || r.size() > 255) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  size_t start = 0;
  while (true) {
    size_t slash = r.find('/', start);
    auto comp = r.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (comp.empty() || !alnum(comp.front()) || !alnum(comp.back())) return false;
    for (size_t i = 0; i < comp.size();) {
      if (alnum(comp[i])) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < comp.size() && !alnum(comp[j])) ++j;
      auto sep = comp.substr(i, j - i);
      bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
      if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
      i = j;
    }
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

std::string arg_names(const FlavourSpec& fl) {
  if (fl.args.empty()) return "none";
  std::vector<std::string> names;
  for (const auto& a : fl.args) names.push_back(a.first);
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string list_in_template(const std::string& name) {
  return fmt::format("'{{{}}}' is a list variable: only layers' include and exclude patterns may use it", name);
}

using Report = std::function<void(const Location&, const std::string&, const std::string&)>;

/// `tag` and `latest_tag` (a template too: `latest-{flavour}` gives each flavour its own) for
/// one image, flavour and kind (`who`): every name defined, and a valid tag once expanded.
void check_tags(const ImagesConfig& cfg, const StringPairs& vars, const std::string& who, const Report& report) {
  auto check = [&](const std::string& tmpl, const Location& at, const char* field, const StringPairs& names,
                   const char* known, bool is_tag) {
    std::vector<std::string> unknown;
    std::string tag = expand_template(tmpl, names, &unknown);
    for (const auto& u : unknown)
      report(at, field,
             u.rfind("unclosed", 0) == 0 ? u
             : cfg.variable(u)           ? list_in_template(u)
                                         : fmt::format("'{{{}}}' is not defined (known: {})", u, known));
    if (!unknown.empty() || valid_tag(tag)) return;
    if (is_tag)
      report(at, field,
             fmt::format("gives '{}' for {}, not a valid tag (letters, digits, '_', '.', '-'; at most 128; not "
                         "starting with '.' or '-')",
                         tag, who));
    else
      report(at, field, tag == tmpl ? fmt::format("'{}' is not a valid tag", tag)
                                    : fmt::format("gives '{}' for {}, not a valid tag", tag, who));
  };
  StringPairs tag_vars = vars;
  tag_vars.emplace_back("timestamp", "2000-01-01-000000");
  check(cfg.tag_template, cfg.tag_where, "tag", tag_vars,
        "timestamp, image, flavour, kind, the flavour's args and the variables", true);
  if (!cfg.latest_tag.empty())  // expanded as the plan expands it: without the timestamp
    check(cfg.latest_tag, cfg.latest_tag_where, "latest_tag", vars,
          "image, flavour, kind, the flavour's args and the variables", false);
}

void check_templates(const Ctx& ctx, ImagesConfig& cfg) {
  std::set<std::string> reported;  // one report per (place, message), not per flavour × kind
  auto report = [&](const Location& at, const std::string& field, const std::string& msg) {
    if (reported.insert(at.str() + field + msg).second) ctx.diags->error(at, field, msg);
  };
  for (const auto& img : cfg.images) {
    for (const auto& kind : img.kinds) {
      for (const auto& fl : img.flavours) {
        StringPairs vars = template_vars(cfg, img, fl, kind);
        std::string field = fmt::format("images.{}.kinds.{}", img.name, kind.name);
        auto check = [&](std::string_view what, const std::string& tmpl, const Location& at) {
          std::vector<std::string> unknown;
          std::string v = expand_template(tmpl, vars, &unknown);
          for (const auto& u : unknown)
            report(at, yamlr::join(field, what),
                   u.rfind("unclosed", 0) == 0 ? u
                   : cfg.variable(u)
                       ? list_in_template(u)
                       : fmt::format("'{{{}}}' is not defined for flavour '{}' (its args: {})", u,
                                     fl.name, arg_names(fl)));
          return v;
        };
        std::string repo = check("repository", kind.repository, kind.repository_at);
        if (!kind.repository.empty() && !valid_repository(repo))
          report(kind.repository_at, field + ".repository",
                 fmt::format("'{}' is not a valid repository name (lower-case components "
                             "separated by '/')",
                             repo));
        auto check_ref = [&](const std::string& tmpl, const Location& at) {
          std::string ref = check("base", tmpl, at);
          if (ref.find('{') != std::string::npos) return;
          if (ref.starts_with(kBuildRefPrefix)) {
            if (std::string problem = config_parts::build_ref_problem(cfg, ref); !problem.empty())
              report(at, field + ".base", fmt::format("'{}' (for flavour '{}'): {}", ref, fl.name, problem));
            return;
          }
          if (auto r = oci::Reference::parse(ref, cfg.dir); !r)
            report(at, field + ".base",
                   fmt::format("'{}' (for flavour '{}') is not an image reference: {}", ref, fl.name, r.message()));
        };
        if (!kind.from) {
          if (kind.base) {
            check_ref(*kind.base, kind.base_at);
          } else if (fl.base) {
            check_ref(*fl.base, fl.base_at);
          } else {
            report(kind.where, field,
                   fmt::format("no base image for flavour '{}': set 'base' on the kind or on the "
                               "flavour, or build 'from' another kind",
                               fl.name));
          }
        }
        for (const auto& [k, v] : kind.config.env) check("config.env." + k, v, kind.where);
        for (const auto& [k, v] : kind.config.labels) check("config.labels." + k, v, kind.where);
        check_tags(cfg, vars, fmt::format("{}:{}:{}", img.name, fl.name, kind.name), report);
      }
    }
  }
}

/// Reports `from:` naming an unknown kind and cycles of `from:`.
void check_from(const Ctx& ctx, const ImageSpec& img) {
  for (const auto& kind : img.kinds) {
    if (!kind.from) continue;
    std::string field = fmt::format("images.{}.kinds.{}.from", img.name, kind.name);
    if (!img.kind(*kind.from)) {
      std::string hint = yamlr::suggest(*kind.from, img.kind_names());
      ctx.diags->error(kind.where, field,
                       fmt::format("unknown kind '{}' of image '{}' (known: {}){}", *kind.from,
                                   img.name, fmt::join(img.kind_names(), ", "),
                                   hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
    }
  }
  std::set<std::string> reported;
  for (const auto& start : img.kinds) {
    std::vector<std::string> chain{start.name};
    const KindSpec* k = &start;
    while (k && k->from) {
      const KindSpec* next = img.kind(*k->from);
      if (!next) break;
      auto at = static_cast<size_t>(std::find(chain.begin(), chain.end(), next->name) - chain.begin());
      bool looped = at < chain.size();
      chain.push_back(next->name);
      if (looped) {
        std::vector<std::string> cycle(chain.begin() + static_cast<std::ptrdiff_t>(at), chain.end());
        std::vector<std::string> sorted(cycle.begin(), cycle.end() - 1);  // one report per cycle
        std::sort(sorted.begin(), sorted.end());
        std::string key = fmt::format("{}", fmt::join(sorted, ","));
        if (reported.insert(key).second)
          ctx.diags->error(next->where, fmt::format("images.{}.kinds.{}.from", img.name, next->name),
                           fmt::format("'from' forms a cycle: {}", fmt::join(cycle, " -> ")));
        break;
      }
      k = next;
    }
  }
}

ImageSpec parse_image(const Ctx& ctx, const MapReader& imgs, const yamlr::Entry& ie,
                      const std::map<std::string, LayerSpec>& named_layers, const std::filesystem::path& dir) {
  ImageSpec img;
  img.name = ie.key;
  img.where = yamlr::where(ctx.file, ie.key_node);
  std::string ipath = imgs.field(ie.key);
  if (!valid_name(img.name)) ctx.error(ie.key_node, ipath, "image names use letters, digits, '-', '_' and '.'");
  MapReader im(ctx, ie.value, ipath);
  if (!im.ok()) return img;
  im.allow({"flavours", "kinds"});
  if (const auto* fe = im.find("flavours")) {
    MapReader fl(ctx, fe->value, im.field("flavours"));
    for (const auto& e : fl.entries()) img.flavours.push_back(parse_flavour(ctx, e, fl.field(e.key)));
    if (fl.ok() && img.flavours.empty()) ctx.error(fe->key_node, im.field("flavours"), "an image needs at least one flavour");
  } else {
    ctx.error(ie.key_node, im.field("flavours"), "missing required key 'flavours'");
  }
  if (const auto* ke = im.find("kinds")) {
    MapReader kinds(ctx, ke->value, im.field("kinds"));
    for (const auto& e : kinds.entries()) img.kinds.push_back(parse_kind(ctx, e, kinds.field(e.key), named_layers, dir));
    if (kinds.ok() && img.kinds.empty()) ctx.error(ke->key_node, im.field("kinds"), "an image needs at least one kind");
  } else {
    ctx.error(ie.key_node, im.field("kinds"), "missing required key 'kinds'");
  }
  check_from(ctx, img);
  return img;
}

ImagesConfig parse_root(const Ctx& ctx, const YAML::Node& root, const std::filesystem::path& dir,
                        const std::vector<std::string>& sets = {}) {
  ImagesConfig cfg;
  cfg.dir = dir;
  cfg.latest_tag = "latest";
  MapReader top(ctx, root, "");
  if (!top.ok()) return cfg;
  top.allow({"registry", "insecure_registries", "tag", "latest_tag", "clusters", "compression", "incremental",
             "engines", "variables", "layers", "images"});
  parse_settings(ctx, top, cfg);
  if (const auto* e = top.find("variables")) cfg.variables = parse_variables(ctx, e->value);
  apply_sets(ctx, cfg.variables, sets);
  if (const auto* e = top.find("incremental")) cfg.incremental = parse_incremental(ctx, e->value);
  if (const auto* e = top.find("compression")) cfg.compression = parse_compression(ctx, e->value);
  if (const auto* e = top.find("engines")) cfg.engines = parse_engines(ctx, e->value);
  std::map<std::string, LayerSpec> named_layers;
  if (const auto* e = top.find("layers")) {
    MapReader layers(ctx, e->value, "layers");
    for (const auto& le : layers.entries()) {
      LayerSpec l = parse_layer(ctx, le.value, layers.field(le.key), dir);
      l.name = le.key;
      named_layers.emplace(le.key, std::move(l));
    }
  }
  const auto* images = top.find("images");
  if (!images) {
    ctx.error(root, "images", "missing required key 'images'");
    return cfg;
  }
  MapReader imgs(ctx, images->value, "images");
  for (const auto& ie : imgs.entries()) cfg.images.push_back(parse_image(ctx, imgs, ie, named_layers, dir));
  expand_layers(ctx, cfg);
  check_templates(ctx, cfg);
  return cfg;
}

}  // namespace

ImagesConfig parse_images_config(std::string_view text, const std::string& display,
                                 const std::filesystem::path& dir, Diagnostics& diags) {
  ImagesConfig cfg;
  if (auto root = yamlr::load_text(text, display, diags)) {
    Ctx ctx{display, &diags};
    cfg = parse_root(ctx, *root, dir);
  }
  cfg.file = display;
  return cfg;
}

ImagesConfig load_images_config(const std::filesystem::path& file, Diagnostics& diags,
                                const std::vector<std::string>& sets) {
  ImagesConfig cfg;
  auto dir = std::filesystem::absolute(file).parent_path();
  if (auto root = yamlr::load_file(file, file.string(), diags)) {
    Ctx ctx{file.string(), &diags};
    cfg.file = file;
    cfg = parse_root(ctx, *root, dir, sets);
  }
  cfg.file = file;
  cfg.dir = dir;
  return cfg;
}

}  // namespace flavourgraph
