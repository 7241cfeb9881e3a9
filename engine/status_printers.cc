// Progress printers: tty (live lines), plain (one line per event, for CI logs), json (one
// object per event). All write whole lines with write(2) under a lock.
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "flavourgraph/status.h"

namespace flavourgraph {
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

std::string_view level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warning: return "warning";
    case Level::error: return "error";
  }
  return "";
}

std::string human_bytes(uint64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  if (n < (1u << 20)) return fmt::format("{:.1f} KiB", static_cast<double>(n) / 1024);
  if (n < (1u << 30)) return fmt::format("{:.1f} MiB", static_cast<double>(n) / (1 << 20));
  return fmt::format("{:.2f} GiB", static_cast<double>(n) / (1 << 30));
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

/// Live lines for running tasks with their elapsed time and a `[done/total] N running` line,
/// redrawn on every event and every 250 ms. Failures and messages scroll above them.
class TtyPrinter final : public Status {
 public:
  explicit TtyPrinter(int fd) : fd_(fd) {}
  ~TtyPrinter() override { stop_ticker(); }

  void run_started(size_t total, unsigned, unsigned) override {
    std::lock_guard lock(mutex_);
    total_ = total;
    start_ = Clock::now();
    ticker_ = std::thread([this] { tick(); });
  }
  void task_started(const TaskEvent& e) override {
    std::lock_guard lock(mutex_);
    running_[e.index] = {std::string(e.id), Clock::now()};
    redraw("");
  }
  void task_finished(const TaskEvent& e) override {
    std::lock_guard lock(mutex_);
    running_.erase(e.index);
    ++finished_;
    std::string above;
    if (e.state == TaskState::failed)
      above = fmt::format("\x1b[1;31mFAILED\x1b[0m {}: {}\n", e.id, e.error);
    redraw(above);
  }
  void message(Level l, std::string_view m) override {
    std::lock_guard lock(mutex_);
    redraw(fmt::format("{}: {}\n", level_name(l), m));
  }
  void run_finished(double) override {
    stop_ticker();
    std::lock_guard lock(mutex_);
    running_.clear();
    redraw("");
    write_all(fd_, "\n");
    drawn_ = 0;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Running {
    std::string id;
    Clock::time_point since;
  };

  void tick() {
    std::unique_lock lock(mutex_);
    // Bounded by the run: the loop ends when run_finished (or the destructor) sets done_.
    while (!done_) {
      tick_cv_.wait_for(lock, std::chrono::milliseconds(250));
      if (!done_) redraw("");
    }
  }

  void stop_ticker() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    tick_cv_.notify_all();
    if (ticker_.joinable()) ticker_.join();
  }

  [[nodiscard]] size_t width() const {
    winsize ws{};
    if (::ioctl(fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col;
    return 100;
  }

  /// Erases the live lines, prints `above` for good, then draws the live lines again.
  void redraw(const std::string& above) {
    std::string out;
    if (drawn_ > 0) out += fmt::format("\x1b[{}A", drawn_);
    out += "\r\x1b[J";
    out += above;
    size_t cols = width();
    auto now = Clock::now();
    std::vector<std::pair<double, std::string>> rows;
    for (const auto& [_, r] : running_)
      rows.emplace_back(std::chrono::duration<double>(now - r.since).count(), r.id);
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    size_t shown = std::min<size_t>(rows.size(), kMaxRows);
    drawn_ = 0;
    for (size_t i = 0; i < shown; ++i) {
      std::string row = fmt::format("  {:6.1f}s {}", rows[i].first, rows[i].second);
      if (row.size() > cols - 1) row.resize(cols - 1);
      out += row + "\n";
      ++drawn_;
    }
    double elapsed = std::chrono::duration<double>(now - start_).count();
    std::string status = fmt::format("[{}/{}] {} running, {:.1f}s", finished_, total_, running_.size(), elapsed);
    if (rows.size() > shown) status += fmt::format(" ({} not shown)", rows.size() - shown);
    if (status.size() > cols - 1) status.resize(cols - 1);
    out += status;
    write_all(fd_, out);
  }

  static constexpr size_t kMaxRows = 10;
  int fd_;
  std::mutex mutex_;
  std::condition_variable tick_cv_;
  std::thread ticker_;
  bool done_ = false;
  size_t total_ = 0;
  size_t finished_ = 0;
  size_t drawn_ = 0;
  Clock::time_point start_ = Clock::now();
  std::map<uint32_t, Running> running_;
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
