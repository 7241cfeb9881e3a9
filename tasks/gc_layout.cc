// gc of an image layout: the local store or an `oci:` push target (docs/gc.md). Names first
// (index.json in one rewrite), then the store's dead cache entries, then the blobs: a crash at
// any point leaves no name without its blobs and no cache entry used without its blob.
#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/gc_run.h"
#include "flavourgraph/oci/image_io.h"
#include "gc_parts.h"

namespace flavourgraph {

namespace fs = std::filesystem;
using nlohmann::json;

namespace gc_parts {

std::string read_config(const json& config, gc::Image& img) {
  if (!config.is_object()) return "";
  if (config.contains("config") && config["config"].is_object() && config["config"].contains("Labels") &&
      config["config"]["Labels"].is_object()) {
    const json& labels = config["config"]["Labels"];
    auto label = [&](const char* k) { return labels.contains(k) && labels[k].is_string() ? labels[k].get<std::string>() : ""; };
    std::string image = label("io.flavourgraph.image"), flavour = label("io.flavourgraph.flavour"),
                kind = label("io.flavourgraph.kind");
    if (!image.empty() && !flavour.empty() && !kind.empty()) {
      img.image = image;
      img.flavour = flavour;
      img.kind = kind;
    }
  }
  return config.contains("created") && config["created"].is_string() ? config["created"].get<std::string>() : "";
}

std::pair<std::string, std::string> split_ref(const std::string& name) {
  auto colon = name.rfind(':');
  auto slash = name.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {name, ""};
  return {name.substr(0, colon), name.substr(colon + 1)};
}

std::string base_digest(const oci::Manifest& m) {
  auto it = m.annotations.find("org.opencontainers.image.base.digest");
  return it == m.annotations.end() ? "" : it->second;
}

}  // namespace gc_parts

namespace {

/// A layout's images: each (repository, manifest) with its tags, and its referrers tags.
struct Scan {
  std::vector<std::pair<std::string, oci::Descriptor>> refs;
  std::vector<gc::Image> images;
  std::vector<std::optional<oci::Manifest>> manifests;           ///< per image, when it reads
  std::map<std::string, std::vector<std::string>> referrers;     ///< "repository@digest" → ref names
};

void describe(const oci::Layout& layout, const oci::Descriptor& d, gc::Image& img, std::optional<oci::Manifest>& m,
              GcOutcome& out) {
  std::string created;
  if (!layout.has_blob(d.digest)) {
    out.warnings.push_back(fmt::format("{}:{} names {}, which {} does not hold: left alone", img.repository,
                                       img.tags.front(), d.digest.str(), layout.dir().string()));
  } else if (!oci::is_index_media_type(d.media_type)) {
    auto parsed = oci::Manifest::parse(layout.read_blob(d.digest));
    if (parsed && layout.has_blob(parsed->config.digest))
      created = gc_parts::read_config(json::parse(layout.read_blob(parsed->config.digest), nullptr, false), img);
    if (parsed) m = std::move(*parsed);
  }
  img.time = gc::image_time(img.tags, created);
}

Scan scan(const oci::Layout& layout, GcOutcome& out) {
  Scan s;
  s.refs = layout.refs();
  std::map<std::string, size_t> by_key;
  std::vector<oci::Descriptor> descs;
  for (size_t i = 0; i < s.refs.size(); ++i) {
    const auto& [name, desc] = s.refs[i];
    auto [repo, tag] = gc_parts::split_ref(name);
    std::string subject;
    if (tag.empty()) continue;  // not repository:tag: not an image of ours, left alone
    if (gc::is_referrers_tag(tag, &subject)) {
      s.referrers[repo + "@" + subject].push_back(name);
      continue;
    }
    auto [it, added] = by_key.emplace(repo + "@" + desc.digest.str(), s.images.size());
    if (added) {
      s.images.push_back({repo, repo, desc.digest.str(), {}, "", "", "", std::nullopt, i});
      descs.push_back(desc);
    }
    s.images[it->second].tags.push_back(tag);
  }
  s.manifests.resize(s.images.size());
  for (size_t i = 0; i < s.images.size(); ++i) describe(layout, descs[i], s.images[i], s.manifests[i], out);
  return s;
}

/// The names to drop: every tag of a removed image, and its referrers tags.
std::set<std::string> plan_removals(const Scan& s, const std::vector<gc::Verdict>& verdicts, GcOutcome& out) {
  std::set<std::string> drop;
  out.images = s.images.size();
  for (size_t i = 0; i < s.images.size(); ++i) {
    const gc::Image& img = s.images[i];
    std::string group = img.image.empty() ? "" : gc::group_name(img);
    if (verdicts[i].keep) {
      if (verdicts[i].reason.starts_with("named by"))
        out.kept_named.push_back(fmt::format("{}:{} ({}): {}", img.repository, img.tags.front(), group, verdicts[i].reason));
      continue;
    }
    ++out.images_removed;
    for (const auto& t : img.tags) {
      drop.insert(img.repository + ":" + t);
      out.removed.push_back({img.repository + ":" + t, group, verdicts[i].reason});
    }
    auto r = s.referrers.find(img.repository + "@" + img.digest);
    if (r == s.referrers.end()) continue;
    for (const auto& name : r->second) {
      drop.insert(name);
      out.removed.push_back({name, group, "the referrers tag (tree index) of a removed image"});
    }
  }
  return drop;
}

/// An image the store holds and what it was built on, down its chain of bases (each manifest
/// names its base in an annotation: a `build:` base, a RUN build's image), as far as the store
/// holds them.
void mark_with_bases(const oci::Layout& layout, const std::string& text, std::set<oci::Digest>& live) {
  std::set<oci::Digest> seen;
  auto d = oci::Digest::parse(text);
  for (int depth = 0; d && depth < 32 && layout.has_blob(*d) && seen.insert(*d).second; ++depth) {
    oci::mark_reachable(layout, *d, live);
    auto m = oci::Manifest::parse(layout.read_blob(*d));
    d = m ? oci::Digest::parse(gc_parts::base_digest(*m)) : std::nullopt;
  }
}

/// What a build record keeps in the store: its image, its tree index and the artifact that
/// carries it, and its base (a pulled base's or a RUN build's manifest and config).
void mark_records(const oci::Layout& store, const BuildState& records, std::set<oci::Digest>& live) {
  for (const auto& [key, r] : records.records()) {
    oci::mark_reachable(store, r.manifest.digest, live);
    if (store.has_blob(r.config.digest)) live.insert(r.config.digest);
    for (const auto& l : r.layers)
      if (store.has_blob(l.digest)) live.insert(l.digest);
    mark_with_bases(store, r.base_digest, live);
    if (!r.incremental) continue;
    oci::IndexArtifact art = oci::index_artifact(r.incremental->index, r.manifest);
    for (const auto& d : {r.incremental->index.digest, art.config.digest, oci::Digest::sha256_of(art.manifest),
                          oci::Digest::sha256_of(art.referrers)})
      if (store.has_blob(d)) live.insert(d);
  }
}

/// The base a live RUN build's cache entry was built on (a RUN image keeps no annotation naming
/// it): kept, so that the entry's key still finds its base in the store.
void mark_run_bases(const oci::Layout& store, std::set<oci::Digest>& live) {
  std::error_code ec;
  fs::path dir = store.state_dir() / "cache" / "runs";
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".json" || !it->is_regular_file(ec)) continue;
    json j = json::parse(read_file(it->path()), nullptr, false);
    if (!j.is_object() || !j.contains("manifest") || !j.contains("base") || !j["base"].is_string()) continue;
    auto m = oci::Descriptor::from_json(j["manifest"]);
    if (m && live.count(m->digest)) mark_with_bases(store, j["base"].get<std::string>(), live);
  }
}

