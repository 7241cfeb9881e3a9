#pragma once
/// Runs a DAG of tasks on a oneTBB flow graph (design.md §1.3).
///
/// One flow-graph node per task, one edge per dependency. CPU tasks run in a task_arena of
/// width `jobs`; I/O tasks go through an async_node to a pool of `io_jobs` threads, so no TBB
/// worker blocks on a transfer. The executor knows no formats or registries: a TaskRunner does
/// the work, and the executor decides what runs (failure policy, skips, cancellation) and
/// reports events to a Status.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "flavourgraph/cancel.h"
#include "flavourgraph/status.h"

namespace flavourgraph {

struct ExecTask {
  std::string id;
  std::string kind;
  Pool pool = Pool::cpu;
  std::vector<uint32_t> deps;  ///< indices of earlier or later tasks; the graph must be acyclic
  double weight = 1;           ///< estimated cost, for critical-path-first priorities
  std::vector<uint32_t> after;  ///< ordering only: their failure does not skip this task
  std::string name;  ///< for people (progress lines); empty: the id
};

struct ExecGraph {
  std::vector<ExecTask> tasks;
};

/// What a running task can see and report.
class TaskContext {
 public:
  explicit TaskContext(const CancelSource& cancel) : cancel_(cancel) {}
  /// Reporting progress to `status` as task `index` (the executor's).
  TaskContext(const CancelSource& cancel, Status* status, uint32_t index)
      : cancel_(cancel), status_(status), index_(index) {}
  [[nodiscard]] const CancelSource& cancel() const { return cancel_; }
  [[nodiscard]] bool cancelled() const { return cancel_.requested(); }
  void add_bytes_in(uint64_t n) { bytes_in_.fetch_add(n, std::memory_order_relaxed); }
  void add_bytes_out(uint64_t n) { bytes_out_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] uint64_t bytes_in() const { return bytes_in_.load(); }
  [[nodiscard]] uint64_t bytes_out() const { return bytes_out_.load(); }
  /// Something the user should know that does not fail the task (e.g. a file left out). The
  /// executor prints it, naming the task, and keeps it in the task's record.
  void warn(std::string message) {
    std::lock_guard lock(warnings_mutex_);
    warnings_.push_back(std::move(message));
  }
  [[nodiscard]] std::vector<std::string> take_warnings() {
    std::lock_guard lock(warnings_mutex_);
    return std::move(warnings_);
  }
  /// How far the task is: `done` bytes of `total` (0: not known). A task may start over with a
  /// new total (another blob). Calls may come often and from several threads: the status hears
  /// of one when the total changes, `done` went back, reached the total, or moved on by at least
  /// kProgressStep since the last one it heard of.
  void progress(uint64_t done, uint64_t total);
  static constexpr uint64_t kProgressStep = 256u << 10;

 private:
  const CancelSource& cancel_;
  std::atomic<uint64_t> bytes_in_{0};
  std::atomic<uint64_t> bytes_out_{0};
  std::mutex warnings_mutex_;
  std::vector<std::string> warnings_;
  Status* status_ = nullptr;
  uint32_t index_ = 0;
  std::mutex progress_mutex_;
  bool reported_ = false;
  uint64_t last_done_ = 0, last_total_ = 0;
};

struct TaskOutcome {
  TaskState state = TaskState::done;  ///< done, cached, failed or cancelled
  std::string error;                  ///< for failed
  std::string output;                 ///< e.g. a digest or a ref, for the metadata
  std::string reason;                 ///< why it did (or did not) work: `--explain`, metadata

  static TaskOutcome fail(std::string e) { return {TaskState::failed, std::move(e), {}}; }
};

class TaskRunner {
 public:
  virtual ~TaskRunner() = default;
  /// Runs task `index`. May throw: the executor records the exception as a failure.
  virtual TaskOutcome run(uint32_t index, TaskContext& ctx) = 0;
};

struct ExecOptions {
  unsigned jobs = 0;     ///< CPU pool width; 0 = the machine's cores
  unsigned io_jobs = 4;  ///< I/O pool width
  bool keep_going = false;
  bool prioritize = true;  ///< critical-path-first order among ready tasks
};

struct TaskRecord {
  TaskState state = TaskState::pending;
  double start = -1;  ///< seconds since the run started; -1 when the task never ran
  double end = -1;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  int lane = -1;
  std::string error;
  std::string output;
  std::string reason;
  std::vector<std::string> warnings;
};

struct RunResult {
  std::vector<TaskRecord> records;
  double wall = 0;
  unsigned cpu_width = 0;
  unsigned io_width = 0;
  bool interrupted = false;  ///< cancellation was requested

  [[nodiscard]] size_t count(TaskState s) const;
  [[nodiscard]] bool all_succeeded() const;  ///< every task done or cached
};

/// Runs the graph. Returns when every task has ended: done, cached, failed, skipped (a
/// dependency failed or was skipped) or cancelled (not started after a failure in fail-fast
/// mode, or after `cancel` was requested).
RunResult execute(const ExecGraph& graph, TaskRunner& runner, Status& status,
                  const ExecOptions& options, const CancelSource& cancel);

/// Lower bound on the makespan of `graph` with task durations `durations`:
/// max(critical path, total work of each pool / its width).
double makespan_lower_bound(const ExecGraph& graph, const std::vector<double>& durations,
                            unsigned cpu_width, unsigned io_width);

}  // namespace flavourgraph
