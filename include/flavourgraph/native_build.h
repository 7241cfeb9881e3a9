#pragma once
/// A real build of a plan: the local store, the push target and the values directory opened
/// (and locked), the tasks ready for the executor, and what a finished run published.

#include <filesystem>
#include <memory>
#include <vector>

#include "flavourgraph/diagnostics.h"
#include "flavourgraph/executor.h"
#include "flavourgraph/plan.h"
#include "flavourgraph/publish.h"
#include "flavourgraph/report.h"

namespace flavourgraph {

struct BuildSettings {
  std::filesystem::path store_dir = ".flavourgraph/store";
  std::filesystem::path state_dir = ".flavourgraph/state";
  std::filesystem::path values_dir = ".flavourgraph/values";
  bool values_git = false;  ///< commit values in a git work tree (set when --values-dir is given)
  std::filesystem::path target_base_dir;  ///< relative oci: push targets resolve against it
  bool no_cache = false;
  int64_t source_date_epoch = 0;  ///< mtime of layer entries and the images' created time
  std::string os = "linux";       ///< the platform picked from base indexes
  std::string arch = "amd64";
  std::vector<std::string> insecure_registries;  ///< hosts spoken to over plain HTTP
  std::string ca_bundle;                         ///< extra CA certificates for TLS
  int retries = 5;                               ///< attempts per registry request
  bool allow_detached = false;                   ///< commit values onto a detached git HEAD
};

class BuildContext;
class CancelSource;

class NativeBuild {
 public:
  /// Checks what can be checked before any work (layer sources, the push target) and opens
  /// the store, target and values directory. Problems go to `diags` (nullptr returned);
  /// `environment` is set when they are not the configuration's fault (a store in use, a
  /// registry that does not answer).
  static std::unique_ptr<NativeBuild> prepare(const Plan& plan, const BuildSettings& settings,
                                              const CancelSource& cancel, Diagnostics& diags, bool* environment);
  ~NativeBuild();

  TaskRunner& runner();
  /// The images a run pushed, for report.json.
  [[nodiscard]] BuiltImages built_images(const RunResult& result) const;
  /// The releases whose values a run rendered (done or unchanged), in plan order.
  [[nodiscard]] std::vector<RenderedRelease> rendered(const RunResult& result) const;
  [[nodiscard]] const ValuesDir& values() const;
  /// True when the run writes values into a git work tree (and commits them).
  [[nodiscard]] bool values_are_git() const;

 private:
  NativeBuild() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flavourgraph
