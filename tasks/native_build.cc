#include "flavourgraph/native_build.h"

#include "flavourgraph/tasks/engines.h"

#include <fmt/format.h>

#include <functional>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/tasks/previous.h"
#include "flavourgraph/tasks/published.h"
#include "flavourgraph/tasks/tasks.h"

namespace flavourgraph {

struct NativeBuild::Impl {
  const Plan& plan;
  BuildSettings settings;
  std::unique_ptr<oci::Layout> store;
  oci::Target target;
  std::unique_ptr<oci::Layout> target_layout;  ///< for an oci: target (locked)
  std::unique_ptr<RegistryPool> registries;
  std::unique_ptr<oci::ImageSink> sink;
  std::unique_ptr<ValuesDir> values;
  std::unique_ptr<PreviousBuilds> previous;
  std::unique_ptr<BuildEnv> env;
  std::unique_ptr<PlanRunner> runner;
  Impl(const Plan& p, BuildSettings s) : plan(p), settings(std::move(s)) {}
};

NativeBuild::~NativeBuild() = default;

namespace {

/// Layer sources must exist before anything runs; the push target must parse.
std::optional<oci::Target> check_inputs(const Plan& plan, const BuildSettings& s, Diagnostics& diags) {
  for (const auto& l : plan.layers) {
    std::error_code ec;
    if (!std::filesystem::is_directory(l.spec.source_path, ec))
      diags.error(l.spec.where, l.spec.name.empty() ? "layers" : "layers." + l.spec.name,
                  fmt::format("source '{}' ({}) is not a directory", l.spec.source, l.spec.source_path.string()));
  }
  auto target = oci::Target::parse(plan.registry, s.target_base_dir);
  if (!target) diags.error({}, "registry", target.message());
  if (diags.has_errors()) return std::nullopt;
  return *target;
}

RegistrySettings registry_settings(const Plan& plan, const BuildSettings& s) {
  RegistrySettings rs;
  rs.insecure = s.insecure_registries;
  for (const auto& h : plan.config->insecure_registries) rs.insecure.push_back(h);
  rs.ca_bundle = s.ca_bundle;
  rs.retries = s.retries;
  rs.docker_config = s.docker_config;
  rs.home = s.home;
  return rs;
}

}  // namespace

namespace {

/// Every engine a RUN build goes to must be there and answer before any build starts.
void check_engines(const Plan& plan, const BuildSettings& s) {
  std::vector<std::string> problems;
  for (size_t e = 0; e < plan.engines.size(); ++e) {
    std::vector<std::string> users;
    for (const auto& r : plan.runs)
      if (r.engine == static_cast<int>(e)) users.push_back("run:" + r.name);
    if (users.empty()) continue;
    const EngineSpec& spec = plan.engines[e];
    if (std::string p = make_engine_driver(spec, s.state_dir)->check(); !p.empty())
      problems.push_back(fmt::format("engine '{}' ({}) for {}: {}", spec.name, spec.url, fmt::join(users, ", "), p));
  }
  if (!problems.empty())
    throw Error(fmt::format("{}; nothing was built", fmt::join(problems, "\n  ")));
}

}  // namespace

std::unique_ptr<NativeBuild> NativeBuild::prepare(const Plan& plan, const BuildSettings& s, const CancelSource& cancel,
                                                  Diagnostics& diags, oci::HttpTransport* transport) {
  auto target = check_inputs(plan, s, diags);
  if (!target) return nullptr;
  check_engines(plan, s);  // before anything is made (even when every RUN build turns out published)
  std::unique_ptr<NativeBuild> nb(new NativeBuild());
  nb->impl_ = std::make_unique<Impl>(plan, s);
  Impl& im = *nb->impl_;
  im.target = *target;
  im.store = oci::Layout::open(s.store_dir, true);
  im.store->lock();
  im.registries = transport ? std::make_unique<RegistryPool>(registry_settings(plan, s), cancel, *transport)
                            : std::make_unique<RegistryPool>(registry_settings(plan, s), cancel);
  if (target->kind == oci::Target::Kind::layout) {
    if (std::filesystem::weakly_canonical(target->dir) == std::filesystem::weakly_canonical(s.store_dir))
      throw oci::StoreError(
          fmt::format("the push target {} is the local store itself; push to another layout", target->dir.string()));
    im.target_layout = oci::Layout::open(target->dir, true);
    im.target_layout->lock();
    im.sink = std::make_unique<oci::LayoutSink>(*im.target_layout);
  } else {
    if (plan.push) im.registries->client(target->host).ping();  // --no-push only reads it, for deltas
    im.sink = std::make_unique<oci::RegistrySink>(im.registries->client(target->host), cancel);
  }
  if (plan.push && !plan.releases.empty()) {
    im.values = std::make_unique<ValuesDir>(s.values_dir, s.values_git);
    im.values->lock();
    if (auto detached = im.values->detached_head(); detached && !s.allow_detached) {
      diags.error({}, "--values-dir",
                  fmt::format("{}: {}; commits there would belong to no branch. Check out a branch, or pass "
                              "--allow-detached",
                              s.values_dir.string(), *detached));
      return nullptr;  // the configuration's fault: exit 2, nothing written
    }
  }
  // Temp files a run killed at once (a second signal, a crash) left; the store is ours now.
  for (const auto& dir : {s.state_dir, im.store->state_dir() / "cache" / "layers"}) remove_stale_temp_files(dir);
  if (im.values) remove_stale_temp_files(s.values_dir);  // only under its lock
  std::optional<BuiltImages> previous_report;
  if (!s.previous_report.empty()) {
    auto r = parse_report(read_file(s.previous_report));
    if (!r) {
      diags.error({s.previous_report.string(), 0, 0}, "--previous-report", "not a report.json: " + r.message());
      return nullptr;
    }
    previous_report = std::move(*r);
  }
  im.previous = std::make_unique<PreviousBuilds>(plan, BuildState::load(s.state_dir, diags), std::move(previous_report),
                                                 *im.store, im.target, *im.registries, im.target_layout.get());
  im.env = std::make_unique<BuildEnv>(plan, im.settings, *im.store, *target, *im.sink, *im.registries, im.values.get(),
                                      im.previous.get());
  // With --no-cache, --ignore-published or --full, keys are computed (and published) but not looked up.
  if (plan.push) {
    try {
      im.env->set_published(PublishedImages::check(*im.env, *im.previous, cancel, !s.no_cache && !s.ignore_published && !s.full));
    } catch (const oci::Cancelled&) {
      throw Error("interrupted while computing build keys; nothing was built", ErrorKind::cancelled);
    }
  }
  im.runner = std::make_unique<PlanRunner>(*im.env);
  return nb;
}

TaskRunner& NativeBuild::runner() { return *impl_->runner; }

BuiltImages NativeBuild::built_images() const {
  const Plan& plan = impl_->plan;
  const PlanRunner& run = *impl_->runner;
  BuiltImages out;
  // The base as the report names it: the image a build starts from, pinned by digest; a
  // build's image by its pushed name, or, when it was not pushed, what that build starts from.
  std::function<std::string(uint32_t, int)> base_of = [&](uint32_t i, int depth) -> std::string {
    const PlanBuild& b = plan.builds[i];
    if (const ImageData* own = run.built_image(i); own && own->published_already) return own->base_name;
    int bb = b.base_build_index();
    if (bb >= 0 && depth < 64) {
      const PlanBuild& p = plan.builds[static_cast<size_t>(bb)];
      const ImageData* img = run.built_image(static_cast<uint32_t>(bb));
      if (img && run.pushed(static_cast<uint32_t>(bb)))
        return fmt::format("{}/{}:{}@{}", plan.registry, p.repository, p.tag, img->manifest.digest.str());
      return base_of(static_cast<uint32_t>(bb), depth + 1);
    }
    const ImageData* img = run.source_image(i);
    return img ? img->name : std::string();
  };
  for (uint32_t i = 0; i < plan.builds.size(); ++i) {
    const PlanBuild& b = plan.builds[i];
    if (!run.pushed(i)) continue;
    std::string base = base_of(i, 0);
    out.add(b.image_name, b.flavour_name, b.kind_name, b.image_ref(plan.registry), b.metadata, base);
  }
  return out;
}

BuiltImages NativeBuild::unpushed_images() const {
  const Plan& plan = impl_->plan;
  BuiltImages out;
  if (plan.push) return out;
  std::string store = std::filesystem::absolute(impl_->settings.store_dir).lexically_normal().string();
  for (uint32_t i = 0; i < plan.builds.size(); ++i) {
    const PlanBuild& b = plan.builds[i];
    const ImageData* img = impl_->runner->built_image(i);
    std::string ref = b.repository + ":" + b.tag;
    auto named = img && b.published ? impl_->store->resolve(ref) : std::nullopt;
    if (!named || named->digest != img->manifest.digest) continue;  // its tag task did not name it
    out.add_unpushed(b.image_name, b.flavour_name, b.kind_name, {ref, img->manifest.digest.str(), store});
  }
  return out;
}

nlohmann::json NativeBuild::images_json() const {
  const Plan& plan = impl_->plan;
  nlohmann::json out = nlohmann::json::object();
  for (uint32_t i = 0; i < plan.builds.size(); ++i) {
    const PlanBuild& b = plan.builds[i];
    const ImageData* img = impl_->runner->built_image(i);
    if (!b.published || !img) continue;
    bool pushed = impl_->runner->pushed(i) != nullptr;
    nlohmann::json names = nlohmann::json::array();
    for (const auto& t : b.all_tags())
      names.push_back(pushed ? fmt::format("{}/{}:{}", plan.registry, b.repository, t) : b.repository + ":" + t);
    out[b.id_suffix()] = {{"image.name", names},
                          {"containerimage.digest", img->manifest.digest.str()},
                          {"containerimage.config.digest", img->parsed.config.digest.str()},
                          {"platform", impl_->settings.os + "/" + impl_->settings.arch},
                          {"pushed", pushed}};
  }
  return out;
}

std::vector<BuildRecord> NativeBuild::records() const {
  const Plan& plan = impl_->plan;
  const PlanRunner& run = *impl_->runner;
  std::vector<BuildRecord> out;
  for (uint32_t i = 0; i < plan.builds.size(); ++i) {
    const PlanBuild& b = plan.builds[i];
    const ImageData* img = run.built_image(i);
    if (!run.pushed(i) || !img) continue;
    BuildRecord r;
    r.image = b.image_name;
    r.flavour = b.flavour_name;
    r.kind = b.kind_name;
    r.name = b.image_ref(plan.registry);
    r.manifest = img->manifest;
    r.config = img->parsed.config;
    r.layers = img->parsed.layers;
    const ImageData* base = run.source_image(i);
    if (base) {
      r.base_digest = base->manifest.digest.str();
      r.base_name = base->name;
    } else {  // published already: as its annotations say
      r.base_digest = img->base_digest;
      r.base_name = img->base_name;
    }
    r.settings = img->settings;
    if (img->tree_index) r.incremental = BuildRecord::Incremental{img->tree_spec, *img->tree_index};
    out.push_back(std::move(r));
  }
  return out;
}

NativeBuild::StateSaved NativeBuild::save_state(ReportFormat format, Diagnostics& diags) const {
  StateSaved saved;
  BuiltImages built = built_images();
  BuiltImages unpushed = unpushed_images();
  if (built.empty() && unpushed.empty()) return saved;  // nothing made: the last good state stays as it is
  saved.published = !built.empty();
  saved.unpushed = unpushed.count_unpushed();
  const std::filesystem::path& dir = impl_->settings.state_dir;
  try {
    for (const auto& r : records()) {
      BuildState::write(dir, r);
      ++saved.records;
    }
  } catch (const std::exception& e) {
    diags.error({}, "build state", e.what());
  }
  try {
    std::filesystem::create_directories(dir);
    auto path = dir / "report.json";
    BuiltImages report;
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      auto previous = parse_report(read_file(path));
      if (previous)
        report = std::move(*previous);
      else
        diags.warning({path.string(), 0, 0}, "", previous.message() + "; replaced by this run's images alone");
    }
    report.merge(built);
    report.merge(unpushed);
    write_file_atomic(path, report_json(report, format));
    saved.report_written = true;
  } catch (const std::exception& e) {
    diags.error({}, "report.json", e.what());
  }
  return saved;
}

std::vector<RenderedValues> NativeBuild::rendered() const {
  std::vector<RenderedValues> out;
  for (uint32_t i = 0; i < impl_->plan.releases.size(); ++i)
    if (const RenderedValues* v = impl_->runner->rendered(i)) out.push_back(*v);
  return out;
}

std::vector<std::string> NativeBuild::key_problems() const {
  const PublishedImages* p = impl_->env->published();
  return p ? p->problems() : std::vector<std::string>{};
}

const ValuesDir& NativeBuild::values() const { return *impl_->values; }

bool NativeBuild::values_are_git() const { return impl_->values && impl_->values->is_git(); }

}  // namespace flavourgraph
