// The TTY display's model and renderer: no clock, no terminal, so that tests can drive them
// with a made-up time and read the bytes back through a screen emulator.
#include "flavourgraph/tty_progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace flavourgraph {

namespace {

constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kBlue = "\x1b[34m";
constexpr std::string_view kCyan = "\x1b[36m";
constexpr std::string_view kYellow = "\x1b[33m";
constexpr std::string_view kBoldRed = "\x1b[1;31m";

/// The length of the escape sequence at the start of `s` (an ESC), or 0 when there is none.
size_t escape_length(std::string_view s) {
  if (s.size() < 2 || s[0] != '\x1b') return 0;
  if (s[1] != '[') return 2;
  for (size_t i = 2; i < s.size(); ++i)
    if (s[i] >= 0x40 && s[i] <= 0x7e) return i + 1;  // the final byte of a CSI sequence
  return s.size();
}

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

std::string coloured(std::string_view colour, std::string_view text) {
  return fmt::format("{}{}{}", colour, text, kReset);
}

/// The figures of a live line after the name, from the least to the most important: rate,
/// ETA, bytes (each "" when not known); the elapsed time always comes last.
struct Figures {
  std::string rate, eta, bytes, time;

  [[nodiscard]] std::string join(size_t leave_out) const {  // without the first `leave_out`
    std::string out;
    const std::string* order[] = {&bytes, &rate, &eta};  // as shown
    const std::string* dropped[] = {&rate, &eta, &bytes};
    for (const std::string* part : order) {
      bool gone = std::find(dropped, dropped + leave_out, part) != dropped + leave_out;
      if (!gone && !part->empty()) out += *part + "  ";
    }
    return out + time;
  }
};

Figures live_figures(const LiveTask& t, double now) {
  Figures f;
  f.time = fmt::format("{:.1f}s", std::max(0.0, now - t.started));
  if (!t.has_progress) return f;
  f.bytes = human_bytes(t.done) + (t.total ? " / " + human_bytes(t.total) : "");
  double rate = t.rate(now);
  if (rate > 0) f.rate = human_bytes(static_cast<uint64_t>(rate)) + "/s";
  if (rate > 0 && t.total > t.done) f.eta = "ETA " + human_duration(static_cast<double>(t.total - t.done) / rate);
  return f;
}

}  // namespace

std::string human_bytes(uint64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  if (n < (1u << 20)) return fmt::format("{:.1f} KiB", static_cast<double>(n) / 1024);
  if (n < (1u << 30)) return fmt::format("{:.1f} MiB", static_cast<double>(n) / (1 << 20));
  return fmt::format("{:.2f} GiB", static_cast<double>(n) / (1 << 30));
}

std::string human_duration(double seconds) {
  auto s = static_cast<uint64_t>(std::ceil(std::max(0.0, std::min(seconds, 359999.0))));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
}

size_t display_width(std::string_view s) {
  size_t cols = 0;
  for (size_t i = 0; i < s.size();) {
    if (size_t esc = escape_length(s.substr(i))) {
      i += esc;
      continue;
    }
    if (!continuation(s[i])) ++cols;
    ++i;
  }
  return cols;
}

std::string fit_width(std::string_view s, size_t cols) {
  std::string out;
  size_t used = 0;
  bool styled = false;
  for (size_t i = 0; i < s.size();) {
    if (size_t esc = escape_length(s.substr(i))) {
      out += s.substr(i, esc);
      styled = true;
      i += esc;
      continue;
    }
    if (!continuation(s[i])) {
      if (used == cols) return styled ? out + std::string(kReset) : out;
      ++used;
    }
    out += s[i++];
  }
  return out;
}

void LiveTask::progress(double now, uint64_t done_bytes, uint64_t total_bytes) {
  if (!has_progress || done_bytes < done) samples = {{has_progress ? now : started, has_progress ? done_bytes : 0}};
  has_progress = true;
  done = done_bytes;
  total = total_bytes;
  samples.emplace_back(now, done_bytes);
  // Keep one sample at or before the window's start, as the base of the rate.
  while (samples.size() > kMaxSamples || (samples.size() > 2 && samples[1].first <= now - kRateWindow))
    samples.pop_front();
}

double LiveTask::rate(double now) const {
  if (samples.empty()) return 0;
  double span = now - samples.front().first;
  if (span < 0.25 || done <= samples.front().second) return 0;  // too soon to tell
  return static_cast<double>(done - samples.front().second) / span;
}

void TtyModel::run_started(size_t total, double now) {
  total_ = total;
  start_ = now;
}

void TtyModel::task_started(uint32_t index, std::string_view name, double now) {
  LiveTask& t = running_[index];
  t = LiveTask{};
  t.name = std::string(name);
  t.started = now;
}

