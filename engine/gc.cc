// gc: the image names report.json, the build records and the values files hold (docs/gc.md).
#include "flavourgraph/gc.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/process.h"
#include "flavourgraph/report.h"
#include "flavourgraph/values.h"
#include "yaml_reader.h"

namespace flavourgraph::gc {

namespace fs = std::filesystem;

namespace {

bool hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool tag_like(std::string_view t) {
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; };
  return !t.empty() && t.size() <= 128 && word(t.front()) &&
         std::all_of(t.begin(), t.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool path_like(std::string_view p) {
  return !p.empty() && p.size() <= 4096 && std::all_of(p.begin(), p.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == '/' || c == ':';
  });
}

Error input_error(const std::string& message) { return Error(message, ErrorKind::config); }

}  // namespace

bool References::add_digest(std::string_view digest, const std::string& where) {
  if (!digest.starts_with("sha256:") || !hex64(digest.substr(7))) return false;
  digests_.emplace(std::string(digest), where);
  return true;
}

bool References::add(std::string_view text, const std::string& where) {
  std::string_view name = text, digest;
  if (auto at = text.find('@'); at != std::string_view::npos) {
    name = text.substr(0, at);
    digest = text.substr(at + 1);
    if (!digest.starts_with("sha256:") || !hex64(digest.substr(7))) return false;
  }
  auto colon = name.rfind(':');
  auto slash = name.rfind('/');
  bool tagged = colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash);
  std::string_view path = tagged ? name.substr(0, colon) : name;
  std::string_view tag = tagged ? name.substr(colon + 1) : std::string_view();
  if (!path_like(path) || (tagged && !tag_like(tag)) || (!tagged && digest.empty())) return false;
  if (!digest.empty()) add_digest(digest, where);
  if (tagged) {
    auto [it, added] = name_where_.emplace(fmt::format("{}:{}", path, tag), where);
    if (added) by_tag_.emplace(std::string(tag), std::string(path));
  }
  return true;
}

std::optional<std::string> References::find(std::string_view repository, std::string_view tag,
                                            std::string_view digest) const {
  if (auto d = digests_.find(std::string(digest)); d != digests_.end()) return d->second;
  auto [from, to] = by_tag_.equal_range(std::string(tag));
  for (auto it = from; it != to; ++it) {
    const std::string& p = it->second;
    bool match = p == repository || (p.size() > repository.size() && p.ends_with(repository) &&
                                     p[p.size() - repository.size() - 1] == '/');
    if (match) return name_where_.at(fmt::format("{}:{}", p, tag));
  }
  return std::nullopt;
}

std::vector<std::string> References::paths() const {
  std::set<std::string> out;
  for (const auto& [tag, path] : by_tag_) out.insert(path);
  return {out.begin(), out.end()};
}

void add_values_text(References& refs, std::string_view yaml_text, const std::string& display) {
  Diagnostics diags;
  auto doc = yamlr::load_text(yaml_text, display, diags);
  if (!doc && diags.mentions("file is empty")) return;  // nothing but comments: no names
  if (!doc) throw input_error(fmt::format("values file {}", diags.str()));
  // Every node once per use (aliases count each time), at most yamlr::kMaxEntries in all.
  std::vector<YAML::Node> todo{*doc};
  size_t seen = 0;
  while (!todo.empty()) {
    if (++seen > yamlr::kMaxEntries)
      throw input_error(fmt::format("values file {}: more than a million nodes (counting each use of an alias)", display));
    YAML::Node n = todo.back();
    todo.pop_back();
    if (n.IsScalar()) {
      refs.add(n.Scalar(), display);
    } else if (n.IsSequence()) {
      for (const auto& item : n) todo.push_back(item);
    } else if (n.IsMap()) {
      for (const auto& kv : n) todo.push_back(kv.second);
    }
  }
}

