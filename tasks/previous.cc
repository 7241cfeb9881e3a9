// The last good build of each image, from this machine's state, a previous report or the push
// target.
#include "flavourgraph/tasks/previous.h"

#include <fmt/format.h>

#include <regex>

#include "flavourgraph/oci/tree_index.h"

namespace flavourgraph {

namespace {

/// The tag of a full image name registry/repository:tag.
std::string tag_of(const std::string& name) {
  auto slash = name.rfind('/');
  auto colon = name.rfind(':');
  return colon != std::string::npos && (slash == std::string::npos || colon > slash) ? name.substr(colon + 1) : "";
}

std::string regex_escape(std::string_view s) {
  static const std::string special = R"(\^$.|?*+()[]{})";
  std::string out;
  for (char c : s) {
    if (special.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::optional<BuildRecord> PreviousBuilds::find(uint32_t build, std::string* why) {
  std::lock_guard lock(mutex_);
  auto it = found_.find(build);
  if (it == found_.end()) it = found_.emplace(build, look_up(plan_.builds[build])).first;
  if (!it->second.record && why) *why = it->second.why;
  return it->second.record;
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
    bool complete = store_.has_blob(r->manifest.digest, r->manifest.size) && store_.has_blob(r->config.digest) &&
                    (!r->incremental || store_.has_blob(r->incremental->index.digest));
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
    tag = newest_tag(b);
    if (tag.empty()) return {std::nullopt, "no previous build"};
  }
  return fetch(b, tag);
}

std::string PreviousBuilds::newest_tag(const PlanBuild& b) {
  // Tags the tag template would give this flavour at some time: {timestamp} is the order.
  std::string pattern;
  const std::string& tmpl = plan_.config->tag_template;
  bool has_time = false;
  for (size_t i = 0; i < tmpl.size();) {
    auto open = tmpl.find('{', i);
    pattern += regex_escape(tmpl.substr(i, open == std::string::npos ? std::string::npos : open - i));
    if (open == std::string::npos) break;
    auto close = tmpl.find('}', open);
    if (close == std::string::npos) return "";
    std::string var = tmpl.substr(open + 1, close - open - 1);
    if (var == "timestamp") {
      pattern += "([0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{6})";
      has_time = true;
    } else if (var == "flavour") {
      pattern += regex_escape(b.flavour_name);
    } else {
      std::string value;
      for (const auto& [k, v] : b.args)
        if (k == var) value = v;
      pattern += regex_escape(value);
    }
    i = close + 1;
  }
  if (!has_time) return "";
  std::regex re(pattern);
  std::vector<std::string> tags;
  if (target_.kind == oci::Target::Kind::layout) {
    if (!target_layout_) return "";
    for (const auto& name : target_layout_->ref_names())
      if (name.rfind(b.repository + ":", 0) == 0) tags.push_back(name.substr(b.repository.size() + 1));
  } else {
    std::string repo = target_.prefix.empty() ? b.repository : target_.prefix + "/" + b.repository;
    tags = registries_.client(target_.host).tags(repo);
  }
  std::string best, best_time;
  for (const auto& t : tags) {
    std::smatch m;
    if (std::regex_match(t, m, re) && m[1].str() > best_time && t != b.tag) {
      best_time = m[1].str();
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
      auto tree = oci::TreeIndex::parse(store_.read_blob(index->digest, size_t{1} << 32));
      if (tree) r.incremental = BuildRecord::Incremental{tree->spec, *index};
    }
    return {std::move(r), {}};
  } catch (const oci::Cancelled&) {
    throw;
  } catch (const Error& e) {
    return {std::nullopt, fmt::format("the last build {} could not be read at the push target: {}", name, e.what())};
  }
}

}  // namespace flavourgraph