void TtyModel::task_progress(uint32_t index, uint64_t done, uint64_t total, double now) {
  auto it = running_.find(index);
  if (it != running_.end()) it->second.progress(now, done, total);
}

void TtyModel::task_finished(const TaskEvent& e) {
  running_.erase(e.index);
  ++finished_;
  history_.push_back(history_line(e));
}

void TtyModel::message(Level level, std::string_view text) {
  size_t start = 0;
  for (size_t guard = 0; guard <= text.size(); ++guard) {  // a line each
    size_t end = text.find('\n', start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? text.size() - start : end - start);
    history_.push_back(fmt::format("{}{}: {}", level >= Level::warning ? kYellow : "", level_name(level), line) +
                       (level >= Level::warning ? std::string(kReset) : ""));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
}

std::vector<const LiveTask*> TtyModel::running() const {
  std::vector<const LiveTask*> out;
  for (const auto& entry : running_) out.push_back(&entry.second);
  std::stable_sort(out.begin(), out.end(), [](const LiveTask* a, const LiveTask* b) { return a->started < b->started; });
  return out;
}

std::string history_line(const TaskEvent& e) {
  std::string out;
  switch (e.state) {
    case TaskState::done:
      out = fmt::format("{} {:.2f}s {}", coloured(kBlue, "DONE"), e.elapsed, e.name);
      if (e.bytes_out) out += "  " + human_bytes(e.bytes_out) + " out";
      break;
    case TaskState::cached: out = fmt::format("{} {}", coloured(kCyan, "CACHED"), e.name); break;
    case TaskState::failed: out = coloured(kBoldRed, fmt::format("FAILED {:.2f}s {}", e.elapsed, e.name)); break;
    case TaskState::skipped: out = fmt::format("{} {}", coloured(kYellow, "SKIPPED"), e.name); break;
    case TaskState::cancelled: out = fmt::format("{} {}", coloured(kYellow, "CANCELLED"), e.name); break;
    default: out = fmt::format("{} {}", state_name(e.state), e.name); break;
  }
  if (!e.error.empty() && e.state != TaskState::cancelled) out += ": " + std::string(e.error);
  return out;
}

std::string live_line(const LiveTask& t, double now, size_t cols) {
  std::string left = "=> " + t.name;
  Figures figures = live_figures(t, now);
  // The figures give way (the rate, then the ETA, then the bytes) until the name has room for
  // kNameRoom columns, then the name is cut (ending in "..").
  constexpr size_t kNameRoom = 20;
  std::string right;
  for (size_t leave_out = 0; leave_out <= 3; ++leave_out) {
    right = figures.join(leave_out);
    if (display_width(right) + 2 + std::min(display_width(left), kNameRoom) <= cols) break;
  }
  size_t need = display_width(left) + 2 + display_width(right);
  if (need <= cols) return left + std::string(cols - need + 2, ' ') + right;
  size_t room = cols > display_width(right) + 2 ? cols - display_width(right) - 2 : 0;
  if (room >= 6) return fit_width(left, room - 2) + ".." + "  " + right;
  return fit_width(left + "  " + right, cols);
}

std::string TtyRenderer::frame(TtyModel& model, double now, size_t cols, size_t rows) {
  return closed_ ? std::string() : draw(model, now, cols, rows, true);
}

std::string TtyRenderer::close(TtyModel& model, double now, size_t cols, size_t rows) {
  if (closed_) return {};
  std::string out = draw(model, now, cols, rows, false) + "\n";
  closed_ = true;
  return out;
}

std::string TtyRenderer::draw(TtyModel& model, double now, size_t cols, size_t rows, bool live) {
  // A line as wide as the screen would leave the cursor in the last column, where terminals
  // differ: every line keeps one column free.
  size_t width = cols > 1 ? cols - 1 : 1;
  std::string out = "\r";
  if (drawn_ > 0) out += fmt::format("\x1b[{}A", drawn_);
  out += "\x1b[J";
  for (const auto& h : model.take_history()) out += fit_width(h, width) + "\n";
  std::vector<const LiveTask*> running = model.running();
  // The live lines and the status line fit on the screen with a line to spare: the cursor must
  // be able to go back up over all of them.
  size_t room = live && rows > 2 ? rows - 2 : 0;
  size_t shown = std::min(running.size(), room);
  for (size_t i = 0; i < shown; ++i) out += fit_width(live_line(*running[i], now, width), width) + "\n";
  drawn_ = shown;
  std::string status = fmt::format("[{}/{}] {} running, {:.1f}s", model.finished(), model.total(), running.size(),
                                   std::max(0.0, now - model.run_start()));
  if (live && running.size() > shown) status += fmt::format(" ({} not shown)", running.size() - shown);
  return out + fit_width(status, width);
}

}  // namespace flavourgraph
