// The last good build of each image, from this machine's state, a previous report or the push
// target.
#include "flavourgraph/tasks/previous.h"

#include <fmt/format.h>


#include "flavourgraph/oci/tree_index.h"

namespace flavourgraph {

namespace {

/// The tag of a full image name registry/repository:tag.
std::string tag_of(const std::string& name) {
  auto slash = name.rfind('/');
  auto colon = name.rfind(':');
  return colon != std::string::npos && (slash == std::string::npos || colon > slash) ? name.substr(colon + 1) : "";
}

/// The timestamp of `tag` when it is prefix + YYYY-MM-DD-HHMMSS + suffix, else empty.
std::string_view timestamp_in(std::string_view tag, std::string_view prefix, std::string_view suffix) {
  constexpr std::string_view shape = "0000-00-00-000000";
  if (tag.size() != prefix.size() + shape.size() + suffix.size() || !tag.starts_with(prefix) || !tag.ends_with(suffix))
    return {};
  std::string_view t = tag.substr(prefix.size(), shape.size());
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == '-' ? t[i] != '-' : (t[i] < '0' || t[i] > '9')) return {};
  return t;
}

}  // namespace

std::optional<BuildRecord> PreviousBuilds::find(uint32_t build, std::string* why) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = found_.find(build); it != found_.end()) {
      if (!it->second.record && why) *why = it->second.why;
      return it->second.record;
    }
  }
  // Looked up without the lock (it may go to the push target); two racing lookups of one build
  // find the same, and the first kept wins.
  Found f;
  try {
    f = look_up(plan_.builds[build]);
  } catch (const oci::Cancelled&) {
    throw;
  } catch (const Error& e) {
    f = {std::nullopt, std::string("the last build could not be looked up: ") + e.what()};
  }
  std::lock_guard lock(mutex_);
  auto it = found_.emplace(build, std::move(f)).first;
  if (!it->second.record && why) *why = it->second.why;
  return it->second.record;
}

Expected<std::string> PreviousBuilds::index_spec(const oci::Digest& digest) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = specs_.find(digest.str()); it != specs_.end()) return it->second;
  }
  auto tree = oci::TreeIndex::parse(store_.read_blob(digest, size_t{1} << 30));
  if (!tree) return Error(tree.message());
  std::lock_guard lock(mutex_);
  return specs_.emplace(digest.str(), tree->spec).first->second;
}

std::optional<BuildRecord> PreviousBuilds::at_target(uint32_t build, const std::string& tag, std::string* why) {
  Found f;
  try {
    f = fetch(plan_.builds[build], tag);
  } catch (const oci::Cancelled&) {
    throw;
  } catch (const std::exception& e) {  // whatever it is, the image is built as if none were there
    f.why = e.what();
  }
  if (!f.record && why) *why = f.why;
  return std::move(f.record);
}

std::string PreviousBuilds::ref_at_target(const PlanBuild& b, const std::string& tag) const {
  return target_.kind == oci::Target::Kind::layout ? b.repository + ":" + tag : tag;
}

std::unique_ptr<oci::ImageSource> PreviousBuilds::target_source(const PlanBuild& b) {
  if (target_.kind == oci::Target::Kind::layout) {
    if (!target_layout_) return nullptr;
    return std::make_unique<oci::LayoutSource>(*target_layout_);
  }
  std::string repo = target_.prefix.empty() ? b.repository : target_.prefix + "/" + b.repository;
  return std::make_unique<oci::RegistrySource>(registries_.client(target_.host), repo);
}

PreviousBuilds::Found PreviousBuilds::look_up(const PlanBuild& b) {
  if (const BuildRecord* r = state_.find(b.image_name, b.flavour_name, b.kind_name)) {
    // A delta goes where the last image is: at this push target, in this repository.
    if (r->name.rfind(plan_.registry + "/" + b.repository + ":", 0) != 0)
      return {std::nullopt, "the last build " + r->name + " is not at the push target " + plan_.registry};
    bool complete = store_.has_blob(r->manifest.digest, r->manifest.size) &&
                    store_.has_blob(r->config.digest, r->config.size) &&
                    (!r->incremental || store_.has_blob(r->incremental->index.digest, r->incremental->index.size));
    if (complete) return {*r, {}};
    // The store was cleaned since: what a delta needs comes from the target again.
    Found f = fetch(b, tag_of(r->name));
    if (f.record) return f;
    return {std::nullopt, "the last build " + r->name + " is neither in the store nor at the push target"};
  }
  std::string tag;
  if (report_) {
    std::string problem;
    auto name = report_->find(b.image_name, b.flavour_name, b.kind_name, &problem);
    if (!name) return {std::nullopt, "no previous build (the previous report has none: " + problem + ")"};
    if (name->rfind(plan_.registry + "/" + b.repository + ":", 0) != 0)
      return {std::nullopt, "the previous report's image " + *name + " is not at the push target " + plan_.registry};
    tag = tag_of(*name);
  } else {
    try {
      tag = newest_tag(b);
    } catch (const oci::Cancelled&) {
      throw;
    } catch (const Error& e) {
      return {std::nullopt, std::string("no previous build found: the push target's tags could not be listed: ") + e.what()};
    }
    if (tag.empty()) return {std::nullopt, "no previous build"};
  }
  return fetch(b, tag);
}

