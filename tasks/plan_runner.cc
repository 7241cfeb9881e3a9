// The plan's tasks, made in plan order and wired to the tasks they read from.
#include "flavourgraph/tasks/engines.h"
#include "flavourgraph/tasks/published.h"
#include "flavourgraph/tasks/tasks.h"

namespace flavourgraph {

const oci::Layout& BuildEnv::base_layout(const std::filesystem::path& dir) const {
  std::lock_guard lock(layouts_mutex_);
  auto it = base_layouts_.find(dir);
  if (it == base_layouts_.end()) it = base_layouts_.emplace(dir, oci::Layout::open(dir, false)).first;
  return *it->second;
}

BuildEnv::~BuildEnv() = default;

void BuildEnv::set_published(std::unique_ptr<PublishedImages> p) { published_ = std::move(p); }

EngineSet& BuildEnv::engines() const {
  std::lock_guard lock(layouts_mutex_);
  if (!engines_) engines_ = std::make_unique<EngineSet>(plan_.engines, settings_.state_dir);
  return *engines_;
}

PlanRunner::PlanRunner(const BuildEnv& env) {
  const Plan& plan = env.plan();
  bases_.resize(plan.bases.size());
  runs_.resize(plan.runs.size());
  layers_.resize(plan.layers.size());
  builds_.resize(plan.builds.size());
  pushes_.resize(plan.builds.size());
  renders_.resize(plan.releases.size());
  tasks_.reserve(plan.tasks.size());
  atomic_ = plan.atomic;
  for (const auto& t : plan.tasks) {
    uint32_t s = t.subject;
    switch (t.kind) {
      case TaskKind::base_pull:
        tasks_.push_back(std::make_unique<BasePullTask>(env, s));
        bases_[s] = static_cast<BasePullTask*>(tasks_.back().get());
        break;
      case TaskKind::run: {
        const PlanRun& r = plan.runs[s];
        const ImageTask& base = r.base >= 0 ? static_cast<const ImageTask&>(*bases_[static_cast<size_t>(r.base)])
                                            : *builds_[static_cast<size_t>(r.base_build)];
        tasks_.push_back(std::make_unique<RunTask>(env, s, base));
        runs_[s] = static_cast<RunTask*>(tasks_.back().get());
        break;
      }
      case TaskKind::layer: {
        std::map<uint32_t, const ImageTask*> bases;  // an incremental layer compares the images' bases
        if (plan.layers[s].spec.incremental)
          for (uint32_t b : plan.layers[s].builds)
            if (plan.builds[b].parent < 0 && !plan.base_holds_layer(b, s)) bases[b] = &source(plan.builds[b]);
        tasks_.push_back(std::make_unique<LayerTask>(env, s, std::move(bases)));
        layers_[s] = static_cast<LayerTask*>(tasks_.back().get());
        break;
      }
      case TaskKind::build: {
        const PlanBuild& pb = plan.builds[s];
        const ImageTask& base = source(pb);
        std::vector<const LayerTask*> layers;
        for (uint32_t l : pb.layers) layers.push_back(layers_[l]);
        tasks_.push_back(std::make_unique<BuildTask>(env, s, base, std::move(layers)));
        builds_[s] = static_cast<BuildTask*>(tasks_.back().get());
        break;
      }
      case TaskKind::tag: tasks_.push_back(std::make_unique<TagTask>(env, s, *builds_[s])); break;
      case TaskKind::push:
        tasks_.push_back(std::make_unique<PushTask>(env, s, *builds_[s]));
        pushes_[s] = static_cast<PushTask*>(tasks_.back().get());
        break;
      case TaskKind::publish: {
        std::vector<const PushTask*> pushes;
        for (const PushTask* p : pushes_)
          if (p) pushes.push_back(p);
        tasks_.push_back(std::make_unique<PublishTask>(env, std::move(pushes)));
        publish_ = static_cast<PublishTask*>(tasks_.back().get());
        break;
      }
      case TaskKind::render_values: {
        const PlanRelease& r = plan.releases[s];
        tasks_.push_back(std::make_unique<RenderValuesTask>(env, s, *pushes_[static_cast<size_t>(r.mw_build)],
                                                            *pushes_[static_cast<size_t>(r.web_build)]));
        renders_[s] = static_cast<RenderValuesTask*>(tasks_.back().get());
        break;
      }
    }
  }
}

const ImageTask& PlanRunner::source(const PlanBuild& pb) const {
  if (pb.run >= 0) return *runs_[static_cast<size_t>(pb.run)];
  if (pb.base >= 0) return *bases_[static_cast<size_t>(pb.base)];
  return *builds_[static_cast<size_t>(pb.base_build_index())];
}

const ImageData* PlanRunner::source_image(uint32_t build) const {
  if (!builds_[build]) return nullptr;
  const ImageTask& t = builds_[build]->base();
  return t.has_image() ? &t.image() : nullptr;
}

const ImageData* PlanRunner::run_image(uint32_t run) const {
  return runs_[run] && runs_[run]->has_image() ? &runs_[run]->image() : nullptr;
}

TaskOutcome PlanRunner::run(uint32_t index, TaskContext& ctx) { return tasks_[index]->run(ctx); }

const ImageData* PlanRunner::base_image(uint32_t base) const {
  return bases_[base] && bases_[base]->has_image() ? &bases_[base]->image() : nullptr;
}

const ImageData* PlanRunner::built_image(uint32_t build) const {
  return builds_[build] && builds_[build]->has_image() ? &builds_[build]->image() : nullptr;
}

const PushResult* PlanRunner::pushed(uint32_t build) const {
  if (atomic_ && (!publish_ || !publish_->published())) return nullptr;  // uploaded, but not named
  return pushes_[build] && pushes_[build]->has_pushed() ? &pushes_[build]->pushed() : nullptr;
}

const RenderedValues* PlanRunner::rendered(uint32_t release) const {
  return renders_[release] && renders_[release]->has_rendered() ? &renders_[release]->rendered() : nullptr;
}

}  // namespace flavourgraph
