#pragma once
/// The command backend's engines: buildah on this machine, podman's API service and BuildKit
/// daemons elsewhere, each driven through its own client (no protocol of ours). An image goes
/// to an engine and comes back as an oci-archive (docs/run-builds.md).

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "flavourgraph/cancel.h"
#include "flavourgraph/config.h"

namespace flavourgraph {

/// One RUN build, as an engine is asked for it.
struct EngineJob {
  std::filesystem::path containerfile;
  std::filesystem::path context;
  std::optional<std::string> target;
  StringPairs args;
  /// The base: an OCI layout directory (buildah, BuildKit) and an oci-archive of it (podman),
  /// both naming it `base_name`, which is unique to the base's digest.
  std::filesystem::path base_layout;
  std::filesystem::path base_archive;
  std::function<void()> write_base_archive;  ///< writes `base_archive`, for a driver that wants it
  std::string base_name;
  std::string base_digest;
  int64_t timestamp = 0;              ///< the created time and file times of what RUN writes
  std::string tag;                    ///< what the engine names the result while it has it
  std::filesystem::path out_archive;  ///< where the result goes, as an oci-archive
};

class EngineDriver {
 public:
  virtual ~EngineDriver() = default;
  /// What keeps the engine from building ("" when nothing): a missing client, an engine that
  /// does not answer.
  [[nodiscard]] virtual std::string check() const = 0;
  /// Builds `job` into `job.out_archive`. Throws Error with the last lines of the engine's
  /// output when it fails; oci::Cancelled when `cancel` stopped it.
  virtual void build(const EngineJob& job, const CancelSource& cancel) const = 0;
  /// The commands `build` runs (for messages and tests).
  [[nodiscard]] virtual std::vector<std::vector<std::string>> commands(const EngineJob& job) const = 0;
};

/// A driver for `spec`. buildah keeps its storage in `spec.address`, else under `state_dir`.
std::unique_ptr<EngineDriver> make_engine_driver(const EngineSpec& spec, const std::filesystem::path& state_dir);

/// The image name a Containerfile's first FROM names ("" when there is none): BuildKit
/// replaces a base by that name.
std::string first_from(std::string_view containerfile);

/// The engines of a plan, each with as many slots as its width.
class EngineSet {
 public:
  EngineSet(const std::vector<EngineSpec>& specs, const std::filesystem::path& state_dir);
  [[nodiscard]] const EngineDriver& driver(size_t engine) const { return *drivers_[engine]; }

  /// Holds one of an engine's slots while alive.
  class Slot {
   public:
    Slot(EngineSet& set, size_t engine) : set_(set), engine_(engine) {}
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    EngineSet& set_;
    size_t engine_;
  };
  /// Waits for a free slot of `engine`; nullopt when cancelled first.
  std::unique_ptr<Slot> acquire(size_t engine, const CancelSource& cancel);

 private:
  std::vector<std::unique_ptr<EngineDriver>> drivers_;
  std::vector<unsigned> free_;
  std::mutex mutex_;
  std::condition_variable cv_;
};

}  // namespace flavourgraph
