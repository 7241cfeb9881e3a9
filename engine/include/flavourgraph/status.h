#pragma once
/// Engine events (design.md §1.3). The executor reports; a TTY printer, a plain printer, a JSON
/// lines printer and test recorders are implementations. Methods may be called concurrently
/// from several threads: implementations synchronise themselves.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace flavourgraph {

enum class TaskState : uint8_t { pending, running, done, cached, failed, skipped, cancelled };
std::string_view state_name(TaskState s);

/// Which pool runs a task: CPU work in the TBB arena (-j), transfers on I/O threads
/// (--push-jobs) so that no TBB worker blocks on the network.
enum class Pool : uint8_t { cpu, io };
std::string_view pool_name(Pool p);

struct TaskEvent {
  uint32_t index = 0;
  std::string_view id;   ///< stable, for machines: `layer:e0a26ea119d86039`
  std::string_view name; ///< for people: `layer app` (the id when the task has no name)
  std::string_view kind;
  Pool pool = Pool::cpu;
  TaskState state = TaskState::pending;
  double time = 0;       ///< seconds since the run started
  double elapsed = 0;    ///< for finished tasks that ran: end - start
  int lane = -1;         ///< worker lane (trace row)
  std::string_view error;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

enum class Level { debug, info, warning, error };
std::string_view level_name(Level l);

class Status {
 public:
  virtual ~Status() = default;
  virtual void run_started(size_t /*total*/, unsigned /*cpu_width*/, unsigned /*io_width*/) {}
  virtual void task_started(const TaskEvent&) {}
  /// Every task ends with exactly one task_finished (done, cached, failed, skipped, cancelled).
  virtual void task_finished(const TaskEvent&) {}
  /// A running task moved bytes: `done` of `total` (0: not known), between its start and its
  /// finish. Throttled by the task's context (see TaskContext::progress).
  virtual void task_progress(uint32_t /*index*/, uint64_t /*done*/, uint64_t /*total*/) {}
  virtual void message(Level, std::string_view) {}
  virtual void run_finished(double /*wall*/) {}
};

/// Forwards every event to several Status objects.
class MultiStatus final : public Status {
 public:
  void add(Status* s) { targets_.push_back(s); }
  void run_started(size_t total, unsigned cpu, unsigned io) override {
    for (auto* t : targets_) t->run_started(total, cpu, io);
  }
  void task_started(const TaskEvent& e) override {
    for (auto* t : targets_) t->task_started(e);
  }
  void task_finished(const TaskEvent& e) override {
    for (auto* t : targets_) t->task_finished(e);
  }
  void task_progress(uint32_t index, uint64_t done, uint64_t total) override {
    for (auto* t : targets_) t->task_progress(index, done, total);
  }
  void message(Level l, std::string_view m) override {
    for (auto* t : targets_) t->message(l, m);
  }
  void run_finished(double wall) override {
    for (auto* t : targets_) t->run_finished(wall);
  }

 private:
  std::vector<Status*> targets_;
};

enum class ProgressMode { automatic, tty, plain, json, quiet };

/// The printer for --progress, writing to `fd` (stderr normally). `automatic` picks tty on a
/// terminal, plain otherwise.
std::unique_ptr<Status> make_progress_printer(ProgressMode mode, int fd);

}  // namespace flavourgraph