std::string PreviousBuilds::newest_tag(const PlanBuild& b) {
  // Tags the tag template gives this build at some time: {timestamp} is the order.
  const std::string marker = "\x01timestamp\x01";
  StringPairs vars = b.args;
  vars.emplace_back("image", b.image_name);
  vars.emplace_back("flavour", b.flavour_name);
  vars.emplace_back("kind", b.kind_name);
  vars.emplace_back("timestamp", marker);
  std::string tag = expand_template(plan_.config->tag_template, vars, nullptr);
  auto at = tag.find(marker);
  if (at == std::string::npos) return "";
  std::string_view prefix = std::string_view(tag).substr(0, at), suffix = std::string_view(tag).substr(at + marker.size());
  std::vector<std::string> tags;
  if (target_.kind == oci::Target::Kind::layout) {
    if (!target_layout_) return "";
    for (const auto& name : target_layout_->ref_names())
      if (name.rfind(b.repository + ":", 0) == 0) tags.push_back(name.substr(b.repository.size() + 1));
  } else {
    std::string repo = target_.prefix.empty() ? b.repository : target_.prefix + "/" + b.repository;
    tags = registries_.client(target_.host).tags(repo);
  }
  std::string best;
  std::string_view best_time;
  for (const auto& t : tags) {
    std::string_view time = timestamp_in(t, prefix, suffix);
    if (!time.empty() && time > best_time && t != b.tag) {
      best_time = time;
      best = t;
    }
  }
  return best;
}

PreviousBuilds::Found PreviousBuilds::fetch(const PlanBuild& b, const std::string& tag) {
  auto source = target_source(b);
  if (!source || tag.empty()) return {std::nullopt, "no previous build"};
  std::string name = b.image_ref(plan_.registry);
  name = name.substr(0, name.rfind(':') + 1) + tag;
  try {
    oci::FetchedManifest m = source->manifest(ref_at_target(b, tag));
    auto parsed = oci::Manifest::parse(m.bytes);
    if (!parsed) return {std::nullopt, "the last build " + name + " is not an image manifest: " + parsed.message()};
    store_.put_blob(m.bytes, parsed->media_type);
    source->copy_blob(parsed->config, store_);
    BuildRecord r;
    r.image = b.image_name;
    r.flavour = b.flavour_name;
    r.kind = b.kind_name;
    r.name = name;
    r.manifest = oci::Descriptor{parsed->media_type, m.digest, static_cast<int64_t>(m.bytes.size()), {}, std::nullopt, {}};
    r.config = parsed->config;
    r.layers = parsed->layers;
    auto note = [&](const char* key) {
      auto it = parsed->annotations.find(key);
      return it == parsed->annotations.end() ? std::string() : it->second;
    };
    r.base_digest = note("org.opencontainers.image.base.digest");
    r.base_name = note("org.opencontainers.image.base.name");
    r.settings = note("io.flavourgraph.settings");
    auto index = oci::fetch_tree_index(*source, ref_at_target(b, oci::referrers_tag(m.digest)), m.digest, store_);
    if (index) {
      auto spec = index_spec(index->digest);
      if (!spec) return {std::nullopt, "the last build " + name + "'s tree index does not read: " + spec.message()};
      r.incremental = BuildRecord::Incremental{*spec, *index};
    }
    return {std::move(r), {}};
  } catch (const oci::Cancelled&) {
    throw;
  } catch (const Error& e) {
    return {std::nullopt, fmt::format("the last build {} could not be read at the push target: {}", name, e.what())};
  }
}

}  // namespace flavourgraph
