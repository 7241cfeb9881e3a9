// gc of a registry push target (docs/gc.md): the Distribution API deletes manifests by digest
// (every tag on one goes with it) and never blobs (the registry's own garbage collection frees
// those), so an image not kept is deleted by digest, with its referrers tag's index and tree
// index artifact, unless a kept tag points at that digest.
#include <fmt/format.h>

#include <map>
#include <set>

#include "flavourgraph/gc_run.h"
#include "flavourgraph/oci/tree_index.h"
#include "gc_parts.h"

namespace flavourgraph {

using nlohmann::json;

namespace {

/// One repository's images and referrers tags.
struct RepoScan {
  std::vector<gc::Image> images;
  struct Referrers {
    std::string tag;     ///< sha256-<hex of the subject>
    std::string digest;  ///< of the index it points at
  };
  std::map<std::string, Referrers> referrers;  ///< subject digest → its referrers tag
};

/// The manifest digest a tag points at; "" when the tag is gone.
std::string tag_digest(oci::RegistryClient& client, const std::string& repo, const std::string& tag) {
  if (auto d = client.head_manifest(repo, tag)) return d->digest.str();
  try {
    return client.get_manifest(repo, tag).digest.str();
  } catch (const oci::RegistryError& e) {
    if (e.status() == 404) return "";
    throw;
  }
}

/// Its labels and time, from its config (the store's copy when it has one). An image whose
/// config the registry lacks keeps no labels: it is left alone.
void describe(oci::RegistryClient& client, const std::string& repo, const oci::Layout* store, gc::Image& img,
              std::vector<std::string>& warnings) {
  oci::FetchedManifest fm = client.get_manifest(repo, img.digest);
  std::string created;
  auto m = oci::Manifest::parse(fm.bytes);  // an index is not an image of ours: no labels
  if (!oci::is_index_media_type(fm.media_type) && m) {
    const oci::Descriptor& c = m->config;
    try {
      std::string config = store && store->has_blob(c.digest, c.size) ? store->read_blob(c.digest) : client.read_blob(repo, c);
      created = gc_parts::read_config(json::parse(config, nullptr, false), img);
    } catch (const oci::RegistryError& e) {
      if (e.status() != 404) throw;
      warnings.push_back(fmt::format("{}:{}: its config {} is missing: left alone", repo, img.tags.front(), c.digest.str()));
    }
  }
  img.time = gc::image_time(img.tags, created);
}

RepoScan scan(oci::RegistryClient& client, const std::string& repo, const std::string& short_repo,
              const oci::Layout* store, std::vector<std::string>& warnings) {
  RepoScan s;
  std::map<std::string, size_t> by_digest;
  std::vector<std::string> tags = client.tags(repo);
  for (size_t i = 0; i < tags.size(); ++i) {
    std::string subject;
    std::string digest = tag_digest(client, repo, tags[i]);
    if (digest.empty()) continue;
    if (gc::is_referrers_tag(tags[i], &subject)) {
      s.referrers[subject] = {tags[i], digest};
      continue;
    }
    auto [it, added] = by_digest.emplace(digest, s.images.size());
    if (added) s.images.push_back({repo, short_repo, digest, {}, "", "", "", std::nullopt, i});
    s.images[it->second].tags.push_back(tags[i]);
  }
  for (auto& img : s.images) describe(client, repo, store, img, warnings);
  return s;
}

bool refused(const oci::RegistryError& e) { return e.status() == 405; }

/// Deletes a manifest; a 404 (gone already) is fine.
void remove(oci::RegistryClient& client, const std::string& repo, const std::string& digest) {
  try {
    client.delete_manifest(repo, *oci::Digest::parse(digest));
  } catch (const oci::RegistryError& e) {
    if (e.status() != 404) throw;
  }
}

/// The referrers index under `tag`, and our tree-index artifacts it lists.
void remove_referrers(oci::RegistryClient& client, const std::string& repo, const std::string& tag,
                      const std::set<std::string>& keep) {
  oci::FetchedManifest idx = client.get_manifest(repo, tag);
  json j = json::parse(idx.bytes, nullptr, false);
  if (keep.count(idx.digest.str())) return;
  remove(client, repo, idx.digest.str());
  if (!j.is_object() || !j.contains("manifests") || !j["manifests"].is_array()) return;
  for (const auto& m : j["manifests"])
    if (m.is_object() && m.value("artifactType", "") == oci::kTreeIndexArtifactType && m.contains("digest") &&
        m["digest"].is_string() && !keep.count(m["digest"].get<std::string>()))
      remove(client, repo, m["digest"].get<std::string>());
}

struct RepoPlan {
  std::vector<size_t> removed;  ///< indexes into RepoScan::images
  std::set<std::string> kept;  ///< digests a kept tag points at: never deleted
};

RepoPlan plan_repo(const RepoScan& s, const gc::Knowledge& k, const GcSettings& settings, GcOutcome& out) {
  RepoPlan p;
  std::vector<gc::Verdict> verdicts = gc::select(s.images, k.refs, settings.keep);
  out.images += s.images.size();
  for (size_t i = 0; i < s.images.size(); ++i) {
    const gc::Image& img = s.images[i];
    std::string group = img.image.empty() ? "" : gc::group_name(img);
    if (verdicts[i].keep) {
      p.kept.insert(img.digest);
      if (verdicts[i].reason.starts_with("named by"))
        out.kept_named.push_back(fmt::format("{}:{} ({}): {}", img.repository, img.tags.front(), group, verdicts[i].reason));
      continue;
    }
    p.removed.push_back(i);
    ++out.images_removed;
    for (const auto& t : img.tags) out.removed.push_back({img.repository + ":" + t, group, verdicts[i].reason});
    if (auto r = s.referrers.find(img.digest); r != s.referrers.end())
      out.removed.push_back({img.repository + ":" + r->second.tag, group, "the referrers tag (tree index) of a removed image"});
  }
  // Referrers tags of kept images, and of images that are not here, stay.
  for (const auto& [subject, r] : s.referrers)
    if (std::none_of(p.removed.begin(), p.removed.end(), [&](size_t i) { return s.images[i].digest == subject; }))
      p.kept.insert(r.digest);
  return p;
}

/// False when the registry refused a delete (deletes disabled).
bool apply(oci::RegistryClient& client, const RepoScan& s, const RepoPlan& p, GcOutcome& out) {
  try {
    for (size_t i : p.removed) {
      // Its referrers first: a run cut short leaves an image without its tree index (it goes
      // next time), never a referrers tag without its image (which gc would leave alone).
      const gc::Image& img = s.images[i];
      if (auto r = s.referrers.find(img.digest); r != s.referrers.end())
        remove_referrers(client, img.repository, r->second.tag, p.kept);
      if (!p.kept.count(img.digest)) remove(client, img.repository, img.digest);
    }
  } catch (const oci::RegistryError& e) {
    if (!refused(e)) throw;
    out.deletes_refused = true;
    out.warnings.push_back(fmt::format("the registry {} does not allow deletes ({}): nothing was removed there; "
                                       "turn deletes on (distribution: storage.delete.enabled) to let gc untag",
                                       client.host(), e.what()));
    return false;
  }
  return true;
}

std::string short_repository(const oci::Target& target, const std::string& repo) {
  if (target.prefix.empty()) return repo;
  return repo.starts_with(target.prefix + "/") ? repo.substr(target.prefix.size() + 1) : repo;
}

}  // namespace

GcOutcome gc_registry(oci::RegistryClient& client, const oci::Target& target, const std::vector<std::string>& repositories,
                      const gc::Knowledge& knowledge, const oci::Layout* store, const GcSettings& settings) {
  GcOutcome out;
  out.place = "registry " + target.text;
  std::vector<std::pair<RepoScan, RepoPlan>> plans;
  for (const auto& repo : repositories) {  // everything read before anything is deleted
    RepoScan s = scan(client, repo, short_repository(target, repo), store, out.warnings);
    RepoPlan p = plan_repo(s, knowledge, settings, out);
    plans.emplace_back(std::move(s), std::move(p));
  }
  if (settings.dry_run) return out;
  for (const auto& [s, p] : plans)
    if (!apply(client, s, p, out)) break;
  return out;
}

std::vector<std::string> gc_repositories(const oci::Target& target, const oci::Layout* store,
                                         const gc::Knowledge& knowledge) {
  std::set<std::string> out;
  auto under_prefix = [&](const std::string& repo) { return target.prefix.empty() ? repo : target.prefix + "/" + repo; };
  if (store)
    for (const auto& name : store->ref_names())
      if (auto [repo, tag] = gc_parts::split_ref(name); !tag.empty()) out.insert(under_prefix(repo));
  std::string host = target.host + "/";
  for (const auto& path : knowledge.refs.paths()) {
    if (!path.starts_with(host)) continue;
    std::string repo = path.substr(host.size());
    if (target.prefix.empty() || repo.starts_with(target.prefix + "/")) out.insert(repo);
  }
  return {out.begin(), out.end()};
}

}  // namespace flavourgraph
