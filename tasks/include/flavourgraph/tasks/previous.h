#pragma once
/// The last good build of each image, which an incremental layer builds its delta on: this
/// machine's build record, or, on a machine without one, the image a previous report names
/// (--previous-report) or the newest one of the flavour at the push target. Its manifest,
/// config and tree index come into the store; its layers never do (they are at the target).

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "flavourgraph/build_state.h"
#include "flavourgraph/cancel.h"
#include "flavourgraph/oci/image_io.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/reference.h"
#include "flavourgraph/plan.h"
#include "flavourgraph/report.h"
#include "flavourgraph/tasks/registry_pool.h"

namespace flavourgraph {

class PreviousBuilds {
 public:
  PreviousBuilds(const Plan& plan, BuildState state, std::optional<BuiltImages> previous_report, oci::Layout& store,
                 const oci::Target& target, RegistryPool& registries, const oci::Layout* target_layout)
      : plan_(plan), state_(std::move(state)), report_(std::move(previous_report)), store_(store), target_(target),
        registries_(registries), target_layout_(target_layout) {}

  /// The last good build of plan build `build`, with what a delta needs in the store; nullopt,
  /// and why in `why`, when there is none to build on. Safe to call from several tasks.
  std::optional<BuildRecord> find(uint32_t build, std::string* why);
  [[nodiscard]] const BuildState& state() const { return state_; }
  /// The image `tag` names in build `build`'s repository at the push target, as a record (its
  /// manifest, config and tree index brought into the store); nullopt, and why, when there is
  /// none.
  std::optional<BuildRecord> at_target(uint32_t build, const std::string& tag, std::string* why);

 private:
  struct Found {
    std::optional<BuildRecord> record;
    std::string why;
  };
  Found look_up(const PlanBuild& b);
  /// The image `repository:tag` at the push target, as a record (its blobs into the store).
  Found fetch(const PlanBuild& b, const std::string& tag);
  /// The newest tag of the flavour at the push target ("" when none).
  std::string newest_tag(const PlanBuild& b);
  std::unique_ptr<oci::ImageSource> target_source(const PlanBuild& b);
  /// The spec a tree index in the store was made for (each index parsed once).
  Expected<std::string> index_spec(const oci::Digest& digest);
  [[nodiscard]] std::string ref_at_target(const PlanBuild& b, const std::string& tag) const;

  const Plan& plan_;
  BuildState state_;
  std::optional<BuiltImages> report_;
  oci::Layout& store_;
  const oci::Target& target_;
  RegistryPool& registries_;
  const oci::Layout* target_layout_;
  std::mutex mutex_;
  std::map<uint32_t, Found> found_;
  std::map<std::string, std::string> specs_;  ///< tree index digest → the spec it was made for
};

}  // namespace flavourgraph
