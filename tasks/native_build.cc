#include "flavourgraph/native_build.h"

#include <fmt/format.h>

#include "build_context.h"
#include "flavourgraph/fs_util.h"
#include "task.h"

namespace flavourgraph {

struct NativeBuild::Impl {
  const Plan& plan;
  std::unique_ptr<oci::Layout> store;
  std::unique_ptr<BuildContext> bc;
  std::unique_ptr<PlanRunner> runner;
  explicit Impl(const Plan& p) : plan(p) {}
};

NativeBuild::~NativeBuild() = default;

std::unique_ptr<NativeBuild> NativeBuild::prepare(const Plan& plan, const BuildSettings& s, const CancelSource& cancel,
                                                  Diagnostics& diags, bool* environment) {
  *environment = false;
  std::unique_ptr<NativeBuild> nb(new NativeBuild());
  nb->impl_ = std::make_unique<Impl>(plan);
  Impl& im = *nb->impl_;

  // Layer sources must exist before anything runs.
  for (const auto& l : plan.layers) {
    std::error_code ec;
    if (!std::filesystem::is_directory(l.spec.source_path, ec))
      diags.error(l.spec.where, l.spec.name.empty() ? "layers" : "layers." + l.spec.name,
                  fmt::format("source '{}' ({}) is not a directory", l.spec.source, l.spec.source_path.string()));
  }
  std::string err;
  auto target = oci::Target::parse(plan.registry, s.target_base_dir, &err);
  if (!target) diags.error({}, "registry", err);
  if (diags.has_errors()) return nullptr;

  try {
    im.store = oci::Layout::open(s.store_dir, true);
    im.store->lock();
    im.bc = std::make_unique<BuildContext>(plan, s, *im.store);
    im.bc->target = *target;
    if (target->kind == oci::Target::Kind::layout) {
      if (std::filesystem::weakly_canonical(target->dir) == std::filesystem::weakly_canonical(s.store_dir))
        throw oci::StoreError(fmt::format("the push target {} is the local store itself; push to another layout",
                                          target->dir.string()));
      im.bc->target_layout = oci::Layout::open(target->dir, true);
      im.bc->target_layout->lock();
    }
    if (!plan.releases.empty()) {
      im.bc->values = std::make_unique<ValuesDir>(s.values_dir, s.values_git);
      im.bc->values->lock();
      if (auto detached = im.bc->values->detached_head(); detached && !s.allow_detached) {
        diags.error({}, "--values-dir",
                    fmt::format("{}: {}; commits there would belong to no branch. Check out a branch, or pass "
                                "--allow-detached",
                                s.values_dir.string(), *detached));
        return nullptr;  // the configuration's fault: exit 2, nothing written
      }
    }
    // Temp files a run killed at once (a second signal, a crash) left; the store is ours now.
    for (const auto& dir : {s.state_dir, s.values_dir, im.bc->cache_dir() / "layers"}) remove_stale_temp_files(dir);
    RegistrySettings rs;
    rs.insecure = s.insecure_registries;
    for (const auto& h : plan.config->insecure_registries) rs.insecure.push_back(h);
    rs.ca_bundle = s.ca_bundle;
    rs.retries = s.retries;
    im.bc->registries = std::make_unique<RegistryPool>(rs, cancel);
    if (target->kind == oci::Target::Kind::registry) im.bc->registries->client(target->host).ping();
  } catch (const std::exception& e) {
    diags.error({}, "", e.what());
    *environment = true;
    return nullptr;
  }
  im.runner = std::make_unique<PlanRunner>(*im.bc);
  return nb;
}

TaskRunner& NativeBuild::runner() { return *impl_->runner; }

BuiltImages NativeBuild::built_images(const RunResult& result) const {
  const Plan& plan = impl_->plan;
  BuiltImages out;
  for (const auto& b : plan.builds) {
    if (b.push_task < 0) continue;
    TaskState st = result.records[static_cast<size_t>(b.push_task)].state;
    if (st != TaskState::done && st != TaskState::cached) continue;
    // The base pinned by digest, or the `from` kind's image.
    std::string base;
    const auto& bc = *impl_->bc;
    if (b.base >= 0 && bc.bases[static_cast<size_t>(b.base)]) base = bc.bases[static_cast<size_t>(b.base)]->name;
    if (b.parent >= 0) {
      // The `from` kind's image when it was pushed; else the pinned base at the bottom of the chain.
      const PlanBuild& p = plan.builds[static_cast<size_t>(b.parent)];
      const auto& img = bc.images[static_cast<size_t>(b.parent)];
      bool parent_pushed = p.push_task >= 0 && (result.records[static_cast<size_t>(p.push_task)].state == TaskState::done ||
                                                result.records[static_cast<size_t>(p.push_task)].state == TaskState::cached);
      if (img && parent_pushed) {
        base = fmt::format("{}/{}:{}@{}", plan.registry, p.repository, p.tag, img->manifest.digest.str());
      } else {
        const PlanBuild* root = &p;
        while (root->parent >= 0) root = &plan.builds[static_cast<size_t>(root->parent)];
        if (root->base >= 0 && bc.bases[static_cast<size_t>(root->base)]) base = bc.bases[static_cast<size_t>(root->base)]->name;
      }
    }
    out.add(b.image_name, b.flavour_name, b.kind_name, b.image_ref(plan.registry), b.metadata, base);
  }
  return out;
}

std::vector<RenderedRelease> NativeBuild::rendered(const RunResult& result) const {
  const Plan& plan = impl_->plan;
  std::vector<RenderedRelease> out;
  for (const auto& r : plan.releases) {
    TaskState st = result.records[static_cast<size_t>(r.task)].state;
    if (st != TaskState::done && st != TaskState::cached) continue;
    out.push_back({&r.target, strip_registry(plan.registry, plan.builds[static_cast<size_t>(r.mw_build)].image_ref(plan.registry)),
                   strip_registry(plan.registry, plan.builds[static_cast<size_t>(r.web_build)].image_ref(plan.registry))});
  }
  return out;
}

const ValuesDir& NativeBuild::values() const { return *impl_->bc->values; }

bool NativeBuild::values_are_git() const { return impl_->bc->values && impl_->bc->values->is_git(); }

}  // namespace flavourgraph
