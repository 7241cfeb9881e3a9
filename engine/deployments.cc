// The deployments file: production's two shapes and the semantics of design.md §4.
#include "flavourgraph/deployments.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "flavourgraph/config.h"
#include "flavourgraph/pyyaml.h"
#include "yaml_reader.h"

namespace flavourgraph {

std::string_view stage_name(Stage s) {
  switch (s) {
    case Stage::testservers: return "testservers";
    case Stage::canaries: return "canaries";
    case Stage::production: return "production";
  }
  return "?";
}

std::optional<Stage> parse_stage(std::string_view s) {
  for (Stage st : kStages)
    if (stage_name(st) == s) return st;
  return std::nullopt;
}

bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s)
    if (!alnum(c) && c != '-') return false;
  return true;
}

std::vector<std::string> check_cluster_list(const std::vector<std::string>& clusters) {
  std::vector<std::string> problems;
  std::set<std::string> seen;
  for (const auto& c : clusters) {
    if (!is_dns_label(c))
      problems.push_back(fmt::format("'{}' is not a valid cluster name (a DNS label: lower-case "
                                     "letters, digits and '-')",
                                     c));
    else if (!seen.insert(c).second)
      problems.push_back(fmt::format("cluster '{}' is listed twice", c));
  }
  return problems;
}

