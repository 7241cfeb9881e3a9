// build: an image for one (image, flavour, kind) from its base (or its `from` kind's image) and
// its layers, or, for an incremental layer's delta, from its last good build and the delta;
// tag: its names in the local store.
#include <fmt/format.h>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/oci/digest.h"
#include "flavourgraph/time.h"
#include "flavourgraph/tasks/backend.h"
#include "flavourgraph/tasks/previous.h"
#include "flavourgraph/tasks/published.h"
#include "flavourgraph/tasks/tasks.h"

namespace flavourgraph {

std::string settings_digest(const PlanBuild& build, const KindSpec& kind) {
  nlohmann::json j = {{"image", build.image_name}, {"flavour", build.flavour_name}, {"kind", build.kind_name},
                      {"args", build.args},        {"env", build.env},               {"labels", build.labels}};
  const ImageSettings& s = kind.config;
  if (s.user) j["user"] = *s.user;
  if (s.workdir) j["workdir"] = *s.workdir;
  if (s.entrypoint) j["entrypoint"] = *s.entrypoint;
  if (s.cmd) j["cmd"] = *s.cmd;
  return oci::Digest::sha256_of(j.dump()).str();
}

namespace {

/// The image a delta goes on, as the store holds it (its layers may be only at the target).
ImageData previous_image(const BuildEnv& env, const BuildRecord& r, const PlanBuild& build) {
  ImageData img;
  img.manifest = r.manifest;
  auto parsed = oci::Manifest::parse(env.store().read_blob(r.manifest.digest));
  if (!parsed) throw Error(fmt::format("the last build {}: {}", r.name, parsed.message()));
  img.parsed = std::move(*parsed);
  img.config = nlohmann::json::parse(env.store().read_blob(r.config.digest), nullptr, false);
  if (!img.config.is_object()) throw Error(fmt::format("the last build {}: its config is not a JSON object", r.name));
  img.name = r.name;
  img.external_layers = true;
  if (env.target().kind == oci::Target::Kind::registry) {  // where its layers are, to fetch one if need be
    img.remote_host = env.target().host;
    img.remote_repo = env.target_repository(build.repository);
  }
  img.settings = r.settings;
  return img;
}

/// What differs from the last good build (for --explain).
std::string why_built(const BuildEnv& env, uint32_t build, const ImageData& img, bool cached) {
  if (cached) return "its base, layers and settings are as the store has them";
  const PlanBuild& pb = env.plan().builds[build];
  const BuildRecord* last = env.previous() ? env.previous()->state().find(pb.image_name, pb.flavour_name, pb.kind_name)
                                           : nullptr;
  if (!last) return "no previous build";
  std::vector<std::string> what;
  auto base = img.parsed.annotations.find("org.opencontainers.image.base.digest");
  if (base != img.parsed.annotations.end() && base->second != last->base_digest) what.push_back("the base changed");
  if (img.settings != last->settings) what.push_back("the kind's settings changed");
  size_t same = 0;
  while (same < img.parsed.layers.size() && same < last->layers.size() &&
         img.parsed.layers[same].digest == last->layers[same].digest)
    ++same;
  if (same != img.parsed.layers.size() || same != last->layers.size())
    what.push_back(fmt::format("layers from the {} on changed", same + 1 == 1 ? std::string("first") : fmt::format("#{}", same + 1)));
  if (what.empty()) what.push_back("its config changed (created time or builder)");
  return fmt::format("since {}: {}", last->name, fmt::join(what, ", "));
}

/// The created time of the kind's last good build (this machine's, a previous report's or the
/// push target's newest) when its config is this build's but for the times in it.
std::optional<int64_t> last_created(const BuildEnv& env, uint32_t build, const BuildInputs& in) {
  if (!env.previous()) return std::nullopt;
  std::optional<BuildRecord> r = env.previous()->find(build, nullptr);
  if (!r || !env.store().has_blob(r->config.digest, r->config.size)) return std::nullopt;
  nlohmann::json last = nlohmann::json::parse(env.store().read_blob(r->config.digest), nullptr, false);
  auto t = last.is_object() && last.contains("created") && last["created"].is_string()
               ? parse_rfc3339(last["created"].get<std::string>())
               : std::nullopt;
  if (!t) return std::nullopt;
  BuildInputs then = in;
  then.created = *t;
  return native_image_config(then) == last ? t : std::nullopt;
}

/// The image's created time: SOURCE_DATE_EPOCH when set; otherwise the time its content (its
/// config with no times in it) was first built: as recorded in the store by that content's
/// digest, else as the kind's last good build has it when that is the same content, else now
/// (the run's time). So a rebuild of unchanged content keeps its digest whatever the run's time.
/// An image only built on (never pushed) takes its base's time: no registry keeps its first
/// build, and so every machine makes it the same.
int64_t created_time(const BuildEnv& env, uint32_t build, const BuildInputs& in) {
  const BuildSettings& s = env.settings();
  if (s.created_fixed) return s.source_date_epoch;
  if (!env.plan().builds[build].published) {
    const nlohmann::json& c = in.base.config;
    auto t = c.contains("created") && c["created"].is_string() ? parse_rfc3339(c["created"].get<std::string>())
                                                                 : std::nullopt;
    return t.value_or(s.source_date_epoch);
  }
  std::string content = oci::sha256_hex(oci::canonical(native_image_config(in)));  // in.created is 0
  std::filesystem::path file = env.store().state_dir() / "created" / content;
  std::error_code ec;
  if (std::filesystem::exists(file, ec))
    if (auto t = parse_timestamp(read_file(file)); t) return *t;
  int64_t t = last_created(env, build, in).value_or(s.run_time);
  std::filesystem::create_directories(file.parent_path());
  write_file_atomic(file, std::to_string(t));
  return t;
}

}  // namespace

/// A build the push target holds under its build key: its image as published there.
TaskOutcome BuildTask::take_published() {
  const PlanBuild& pb = env_.plan().builds[build_];
  const BuildRecord* r = env_.published()->found(build_);
  if (!r) return {TaskState::cached, {}, {}, "not needed: every image that starts from it is published already"};
  ImageData img = previous_image(env_, *r, pb);
  img.published_already = true;
  img.base_digest = r->base_digest;
  // Pinned, as a base-pull names it (the annotation has the ref as written).
  img.base_name = r->base_name.find('@') == std::string::npos && !r->base_digest.empty()
                      ? r->base_name + "@" + r->base_digest
                      : r->base_name;
  if (r->incremental) {
    img.tree_index = r->incremental->index;
    img.tree_spec = r->incremental->spec;
  }
  std::string digest = img.manifest.digest.str();
  image_.set(std::move(img));
  return {TaskState::cached, {}, digest,
          fmt::format("published already: the push target has {} under its build key {}", digest,
                      env_.published()->key(build_).substr(0, 16))};
}

TaskOutcome BuildTask::run(TaskContext& ctx) {
  if (env_.published() && env_.published()->skip_build(build_)) return take_published();
  const Plan& plan = env_.plan();
  const PlanBuild& pb = plan.builds[build_];
  const KindSpec& kind = plan.config->images[pb.image].kinds[pb.kind];
  const LayerTask* inc = !layers_.empty() && layers_.back()->incremental() ? layers_.back() : nullptr;
  const LayerChoice* choice = inc ? inc->choice(build_) : nullptr;
  std::string base_name;
  if (pb.base_build_index() >= 0) {
    // The parent by digest, never by its tag: a tag carries the run's time, and an unchanged
    // image built `from` an unchanged parent must keep its digest.
    const PlanBuild& pp = plan.builds[static_cast<size_t>(pb.base_build_index())];
    base_name = pp.repository + "@" + base_.image().manifest.digest.str();
  } else if (pb.run >= 0) {
    base_name = base_.image().name;  // what the Containerfile's FROM was replaced with
  } else {
    base_name = plan.bases[static_cast<size_t>(pb.base)].ref;
  }
  ImageData previous;
  bool delta = choice && choice->delta;
  if (delta) {
    previous = previous_image(env_, *choice->previous, pb);
    if (!choice->blob) {  // the tree and the settings are as the last build has them: it is the image
      previous.tree_index = inc->tree_index();
      previous.tree_spec = inc->fingerprint();
      std::string digest = previous.manifest.digest.str();
      image_.set(std::move(previous));
      return {TaskState::cached, {}, digest, choice->reason};
    }
  }
  BuildInputs in{pb, kind, delta ? previous : base_.image(), base_name, {}, {}, 0};
  in.settings = settings_digest(pb, kind);
  const auto& labels = plan.config->incremental;
  if (delta) {
    in.base_digest = base_.image().manifest.digest.str();
    in.layers.push_back(choice->blob);
    in.layer_specs.push_back(&plan.layers[inc->index()].spec);
    in.extra_labels = {{labels.build_type_label, "incremental"}, {labels.parent_image_label, choice->previous->name}};
  } else {
    for (const LayerTask* l : layers_) {
      in.layers.push_back(l == inc ? choice->blob : &l->blob());
      in.layer_specs.push_back(&plan.layers[l->index()].spec);
    }
    if (inc) in.extra_labels = {{labels.build_type_label, "full"}};
  }
  in.created = created_time(env_, build_, in);
  BuildOutput out = make_native_backend()->build(env_, in, ctx);
  if (inc) {
    out.image.tree_index = inc->tree_index();
    out.image.tree_spec = inc->fingerprint();
  }
  std::string digest = out.image.manifest.digest.str();
  image_.set(std::move(out.image));
  std::string reason = choice ? choice->reason : why_built(env_, build_, image(), out.cached);
  return {out.cached ? TaskState::cached : TaskState::done, {}, digest, reason};
}

TaskOutcome TagTask::run(TaskContext&) {
  const PlanBuild& pb = env_.plan().builds[build_];
  const ImageData& img = image_.image();
  bool changed = env_.store().set_ref(pb.repository + ":" + pb.tag, img.manifest);
  for (const auto& t : pb.extra_tags) changed |= env_.store().set_ref(pb.repository + ":" + t, img.manifest);
  return {changed ? TaskState::done : TaskState::cached, {}, pb.repository + ":" + pb.tag,
          changed ? "now names " + img.manifest.digest.str() : "names the same image"};
}

}  // namespace flavourgraph