namespace {

void add_report(Knowledge& k, const fs::path& state_dir) {
  fs::path path = state_dir / "report.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    k.notes.push_back(fmt::format("{} is not there: no report names an image", path.string()));
    return;
  }
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::exception& e) {
    throw input_error(fmt::format("{}: cannot read it: {}", path.string(), e.what()));
  }
  auto report = parse_report(text);
  if (!report) throw input_error(fmt::format("{}: not a report.json: {}", path.string(), report.message()));
  for (const auto& [image, flavours] : report->images)
    for (const auto& [flavour, f] : flavours) {
      for (const auto& [kind, name] : f.kinds)
        k.refs.add(name, fmt::format("{} ({}/{}/{})", path.string(), image, flavour, kind));
      for (const auto& [kind, base] : f.bases)
        k.refs.add(base, fmt::format("{} (base of {}/{}/{})", path.string(), image, flavour, kind));
    }
}

void add_records(Knowledge& k, const fs::path& state_dir) {
  Diagnostics diags;
  k.records = BuildState::load(state_dir, diags);
  if (!diags.empty()) throw input_error(fmt::format("build record {}", diags.items().front().str()));
  for (const auto& [key, r] : k.records.records()) {
    std::string where = BuildState::path_of(state_dir, r.image, r.flavour, r.kind).string();
    k.refs.add(r.name, where);
    k.refs.add_digest(r.manifest.digest.str(), where);
    k.refs.add_digest(r.base_digest, where + " (its base)");  // a `from` kind's parent image
  }
}

/// The *.yaml files of a values directory, as the build writes and prunes them.
std::vector<fs::path> values_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() > 5 && name.ends_with(".yaml") && name[0] != '.' && it->is_regular_file(ec)) out.push_back(it->path());
  }
  if (ec) throw input_error(fmt::format("{}: cannot list the values files: {}", dir.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

std::string git_out(const fs::path& dir, const std::vector<std::string>& args, const std::string& about) {
  std::vector<std::string> argv = {"git", "-C", dir.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv);
  if (r.status != 0) throw input_error(fmt::format("{}: git {} failed: {}", about, args[0], last_lines(r.err, 3)));
  return r.out;
}

/// The values files of the commit `values revert` would put back: their images must stay.
void add_revert_target(Knowledge& k, const fs::path& state_dir, const fs::path& values_dir) {
  fs::path record = state_dir / "values-deploys.json";
  std::vector<ValuesDeploy> deploys;
  try {
    deploys = load_deploys(state_dir);
  } catch (const std::exception& e) {
    throw input_error(fmt::format("{}: {}", record.string(), e.what()));
  }
  std::string abs = fs::absolute(values_dir).lexically_normal().string();
  const ValuesDeploy* last = nullptr;
  for (const auto& d : deploys)
    if (d.values_dir == abs) last = &d;
  if (!last || last->before.empty()) return;
  std::string about = fmt::format("{}: the deploy before the last one ({} in {})", record.string(),
                                  last->before.substr(0, 12), abs);
  std::string listing = git_out(values_dir, {"ls-tree", "-z", "--name-only", last->before}, about);
  for (size_t at = 0; at < listing.size();) {
    size_t end = std::min(listing.find('\0', at), listing.size());
    std::string name = listing.substr(at, end - at);
    at = end + 1;
    if (name.size() <= 5 || !name.ends_with(".yaml") || name[0] == '.') continue;
    std::string text = git_out(values_dir, {"show", last->before + ":" + name}, about);
    add_values_text(k.refs, text, fmt::format("{} at {} (what `values revert` puts back)", (values_dir / name).string(),
                                              last->before.substr(0, 12)));
  }
}

void add_values(Knowledge& k, const fs::path& state_dir, const fs::path& values_dir) {
  std::error_code ec;
  if (fs::is_directory(values_dir, ec))
    for (const auto& f : values_files(values_dir)) {
      std::string text;
      try {
        text = read_file(f);
      } catch (const std::exception& e) {
        throw input_error(fmt::format("values file {}: cannot read it: {}", f.string(), e.what()));
      }
      add_values_text(k.refs, text, f.string());
    }
  else
    k.notes.push_back(fmt::format("{} is not there: no values file names an image", values_dir.string()));
  if (fs::is_directory(values_dir, ec)) add_revert_target(k, state_dir, values_dir);
}

}  // namespace

Knowledge load_knowledge(const fs::path& state_dir, const fs::path& values_dir) {
  Knowledge k;
  add_report(k, state_dir);
  add_records(k, state_dir);
  add_values(k, state_dir, values_dir);
  return k;
}

}  // namespace flavourgraph::gc