bool is_helm_release_name(std::string_view s) {
  // Helm: ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$, at most 53.
  if (s.empty() || s.size() > 53) return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    auto part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty()) return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(part.front()) || !alnum(part.back())) return false;
    for (char c : part)
      if (!alnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

const ReleaseSpec* DeploymentsFile::find_release(std::string_view ns, std::string_view release) const {
  for (const auto& n : namespaces)
    if (n.name == ns)
      for (const auto& r : n.releases)
        if (r.name == release) return &r;
  return nullptr;
}

std::string ReleaseTarget::id() const {
  std::string out = ns->name + "/" + release->name;
  if (!cluster.empty()) out += "@" + cluster;
  return out;
}

std::string ReleaseTarget::fq_name() const {
  std::string out = ns->name + "-" + release->name;
  if (!cluster.empty()) out += "-" + cluster;
  return out;
}

std::string ReleaseTarget::values_file() const { return fq_name() + ".yaml"; }

namespace {

using yamlr::Ctx;
using yamlr::MapReader;

/// Shows how an entry of the old `release:`/`canary:` form is written today.
std::string conversion_hint(const MapReader& m) {
  auto scalar = [&](std::string_view key) -> std::string {
    const auto* e = m.find(key);
    if (!e || !e->value.IsScalar()) return "";
    return e->value.Scalar();
  };
  bool debug = false;
  if (const auto* e = m.find("debug"); e && yamlr::is_plain(e->value))
    debug = pyyaml::plain_bool_value(e->value.Scalar());
  std::string ns = scalar("namespace"), release = scalar("release"), canary = scalar("canary");
  if (canary == "~" || canary == "null") canary.clear();
  std::string out = "the 'release:'/'canary:' form is no longer accepted; write this entry as:\n";
  out += fmt::format("  - namespace: {}\n    releases:\n", ns.empty() ? "<namespace>" : ns);
  out += fmt::format("      {}: {{}}\n", release.empty() ? "main" : release);
  if (!canary.empty() && !debug) out += fmt::format("      {}:\n        stage: canaries\n", canary);
  for (std::string_view key : {"mw_flavour", "web_flavour"}) {
    std::string v = scalar(key);
    if (!v.empty()) out += fmt::format("    {}: {}\n", key, v);
  }
  for (std::string_view key : {"mw_kind", "scope", "dir"}) {
    std::string v = scalar(key);
    if (!v.empty()) out += fmt::format("    {}: {}\n", key, v);
  }
  if (const auto* e = m.find("clusters"); e && e->value.IsSequence()) {
    std::vector<std::string> names;
    for (const auto& c : e->value)
      if (c.IsScalar()) names.push_back(c.Scalar());
    out += fmt::format("    clusters: [{}]\n", fmt::join(names, ", "));
  }
  if (debug) out += "    debug: true\n";
  if (!canary.empty() && debug)
    out += fmt::format("(the canary '{}' of a debug namespace was never deployed; it is dropped)\n",
                       canary);
  if (out.back() == '\n') out.pop_back();
  return out;
}

/// A value that overrides a default only when present; present-but-empty is an error.
struct Setting {
  std::string value;
  Location at;
  std::string field;
  bool present = false;
};

Setting read_setting(const MapReader& m, std::string_view key) {
  Setting s;
  const auto* e = m.find(key);
  if (!e) return s;
  s.present = true;
  s.field = m.field(key);
  s.at = yamlr::where(m.ctx().file, e->key_node);
  if (!e->value.IsDefined() || e->value.IsNull() ||
      (e->value.IsScalar() && e->value.Scalar().empty())) {
    m.ctx().error(e->key_node, s.field,
                  "empty value: remove the key to use the default, or name a value");
    return s;
  }
  if (!e->value.IsScalar()) {
    m.ctx().error(e->value, s.field, "expected a string, got " + yamlr::describe(e->value));
    return s;
  }
  s.value = e->value.Scalar();
  return s;
}

void parse_release(const Ctx& ctx, const yamlr::Entry& entry, const std::string& ns_path,
                   NamespaceSpec& ns, const Setting& ns_mw, const Setting& ns_web,
                   const Setting& ns_kind) {
  std::string path = ns_path + ".releases." + entry.key;
  ReleaseSpec r;
  r.name = entry.key;
  r.where = yamlr::where(ctx.file, entry.key_node);
  if (!is_helm_release_name(r.name))
    ctx.error(entry.key_node, path,
              fmt::format("release name '{}' is not valid for Helm (lower-case letters, digits, "
                          "'-' and '.', starting and ending with a letter or digit, at most 53)",
                          r.name));

  YAML::Node settings = entry.value;
  YAML::Node empty_map(YAML::NodeType::Map);
  if (!settings.IsDefined() || settings.IsNull()) settings = empty_map;  // `main:` means `main: {}`
  MapReader m(ctx, settings, path);
  if (!m.ok()) return;
  m.allow({"mw_flavour", "web_flavour", "mw_kind", "stage", "deploy"});

  auto pick = [&](std::string_view key, const Setting& def, std::string& value, Location& at,
                  std::string& field) -> bool {
    Setting own = read_setting(m, key);
    const Setting& eff = own.present ? own : def;
    value = eff.value;
    at = eff.present ? eff.at : r.where;
    field = eff.present ? eff.field : path;
    return eff.present;
  };
  bool has_mw = pick("mw_flavour", ns_mw, r.mw_flavour, r.mw_flavour_at, r.mw_flavour_field);
  bool has_web = pick("web_flavour", ns_web, r.web_flavour, r.web_flavour_at, r.web_flavour_field);
  bool has_kind = pick("mw_kind", ns_kind, r.mw_kind, r.mw_kind_at, r.mw_kind_field);
  if (!has_mw)
    ctx.error(entry.key_node, path,
              fmt::format("\"{}\" in \"{}\" has no mw_flavour set", r.name, ns.name));
  if (!has_web)
    ctx.error(entry.key_node, path,
              fmt::format("\"{}\" in \"{}\" has no web_flavour set", r.name, ns.name));
  if (!has_kind) r.mw_kind = ns.debug ? "debug-image" : std::string(kDefaultKind);

  r.stage = ns.debug ? Stage::testservers : Stage::production;
  if (const auto* e = m.find("stage")) {
    auto s = yamlr::scalar_string(ctx, e->value, m.field("stage"));
    if (s) {
      if (auto st = parse_stage(*s))
        r.stage = *st;
      else
        ctx.error(e->value, m.field("stage"),
                  fmt::format("\"{}\" in \"{}\" specified unsupported stage \"{}\" (stages: "
                              "testservers, canaries, production)",
                              r.name, ns.name, *s));
    }
  }
  if (auto d = m.boolean("deploy")) r.deploy = *d;

  if (ns.debug && r.stage == Stage::canaries) {
    ctx.warning(entry.key_node, path,
                fmt::format("release '{}/{}' is a canaries release in a debug: true namespace; "
                            "production never deploys it, so it is dropped",
                            ns.name, r.name));
    return;
  }
  ns.releases.push_back(std::move(r));
}

void parse_namespace(const Ctx& ctx, const YAML::Node& node, size_t index,
                     DeploymentsFile& out) {
  // Entries are named by namespace in messages once it is known, else by position.
  std::string path = fmt::format("[{}]", index);
  if (node.IsMap()) {
    const YAML::Node& n = node["namespace"];
    if (n.IsDefined() && n.IsScalar() && !n.Scalar().empty()) path = n.Scalar();
  }
  MapReader m(ctx, node, path);
  if (!m.ok()) return;
  const MapReader& named = m;
  NamespaceSpec ns;
  ns.where = yamlr::where(ctx.file, node);

  if ((m.has("release") || m.has("canary")) && !m.has("releases")) {
    ctx.error(node, path, conversion_hint(m));
    return;
  }
  named.allow({"namespace", "releases", "mw_flavour", "web_flavour", "mw_kind", "debug", "scope",
               "dir", "clusters"});
  if (auto n = m.str("namespace", true)) {
    ns.name = *n;
    if (!is_dns_label(ns.name))
      ctx.error(m.find("namespace")->value, named.field("namespace"),
                fmt::format("'{}' is not a Kubernetes namespace name (a DNS label: lower-case "
                            "letters, digits and '-', starting and ending with a letter or digit, "
                            "at most 63)",
                            ns.name));
  }
  if (auto d = named.boolean("debug")) ns.debug = *d;
  if (auto s = named.str("scope")) ns.scope = *s;
  if (auto d = named.str("dir")) {
    ns.dir = *d;
    bool escapes = ns.dir.front() == '/';
    for (const auto& part : std::filesystem::path(ns.dir)) escapes |= part == "..";
    if (escapes)
      ctx.error(m.find("dir")->value, named.field("dir"),
                "must be a relative directory that stays inside the helmfile directory");
  }
  if (const auto* e = m.find("clusters")) {
    ns.clusters_at = yamlr::where(ctx.file, e->key_node);
    if (!e->value.IsSequence()) {
      ctx.error(e->value.IsNull() ? e->key_node : e->value, named.field("clusters"),
                fmt::format("expected a list of cluster names (e.g. [{}]), got {}",
                            e->value.IsScalar() ? e->value.Scalar() : "eqiad",
                            yamlr::describe(e->value)));
    } else {
      auto list = named.str_list("clusters");
      if (list.empty() && e->value.size() == 0)
        ctx.error(e->key_node, named.field("clusters"),
                  "empty list: no values would be rendered (remove the key to use the default "
                  "cluster list)");
      auto problems = check_cluster_list(list);
      for (const auto& problem : problems) ctx.error(e->value, named.field("clusters"), problem);
      if (problems.empty()) ns.clusters = list;
    }
  }
  Setting ns_mw = read_setting(named, "mw_flavour");
  Setting ns_web = read_setting(named, "web_flavour");
  Setting ns_kind = read_setting(named, "mw_kind");

  const auto* rel = m.find("releases");
  if (!rel) {
    if (m.ok()) ctx.error(node, named.field("releases"), "missing required key 'releases'");
  } else {
    MapReader releases(ctx, rel->value, named.field("releases"));
    if (releases.ok()) {
      if (releases.entries().empty())
        ctx.warning(rel->key_node, named.field("releases"), "no releases: nothing is rendered");
      for (const auto& entry : releases.entries())
        parse_release(ctx, entry, path, ns, ns_mw, ns_web, ns_kind);
    }
  }
  out.namespaces.push_back(std::move(ns));
}

DeploymentsFile parse_root(const Ctx& ctx, const YAML::Node& root) {
  DeploymentsFile out;
  YAML::Node list;
  if (root.IsSequence()) {
    list = root;
  } else if (root.IsMap()) {
    MapReader top(ctx, root, "");
    const auto* targets = top.find("deployment_targets");
    if (!targets) {
      ctx.error(root, "", "deployments config mapping is missing the \"deployment_targets\" key");
      return out;
    }
    if (!targets->value.IsSequence()) {
      ctx.error(targets->value.IsNull() ? targets->key_node : targets->value, "deployment_targets",
                "expected a list of namespaces, got " + yamlr::describe(targets->value));
      return out;
    }
    list = targets->value;
  } else {
    ctx.error(root, "",
              "expected a list of namespaces, or a mapping with a deployment_targets list; got " +
                  yamlr::describe(root));
    return out;
  }
  if (!ctx.charge(list.size(), list)) return out;
  size_t i = 0;
  for (const auto& item : list) {
    if (*ctx.used > yamlr::kMaxEntries) break;
    parse_namespace(ctx, item, i++, out);
  }
  return out;
}

}  // namespace

DeploymentsFile parse_deployments(std::string_view text, const std::string& display,
                                  Diagnostics& diags) {
  auto root = yamlr::load_text(text, display, diags);
  DeploymentsFile out;
  if (root) {
    Ctx ctx{display, &diags};
    out = parse_root(ctx, *root);
  }
  out.file = display;
  return out;
}

DeploymentsFile load_deployments(const std::filesystem::path& file, Diagnostics& diags) {
  auto root = yamlr::load_file(file, file.string(), diags);
  DeploymentsFile out;
  if (root) {
    Ctx ctx{file.string(), &diags};
    out = parse_root(ctx, *root);
  }
  out.file = file;
  return out;
}

std::vector<ReleaseTarget> expand_targets(const DeploymentsFile& deployments,
                                          const std::vector<std::string>& default_clusters,
                                          Diagnostics& diags) {
  std::vector<ReleaseTarget> out;
  std::map<std::string, std::map<std::string, const NamespaceSpec*>> seen;  // cluster → ns
  std::map<std::string, ReleaseTarget> files;
  std::string file = deployments.file.string();
  for (const auto& ns : deployments.namespaces) {
    std::vector<std::string> clusters = ns.clusters.empty() ? default_clusters : ns.clusters;
    if (clusters.empty()) clusters.push_back("");
    for (const auto& cluster : clusters) {
      auto [it, fresh] = seen[cluster].emplace(ns.name, &ns);
      if (!fresh) {
        diags.error(ns.where, ns.name,
                    cluster.empty()
                        ? fmt::format("\"{}\" deployment is already defined (first at line {})",
                                      ns.name, it->second->where.line)
                        : fmt::format("\"{}\" deployment is already defined for cluster \"{}\" "
                                      "(first at line {})",
                                      ns.name, cluster, it->second->where.line));
        continue;
      }
      for (const auto& r : ns.releases) {
        ReleaseTarget t{&ns, &r, cluster};
        auto [f, first] = files.emplace(t.values_file(), t);
        if (!first)
          diags.error(r.where, ns.name + ".releases." + r.name,
                      fmt::format("release '{}' and release '{}' would both write the values file "
                                  "'{}'",
                                  t.id(), f->second.id(), t.values_file()));
        else
          out.push_back(t);
      }
    }
  }
  return out;
}

}  // namespace flavourgraph