std::set<oci::Digest> mark_live(const oci::Layout& layout, const Scan& s, const std::vector<gc::Verdict>& verdicts,
                                const std::set<std::string>& drop, const BuildState* records) {
  std::set<oci::Digest> live;
  for (const auto& [name, desc] : s.refs)
    if (!drop.count(name)) oci::mark_reachable(layout, desc.digest, live);
  for (size_t i = 0; i < s.images.size(); ++i)
    if (verdicts[i].keep && s.manifests[i]) mark_with_bases(layout, gc_parts::base_digest(*s.manifests[i]), live);
  if (records) mark_records(layout, *records, live);
  if (records) mark_run_bases(layout, live);
  return live;
}

/// The store's layer and RUN cache entries whose blob is not live.
std::vector<fs::path> dead_cache_entries(const oci::Layout& store, const std::set<oci::Digest>& live) {
  std::vector<fs::path> out;
  for (const char* kind : {"layers", "runs"}) {
    std::error_code ec;
    fs::path dir = store.state_dir() / "cache" / kind;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      if (it->path().extension() != ".json" || !it->is_regular_file(ec)) continue;
      json j = json::parse(read_file(it->path()), nullptr, false);
      std::optional<oci::Digest> d;
      if (j.is_object() && j.contains("digest") && j["digest"].is_string()) d = oci::Digest::parse(j["digest"].get<std::string>());
      if (j.is_object() && j.contains("manifest") && j["manifest"].is_object() && j["manifest"].contains("digest") &&
          j["manifest"]["digest"].is_string())
        d = oci::Digest::parse(j["manifest"]["digest"].get<std::string>());
      if (d && !live.count(*d)) out.push_back(it->path());  // an entry that does not read is left as it is
    }
  }
  return out;
}

GcOutcome gc_layout(oci::Layout& layout, const gc::Knowledge& k, const GcSettings& settings, bool store,
                    std::string place) {
  GcOutcome out;
  out.place = std::move(place);
  Scan s = scan(layout, out);
  std::vector<gc::Verdict> verdicts = gc::select(s.images, k.refs, settings.keep);
  std::set<std::string> drop = plan_removals(s, verdicts, out);
  std::set<oci::Digest> live = mark_live(layout, s, verdicts, drop, store ? &k.records : nullptr);
  std::vector<oci::Digest> dead;
  for (const auto& [d, size] : layout.blobs())
    if (!live.count(d)) {
      dead.push_back(d);
      out.bytes += size;
    }
  out.blobs = dead.size();
  std::vector<fs::path> entries = store ? dead_cache_entries(layout, live) : std::vector<fs::path>{};
  out.cache_entries = entries.size();
  if (settings.dry_run) return out;
  layout.remove_refs(drop);
  for (const auto& e : entries) fs::remove(e);
  for (const auto& d : dead) layout.remove_blob(d);
  return out;
}

}  // namespace

GcOutcome gc_store(oci::Layout& store, const gc::Knowledge& knowledge, const GcSettings& settings) {
  return gc_layout(store, knowledge, settings, true, "store " + store.dir().string());
}

GcOutcome gc_layout_target(oci::Layout& target, const gc::Knowledge& knowledge, const GcSettings& settings) {
  return gc_layout(target, knowledge, settings, false, "oci:" + target.dir().string());
}

}  // namespace flavourgraph
