#pragma once
/// A real build of a plan: the local store, the push target and the values directory opened
/// (and locked), the tasks ready for the executor, and what a finished run published.

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "flavourgraph/build_state.h"
#include "flavourgraph/diagnostics.h"
#include "flavourgraph/executor.h"
#include "flavourgraph/plan.h"
#include "flavourgraph/release_values.h"
#include "flavourgraph/report.h"

namespace flavourgraph {

struct BuildSettings {
  std::filesystem::path store_dir = ".flavourgraph/store";
  std::filesystem::path state_dir = ".flavourgraph/state";
  std::filesystem::path values_dir = ".flavourgraph/values";
  bool values_git = false;  ///< commit values in a git work tree (set when --values-dir is given)
  std::filesystem::path target_base_dir;  ///< relative oci: push targets resolve against it
  bool no_cache = false;
  bool ignore_published = false;  ///< build even what the push target holds under its build key
  int64_t source_date_epoch = 0;  ///< mtime of layer entries; with `created_fixed`, every image's created time
  bool created_fixed = false;     ///< SOURCE_DATE_EPOCH was set: every image is created then
  int64_t run_time = 0;           ///< the run's time (--timestamp, else now): created time of new content
  std::string os = "linux";       ///< the platform picked from base indexes
  std::string arch = "amd64";
  std::vector<std::string> insecure_registries;  ///< hosts spoken to over plain HTTP
  std::string ca_bundle;                         ///< extra CA certificates for TLS
  int retries = 5;                               ///< attempts per registry request
  bool allow_detached = false;                   ///< commit values onto a detached git HEAD
  std::string docker_config;                     ///< $DOCKER_CONFIG: where registry credentials are
  std::string home;                              ///< $HOME (~/.docker/config.json when no DOCKER_CONFIG)
  bool full = false;                             ///< no deltas: incremental layers built whole
  std::filesystem::path previous_report;         ///< where the last good images are, on a fresh machine
  std::optional<int> max_layers;                 ///< overrides images.yaml's incremental.max_layers
  std::optional<double> max_delta;               ///< overrides images.yaml's incremental.max_delta
};

class CancelSource;
namespace oci {
class HttpTransport;
}

class NativeBuild {
 public:
  /// Checks what can be checked before any work (layer sources, the push target, the values
  /// directory's git HEAD) and opens and locks the store, the target and the values directory.
  /// Problems of the configuration go to `diags` (nullptr returned); problems of the
  /// environment (a store in use, a registry that does not answer) throw Error. With
  /// `transport`, registries are spoken to over it (a test's fake) instead of libcurl.
  static std::unique_ptr<NativeBuild> prepare(const Plan& plan, const BuildSettings& settings,
                                              const CancelSource& cancel, Diagnostics& diags,
                                              oci::HttpTransport* transport = nullptr);
  ~NativeBuild();

  TaskRunner& runner();
  /// The images a run pushed, for report.json.
  [[nodiscard]] BuiltImages built_images() const;
  /// The images a --no-push run left tagged in the store, for report.json.
  [[nodiscard]] BuiltImages unpushed_images() const;
  /// Per image:flavour:kind the run published (or, --no-push, built): `image.name` (every name),
  /// `containerimage.digest`, `containerimage.config.digest`, `platform`, `pushed`, as bake's
  /// metadata gives per target.
  [[nodiscard]] nlohmann::json images_json() const;
  /// The build records of the images a run pushed.
  [[nodiscard]] std::vector<BuildRecord> records() const;
  struct StateSaved {
    bool published = false;       ///< some image was pushed
    bool report_written = false;
    size_t records = 0;
    size_t unpushed = 0;          ///< images listed as built and not pushed
  };
  /// After a run: the build records of the images it pushed, and report.json as the previous
  /// one (when it reads) with those images replaced, through a temp file and a rename. A run
  /// that pushed nothing changes nothing. Problems go to `diags`.
  StateSaved save_state(ReportFormat format, Diagnostics& diags) const;
  /// Why some images have no build key (they were built as usual), for --explain.
  [[nodiscard]] std::vector<std::string> key_problems() const;
  /// The values files a run rendered (written or unchanged), in plan order.
  [[nodiscard]] std::vector<RenderedValues> rendered() const;
  [[nodiscard]] const ValuesDir& values() const;
  /// True when the run writes values into a git work tree (and commits them).
  [[nodiscard]] bool values_are_git() const;

 private:
  NativeBuild() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flavourgraph
