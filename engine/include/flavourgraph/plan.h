#pragma once
/// The plan: an immutable DAG of tasks expanded from the configuration (design.md §1.2).
///
/// `expand` is a pure function of (config, deployments, selection, options). Identical work is
/// one node: releases on one flavour share its builds, flavours on one base share one
/// base-pull, and a layer with one content key is built once for every kind that lists it.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "flavourgraph/config.h"
#include "flavourgraph/deployments.h"
#include "flavourgraph/diagnostics.h"
#include "flavourgraph/time.h"

namespace flavourgraph {

enum class TaskKind : uint8_t { base_pull, layer, build, tag, push, render_values, run, publish };
inline constexpr size_t kTaskKindCount = 8;
std::string_view task_kind_name(TaskKind k);
std::optional<TaskKind> parse_task_kind(std::string_view s);

/// What a run is restricted to. Empty = everything some release needs.
struct Selection {
  std::vector<std::string> only;      ///< IMAGE:FLAVOUR[:KIND]
  std::vector<std::string> releases;  ///< NAMESPACE/RELEASE
  std::optional<Stage> stage;
  std::optional<std::string> scope;   ///< drops releases of other scopes before expansion
  bool all_flavours = false;          ///< build every flavour × kind, needed or not

  [[nodiscard]] bool prunes() const { return !only.empty() || !releases.empty() || stage; }
};

struct PlanOptions {
  std::string timestamp;                      ///< YYYY-MM-DD-HHMMSS (UTC) for tags
  std::optional<std::vector<std::string>> clusters;  ///< overrides the config's default list
  std::optional<std::string> registry;        ///< overrides the config's push target
  std::optional<std::string> latest_tag;      ///< overrides the config's extra tag
  std::vector<EngineSpec> engines;            ///< build engines; replace the config's of the same name
  bool push = true;    ///< false: images end in the store; no push, no values (--no-push)
  bool atomic = false; ///< pushes upload by digest; one publish task moves every tag (--atomic)
};

struct PlanBase {
  std::string ref;                ///< as written, templates expanded
  std::vector<uint32_t> builds;   ///< builds on this base
};

struct PlanLayer {
  std::string key;                ///< content key (hex): source, filters, dest, owner, compression
  LayerSpec spec;
  CompressionSpec compression;
  std::vector<uint32_t> builds;   ///< builds that append this layer
};

/// A RUN build: a Containerfile built by an engine on a base, shared by every kind and flavour
/// with the same Containerfile, context, target, args and base.
struct PlanRun {
  std::string key;            ///< identity (hex) of what is named above
  std::string name;           ///< image:flavour:kind of the first build that uses it
  RunSpec spec;
  StringPairs args;           ///< build args
  int base = -1;              ///< PlanBase index of the image that replaces the first FROM, or -1
  int base_build = -1;        ///< or the PlanBuild index whose image does
  int engine = -1;            ///< index into Plan::engines
  std::vector<uint32_t> builds;  ///< builds on its image
  int task = -1;
};

struct PlanBuild {
  uint32_t image = 0, flavour = 0, kind = 0;  ///< indices into the config
  std::string image_name, flavour_name, kind_name;
  std::string repository;
  std::string tag;                         ///< primary tag
  std::vector<std::string> extra_tags;     ///< e.g. "latest"
  int base = -1;                           ///< PlanBase index, or -1 when built `from` a parent
  int parent = -1;                         ///< PlanBuild index of the `from` kind
  int base_build = -1;                     ///< PlanBuild index of a `build:` base
  int run = -1;                            ///< PlanRun index: built on a RUN build's image
  std::vector<uint32_t> layers;            ///< PlanLayer indices, in order
  StringPairs args, env, labels;           ///< templates expanded
  StringPairs metadata;
  bool published = false;                  ///< tagged and pushed (not only an ancestor)
  std::vector<std::string> serves;         ///< release target ids
  int build_task = -1, tag_task = -1, push_task = -1;

  [[nodiscard]] std::string id_suffix() const;  ///< image:flavour:kind
  /// The build whose image this one starts from (`from` or a `build:` base), or -1.
  [[nodiscard]] int base_build_index() const { return parent >= 0 ? parent : base_build; }
  [[nodiscard]] std::string image_ref(std::string_view registry) const;  ///< registry/repo:tag
  [[nodiscard]] std::vector<std::string> all_tags() const {  ///< the primary tag, then the extra ones
    std::vector<std::string> out{tag};
    out.insert(out.end(), extra_tags.begin(), extra_tags.end());
    return out;
  }
};

struct PlanRelease {
  ReleaseTarget target;
  int mw_build = -1;
  int web_build = -1;
  int task = -1;
};

struct PlanTask {
  std::string id;
  TaskKind kind;
  std::vector<uint32_t> deps;  ///< indices of tasks that must end first
  /// Tasks that must end first but whose failure does not keep this one from running (an
  /// incremental layer waits for the bases it compares, and builds whole where one failed).
  std::vector<uint32_t> after;
  uint32_t subject = 0;        ///< index into bases / layers / builds / releases by kind
  /// For people (progress lines): `layer app`, `build mediawiki:publish:image`, `pull REF`,
  /// `values NS/RELEASE@CLUSTER`. Unique in the plan; the id stays what machines read.
  std::string name;
};

struct Plan {
  std::shared_ptr<const ImagesConfig> config;
  std::shared_ptr<const DeploymentsFile> deployments;
  std::string registry;
  std::string timestamp;
  std::vector<std::string> clusters;  ///< the default cluster list the plan used
  std::set<std::string> values_files; ///< every values file the deployments configure, selected or not
  bool push = true;             ///< images are pushed and values rendered
  bool atomic = false;          ///< tags move only once every image of the run is uploaded
  int publish_task = -1;        ///< with `atomic`: the task that moves every tag
  std::vector<PlanTask> tasks;  ///< topologically ordered, deterministic
  std::vector<PlanBase> bases;
  std::vector<PlanLayer> layers;
  std::vector<PlanBuild> builds;
  std::vector<PlanRun> runs;
  std::vector<EngineSpec> engines;  ///< the engines RUN builds go to
  std::vector<PlanRelease> releases;
  std::vector<std::string> warnings;

  [[nodiscard]] int find(std::string_view id) const;
  [[nodiscard]] size_t count(TaskKind k) const;
  /// Whether build `b` starts from an image built in this run (a `from` or `build:` base, or a
  /// RUN build's) that already holds layer `l`: an incremental `l` cannot wait for that base.
  [[nodiscard]] bool base_holds_layer(uint32_t b, uint32_t l) const;
  /// The longest dependency chain (task indices), by task count.
  [[nodiscard]] std::vector<uint32_t> critical_path() const;
};

/// Expands the configuration into a plan. Errors (unknown flavours, bad selection...) go to
/// `diags`; the plan is only meaningful when there are none.
Plan expand(std::shared_ptr<const ImagesConfig> config,
            std::shared_ptr<const DeploymentsFile> deployments, const Selection& selection,
            const PlanOptions& options, Diagnostics& diags);

/// `plan` output formats.
std::string plan_to_text(const Plan& plan);
std::string plan_to_json(const Plan& plan);
std::string plan_to_dot(const Plan& plan);

}  // namespace flavourgraph
