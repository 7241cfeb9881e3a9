#pragma once
/// The TTY progress display (--progress tty), like BuildKit's: a live line per running task
/// (its name, bytes done, rate, ETA, elapsed time) under the history of finished tasks, which
/// scrolls above it for good (`DONE 0.42s layer app`, `CACHED ...`, `FAILED ...: error`), and a
/// status line `[done/total] N running, elapsed` at the bottom.
///
/// Three parts: TtyModel holds what is known (fed events with the time, no clock, no I/O);
/// TtyRenderer turns it into the bytes that redraw the screen for a given size (pure too, so
/// that tests replay its output into a screen emulator); TtyPrinter is the Status that feeds
/// the model from the executor's threads, and redraws on events and from a ticker.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "flavourgraph/status.h"

namespace flavourgraph {

/// `1.5 KiB`, `12.3 MiB`, `1.02 GiB`.
std::string human_bytes(uint64_t n);
/// `3s`, `1m05s`, `2h03m`.
std::string human_duration(double seconds);
/// The columns `s` takes on a terminal: escape sequences take none, a UTF-8 code point one.
size_t display_width(std::string_view s);
/// `s` cut to at most `cols` columns; escape sequences are kept, and colours reset when cut.
std::string fit_width(std::string_view s, size_t cols);

/// A running task as the live area shows it.
struct LiveTask {
  std::string name;
  double started = 0;  ///< seconds (the model's clock)
  bool has_progress = false;
  uint64_t done = 0;
  uint64_t total = 0;  ///< 0: not known
  /// (time, done) over the last kRateWindow seconds and the one before them: the rate's base.
  std::deque<std::pair<double, uint64_t>> samples;

  void progress(double now, uint64_t done_bytes, uint64_t total_bytes);
  /// Bytes per second over the recent window; 0 until known.
  [[nodiscard]] double rate(double now) const;
  static constexpr double kRateWindow = 5.0;
  static constexpr size_t kMaxSamples = 64;
};

/// What the display knows.
class TtyModel {
 public:
  void run_started(size_t total, double now);
  void task_started(uint32_t index, std::string_view name, double now);
  void task_progress(uint32_t index, uint64_t done, uint64_t total, double now);
  /// Ends the task's live line and adds its history line.
  void task_finished(const TaskEvent& e);
  void message(Level level, std::string_view text);

  /// History lines not drawn yet (taken by the renderer).
  std::vector<std::string> take_history() { return std::exchange(history_, {}); }
  /// Running tasks, the longest running first.
  [[nodiscard]] std::vector<const LiveTask*> running() const;
  [[nodiscard]] size_t finished() const { return finished_; }
  [[nodiscard]] size_t total() const { return total_; }
  [[nodiscard]] double run_start() const { return start_; }

 private:
  size_t total_ = 0;
  size_t finished_ = 0;
  double start_ = 0;
  std::map<uint32_t, LiveTask> running_;
  std::vector<std::string> history_;
};

/// The history line of a finished task (with colours): `DONE 0.42s layer app  1.2 MiB out`.
std::string history_line(const TaskEvent& e);
/// A running task's live line, at most `cols` columns: `=> layer app  1.0 MiB / 4.0 MiB ...  1.5s`.
std::string live_line(const LiveTask& t, double now, size_t cols);

/// Turns the model into terminal output. Between frames the cursor stays at the end of the
/// status line; each frame goes back up over the live lines it drew, erases them, prints the
/// new history lines for good, and draws the live lines and the status line again.
class TtyRenderer {
 public:
  /// A frame for a screen of `cols` x `rows`.
  std::string frame(TtyModel& model, double now, size_t cols, size_t rows);
  /// The last frame: the history, the status line and a newline, no live line left.
  std::string close(TtyModel& model, double now, size_t cols, size_t rows);
  [[nodiscard]] bool closed() const { return closed_; }

 private:
  std::string draw(TtyModel& model, double now, size_t cols, size_t rows, bool live);
  size_t drawn_ = 0;  ///< live lines above the status line on the screen
  bool closed_ = false;
};

struct TtyOptions {
  std::function<double()> clock;                              ///< seconds; default: a steady clock
  std::function<std::pair<size_t, size_t>()> size;            ///< columns, rows; default: the fd's terminal, else 100x30
  std::function<void(std::string_view)> write;                ///< default: write(2) to the fd
  bool ticker = true;                                         ///< redraw every tick_seconds from a thread
  double tick_seconds = 0.25;
};

/// The Status for a terminal. Methods may be called from several threads at once.
class TtyPrinter final : public Status {
 public:
  TtyPrinter(int fd, TtyOptions options = {});
  ~TtyPrinter() override;
  TtyPrinter(const TtyPrinter&) = delete;
  TtyPrinter& operator=(const TtyPrinter&) = delete;

  void run_started(size_t total, unsigned cpu_width, unsigned io_width) override;
  void task_started(const TaskEvent& e) override;
  void task_finished(const TaskEvent& e) override;
  void task_progress(uint32_t index, uint64_t done, uint64_t total) override;
  void message(Level level, std::string_view text) override;
  void run_finished(double wall) override;
  /// Draws the current state (the ticker calls it).
  void redraw();

  /// Progress alone redraws at most this often (the ticker redraws anyway).
  static constexpr double kProgressRedraw = 0.1;

 private:
  void draw_locked(double now);
  void close_locked();
  void tick();
  void stop_ticker();

  TtyOptions opt_;
  std::mutex mutex_;
  std::condition_variable tick_cv_;
  std::thread ticker_;
  bool stopping_ = false;
  bool started_ = false;
  double last_draw_ = -1;
  TtyModel model_;
  TtyRenderer renderer_;
};

}  // namespace flavourgraph
