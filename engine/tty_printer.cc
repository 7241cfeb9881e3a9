// The TTY printer: feeds the display's model from the executor's threads under one lock, and
// writes the renderer's frames on events and from a ticker.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "flavourgraph/tty_progress.h"

namespace flavourgraph {

namespace {

void write_fd(int fd, std::string_view s) {
  for (size_t guard = 0; !s.empty() && guard < (1u << 20); ++guard) {
    ssize_t w = ::write(fd, s.data(), s.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // progress output is best effort (a closed terminal must not fail the build)
    }
    s.remove_prefix(static_cast<size_t>(w));
  }
}

TtyOptions with_defaults(int fd, TtyOptions o) {
  if (!o.clock)
    o.clock = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  if (!o.size)
    o.size = [fd] {
      winsize ws{};
      if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 && ws.ws_row > 2)
        return std::pair<size_t, size_t>(ws.ws_col, ws.ws_row);
      return std::pair<size_t, size_t>(100, 30);
    };
  if (!o.write) o.write = [fd](std::string_view s) { write_fd(fd, s); };
  return o;
}

}  // namespace

TtyPrinter::TtyPrinter(int fd, TtyOptions options) : opt_(with_defaults(fd, std::move(options))) {}

TtyPrinter::~TtyPrinter() {
  stop_ticker();
  std::lock_guard lock(mutex_);
  if (started_) close_locked();  // a run that did not finish still leaves a clean terminal
}

void TtyPrinter::run_started(size_t total, unsigned, unsigned) {
  std::lock_guard lock(mutex_);
  model_.run_started(total, opt_.clock());
  started_ = true;
  if (opt_.ticker && !ticker_.joinable()) ticker_ = std::thread([this] { tick(); });
}

void TtyPrinter::task_started(const TaskEvent& e) {
  std::lock_guard lock(mutex_);
  double now = opt_.clock();
  model_.task_started(e.index, e.name.empty() ? e.id : e.name, now);
  draw_locked(now);
}

void TtyPrinter::task_finished(const TaskEvent& e) {
  std::lock_guard lock(mutex_);
  TaskEvent named = e;
  if (named.name.empty()) named.name = e.id;
  model_.task_finished(named);
  draw_locked(opt_.clock());
}

void TtyPrinter::task_progress(uint32_t index, uint64_t done, uint64_t total) {
  std::lock_guard lock(mutex_);
  double now = opt_.clock();
  model_.task_progress(index, done, total, now);
  if (now - last_draw_ >= kProgressRedraw) draw_locked(now);
}

void TtyPrinter::message(Level level, std::string_view text) {
  std::lock_guard lock(mutex_);
  model_.message(level, text);
  draw_locked(opt_.clock());
}

void TtyPrinter::run_finished(double) {
  stop_ticker();
  std::lock_guard lock(mutex_);
  close_locked();
}

void TtyPrinter::redraw() {
  std::lock_guard lock(mutex_);
  draw_locked(opt_.clock());
}

void TtyPrinter::draw_locked(double now) {
  if (!started_) return;
  auto [cols, rows] = opt_.size();
  std::string out = renderer_.frame(model_, now, cols, rows);
  last_draw_ = now;
  if (!out.empty()) opt_.write(out);
}

void TtyPrinter::close_locked() {
  auto [cols, rows] = opt_.size();
  std::string out = renderer_.close(model_, opt_.clock(), cols, rows);
  if (!out.empty()) opt_.write(out);
}

void TtyPrinter::tick() {
  std::unique_lock lock(mutex_);
  auto period = std::chrono::duration<double>(opt_.tick_seconds);
  // Bounded by the run: the loop ends when run_finished (or the destructor) sets stopping_.
  while (!stopping_) {
    tick_cv_.wait_for(lock, period);
    if (!stopping_) draw_locked(opt_.clock());
  }
}

void TtyPrinter::stop_ticker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  tick_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

}  // namespace flavourgraph
