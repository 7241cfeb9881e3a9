// Progress printers: plain (one line per event, for CI logs), json (one object per event), both
// writing whole lines with write(2) under a lock; tty (live lines) is in tty_printer.cc.
#include <fmt/format.h>
#include <unistd.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "flavourgraph/status.h"
#include "flavourgraph/tty_progress.h"

namespace flavourgraph {

std::string_view level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warning: return "warning";
    case Level::error: return "error";
  }
  return "";
}

namespace {

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t w = ::write(fd, s.data(), s.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // progress output is best effort (a closed pipe must not fail the build)
    }
    s.remove_prefix(static_cast<size_t>(w));
  }
}

/// The text after a task's id when it ends: its state, time and any error.
std::string outcome_text(const TaskEvent& e) {
  std::string s;
  switch (e.state) {
    case TaskState::done:
    case TaskState::cached: s = fmt::format("{:.2f}s", e.elapsed); break;
    default: break;
  }
  if (e.bytes_out) s += (s.empty() ? "" : ", ") + human_bytes(e.bytes_out) + " out";
  if (!e.error.empty()) s += (s.empty() ? "" : ": ") + std::string(e.error);
  return s;
}

/// A task's id, and its name after it where the name says more than the id does (a layer's:
/// `layer:e0a26ea119d86039 (layer app)`; a build's name is its id's words).
std::string id_and_name(const TaskEvent& e) {
  auto after = [](std::string_view s, char c) {
    size_t at = s.find(c);
    return at == std::string_view::npos ? s : s.substr(at + 1);
  };
  if (e.name.empty() || e.name == e.id || after(e.name, ' ') == after(e.id, ':')) return std::string(e.id);
  return fmt::format("{} ({})", e.id, e.name);
}

class PlainPrinter final : public Status {
 public:
  explicit PlainPrinter(int fd) : fd_(fd) {}
  void run_started(size_t total, unsigned cpu, unsigned io) override {
    line(fmt::format("{} tasks (-j {}, --push-jobs {})\n", total, cpu, io));
  }
  void task_started(const TaskEvent& e) override {
    std::string task = id_and_name(e);
    timed(e.time, [&](double t) { return fmt::format("[{:9.3f}s] start     {}\n", t, task); });
  }
  void task_finished(const TaskEvent& e) override {
    std::string outcome = outcome_text(e);
    std::string task = id_and_name(e);
    timed(e.time, [&](double t) {
      return fmt::format("[{:9.3f}s] {:<9} {}{}{}\n", t, state_name(e.state), task, outcome.empty() ? "" : " ", outcome);
    });
  }
  void message(Level l, std::string_view m) override {
    line(fmt::format("{}: {}\n", level_name(l), m));
  }

 private:
  void line(const std::string& s) {
    std::lock_guard lock(mutex_);
    write_all(fd_, s);
  }
  /// Events from several threads reach the printer in an order their times need not follow:
  /// a line shows the later of its event's time and the last line's, so that a log reads in
  /// order.
  template <class F>
  void timed(double time, F&& text) {
    std::lock_guard lock(mutex_);
    last_ = std::max(last_, time);
    write_all(fd_, text(last_));
  }
  int fd_;
  std::mutex mutex_;
  double last_ = 0;
};

class JsonPrinter final : public Status {
 public:
  explicit JsonPrinter(int fd) : fd_(fd) {}
  void run_started(size_t total, unsigned cpu, unsigned io) override {
    emit({{"event", "run_start"}, {"tasks", total}, {"jobs", cpu}, {"push_jobs", io}});
  }
  void task_started(const TaskEvent& e) override {
    emit({{"event", "start"},
          {"id", e.id},
          {"name", e.name},
          {"kind", e.kind},
          {"pool", pool_name(e.pool)},
          {"time", e.time},
          {"lane", e.lane}});
  }
  void task_finished(const TaskEvent& e) override {
    nlohmann::json j = {{"event", "finish"},      {"id", e.id},
                        {"name", e.name},         {"kind", e.kind},
                        {"state", state_name(e.state)}, {"time", e.time},
                        {"elapsed", e.elapsed},   {"bytes_in", e.bytes_in},
                        {"bytes_out", e.bytes_out}};
    if (!e.error.empty()) j["error"] = e.error;
    emit(j);
  }
  void message(Level l, std::string_view m) override {
    emit({{"event", "message"}, {"level", level_name(l)}, {"text", m}});
  }
  void run_finished(double wall) override { emit({{"event", "run_end"}, {"wall", wall}}); }

 private:
  void emit(const nlohmann::json& j) {
    std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::lock_guard lock(mutex_);
    write_all(fd_, s);
  }
  int fd_;
  std::mutex mutex_;
};

class QuietPrinter final : public Status {};

}  // namespace

std::unique_ptr<Status> make_progress_printer(ProgressMode mode, int fd) {
  if (mode == ProgressMode::automatic) mode = ::isatty(fd) ? ProgressMode::tty : ProgressMode::plain;
  switch (mode) {
    case ProgressMode::tty: return std::make_unique<TtyPrinter>(fd);
    case ProgressMode::json: return std::make_unique<JsonPrinter>(fd);
    case ProgressMode::quiet: return std::make_unique<QuietPrinter>();
    default: return std::make_unique<PlainPrinter>(fd);
  }
}

}  // namespace flavourgraph
