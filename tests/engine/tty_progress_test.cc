// The TTY display: a recorded sequence of events with a made-up clock, the printer's bytes
// replayed into a screen emulator, and what the screen shows checked line by line.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "flavourgraph/tty_progress.h"
#include "screen.h"

using namespace flavourgraph;

namespace {

constexpr uint64_t kMiB = 1u << 20;

/// A printer on a fixed-size screen, its clock and its output in the test's hands.
struct Rig {
  double now = 1000;
  std::string out;
  size_t cols, rows;
  TtyPrinter printer;

  Rig(size_t c, size_t r) : cols(c), rows(r), printer(-1, options()) {}

  TtyOptions options() {
    TtyOptions o;
    o.clock = [this] { return now; };
    o.size = [this] { return std::pair<size_t, size_t>(cols, rows); };
    o.write = [this](std::string_view s) { out += s; };
    o.ticker = false;
    return o;
  }
  /// The screen after everything written so far.
  [[nodiscard]] fgtest::Screen screen() const {
    fgtest::Screen s(cols, rows);
    s.feed(out);
    return s;
  }
  void start(uint32_t i, std::string_view id, std::string_view name) {
    TaskEvent e;
    e.index = i;
    e.id = id;
    e.name = name;
    e.state = TaskState::running;
    printer.task_started(e);
  }
  void finish(uint32_t i, std::string_view id, std::string_view name, TaskState s, double elapsed,
              std::string_view error = {}, uint64_t bytes_out = 0) {
    TaskEvent e;
    e.index = i;
    e.id = id;
    e.name = name;
    e.state = s;
    e.elapsed = elapsed;
    e.error = error;
    e.bytes_out = bytes_out;
    printer.task_finished(e);
  }
};

/// A live line as the display lays it out: the figures right-aligned to `width`.
std::string row(const std::string& left, const std::string& right, size_t width = 99) {
  return left + std::string(width - left.size() - right.size(), ' ') + right;
}

bool has_prefix(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

}  // namespace

TEST_CASE("tty display: live lines with names, bytes, rate and ETA; history stays; clean end") {
  Rig rig(100, 30);
  rig.printer.run_started(5, 2, 4);
  rig.start(0, "layer:e0a26ea119d86039", "layer app");
  rig.start(1, "base-pull:oci:bases:httpd", "pull oci:bases:httpd");
  rig.now += 0.5;
  rig.printer.task_progress(0, 4 * kMiB, 40 * kMiB);
  rig.now += 0.5;
  rig.printer.task_progress(0, 12 * kMiB, 40 * kMiB);
  rig.now += 0.5;
  rig.printer.redraw();
  // 12 MiB in 1.5 s: 8 MiB/s, and 28 MiB to go: 3.5 s, shown as 4s.
  auto s = rig.screen();
  CHECK_MESSAGE(s.lines()[0] == row("=> layer app", "12.0 MiB / 40.0 MiB  8.0 MiB/s  ETA 4s  1.5s"), s.dump());
  CHECK_MESSAGE(s.lines()[1] == row("=> pull oci:bases:httpd", "1.5s"), s.dump());
  CHECK_MESSAGE(s.lines()[2] == "[0/5] 2 running, 1.5s", s.dump());
  CHECK(s.lines()[3].empty());
  CHECK(rig.out.find("e0a26ea119d86039") == std::string::npos);  // people read names, not ids

  rig.now += 0.1;
  rig.finish(1, "base-pull:oci:bases:httpd", "pull oci:bases:httpd", TaskState::cached, 1.6);
  rig.start(2, "build:mediawiki:publish:image", "build mediawiki:publish:image");
  rig.now += 0.3;
  rig.finish(2, "build:mediawiki:publish:image", "build mediawiki:publish:image", TaskState::failed, 0.3,
             "exit status 1");
  rig.finish(3, "push:mediawiki:publish:image", "push mediawiki:publish:image", TaskState::skipped, 0,
             "dependency build:mediawiki:publish:image failed");
  rig.printer.message(Level::warning, "layer app: 1 socket(s) left out");
  s = rig.screen();
  std::vector<std::string> mid = s.lines();
  CHECK_MESSAGE(mid[0] == "CACHED pull oci:bases:httpd", s.dump());
  CHECK(mid[1] == "FAILED 0.30s build mediawiki:publish:image: exit status 1");
  CHECK(mid[2] == "SKIPPED push mediawiki:publish:image: dependency build:mediawiki:publish:image failed");
  CHECK(mid[3] == "warning: layer app: 1 socket(s) left out");
  CHECK(has_prefix(mid[4], "=> layer app "));
  CHECK(mid[5] == "[3/5] 1 running, 1.9s");
  CHECK(mid[6].empty());

  rig.now += 1.1;
  rig.printer.task_progress(0, 40 * kMiB, 40 * kMiB);  // no ETA once everything is read
  rig.printer.redraw();
  CHECK_MESSAGE(rig.screen().lines()[4] == row("=> layer app", "40.0 MiB / 40.0 MiB  13.3 MiB/s  3.0s"), rig.screen().dump());
  rig.finish(0, "layer:e0a26ea119d86039", "layer app", TaskState::done, 3.0, {}, 10 * kMiB);
  rig.start(4, "tag:mediawiki:publish-81:image", "tag mediawiki:publish-81:image");
  rig.finish(4, "tag:mediawiki:publish-81:image", "tag mediawiki:publish-81:image", TaskState::done, 0.01);
  rig.printer.run_finished(3.0);

  s = rig.screen();
  std::vector<std::string> want = {"CACHED pull oci:bases:httpd",
                                   "FAILED 0.30s build mediawiki:publish:image: exit status 1",
                                   "SKIPPED push mediawiki:publish:image: dependency build:mediawiki:publish:image failed",
                                   "warning: layer app: 1 socket(s) left out",
                                   "DONE 3.00s layer app  10.0 MiB out",
                                   "DONE 0.01s tag mediawiki:publish-81:image",
                                   "[5/5] 0 running, 3.0s"};
  CHECK_MESSAGE(s.transcript() == want, s.dump());
  CHECK(s.row() == want.size());  // the cursor on a fresh line
  CHECK(s.col() == 0);
  CHECK(s.wraps() == 0);
  CHECK(s.clamped_ups() == 0);
  // Nothing more once closed (a late event cannot draw live lines under the final status).
  rig.start(9, "x", "late");
  rig.printer.redraw();
  CHECK(rig.screen().transcript() == want);
}

TEST_CASE("tty display: a small screen keeps every line within its width and the live area on it") {
  Rig rig(60, 8);
  rig.printer.run_started(30, 2, 4);
  std::vector<std::string> names;
  for (uint32_t i = 0; i < 30; ++i)
    names.push_back("push mediawiki:publish-81:debug-image-with-a-long-name-" + std::to_string(i));
  for (uint32_t i = 0; i < 12; ++i) rig.start(i, "id", names[i]);
  rig.now += 2;
  for (uint32_t i = 0; i < 12; ++i) rig.printer.task_progress(i, (i + 1) * kMiB, 64 * kMiB);
  rig.printer.redraw();
  auto s = rig.screen();
  auto lines = s.lines();
  // rows - 2 live lines (the oldest first), then the status line saying what is not shown. The
  // rate gave way to the name; the name was cut.
  CHECK_MESSAGE(lines[0] == "=> push mediawiki:pu..  1.0 MiB / 64.0 MiB  ETA 2m06s  2.0s", s.dump());
  CHECK(lines[2] == "=> push mediawiki:publ..  3.0 MiB / 64.0 MiB  ETA 41s  2.0s");  // a shorter ETA, more name
  for (size_t i = 1; i < 6; ++i) CHECK_MESSAGE(has_prefix(lines[i], "=> push mediawiki:pu"), s.dump());
  CHECK(lines[6] == "[0/30] 12 running, 2.0s (6 not shown)");
  for (uint32_t i = 0; i < 30; ++i) {
    if (i >= 12) rig.start(i, "id", names[i]);
    rig.now += 0.1;
    rig.finish(i, "id", names[i], i % 7 == 3 ? TaskState::failed : TaskState::done, 0.5, "a long error message that goes on");
  }
  rig.printer.run_finished(5);
  s = rig.screen();
  auto all = s.transcript();
  CHECK(s.wraps() == 0);
  CHECK(s.clamped_ups() == 0);
  for (const auto& l : all) CHECK_MESSAGE(l.size() < 60, l);
  // Every task's history line, in the order they finished, and the status line last.
  REQUIRE_MESSAGE(all.size() == 31, s.dump());
  for (size_t i = 0; i < 30; ++i) CHECK(has_prefix(all[i], i % 7 == 3 ? "FAILED 0.50s push" : "DONE 0.50s push"));
  CHECK(all[30] == "[30/30] 0 running, 5.0s");
  for (const auto& l : all) CHECK_FALSE(has_prefix(l, "=>"));
}

TEST_CASE("tty display: rates over the recent window, a new total starts over, unknown totals") {
  LiveTask t;
  t.name = "push x";
  t.started = 10;
  t.progress(10.1, 1 * kMiB, 0);
  CHECK(t.rate(10.1) == 0);  // too soon to tell
  t.progress(12, 4 * kMiB, 0);
  CHECK(t.rate(12) == doctest::Approx(2.0 * kMiB));
  CHECK(live_line(t, 12, 60) == row("=> push x", "4.0 MiB  2.0 MiB/s  2.0s", 60));
  // Well past the window, the rate counts only the recent bytes.
  t.progress(20, 6 * kMiB, 0);
  t.progress(21, 16 * kMiB, 0);
  CHECK(t.rate(21) == doctest::Approx(12.0 * kMiB / 9));  // since the sample at 12 s, the window's base
  // Another blob: done went back, the rate starts over from there.
  t.progress(22, 1 * kMiB, 8 * kMiB);
  CHECK(t.rate(22) == 0);
  t.progress(23, 3 * kMiB, 8 * kMiB);
  CHECK(t.rate(23) == doctest::Approx(2.0 * kMiB));
  CHECK(live_line(t, 23, 80) == row("=> push x", "3.0 MiB / 8.0 MiB  2.0 MiB/s  ETA 3s  13.0s", 80));
  // A stall: no new bytes, the rate falls.
  CHECK(t.rate(25) == doctest::Approx(2.0 * kMiB / 3));
}

TEST_CASE("tty display: text helpers") {
  CHECK(human_bytes(512) == "512 B");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(3 * kMiB / 2) == "1.5 MiB");
  CHECK(human_duration(0.2) == "1s");
  CHECK(human_duration(65) == "1m05s");
  CHECK(human_duration(7380) == "2h03m");
  CHECK(display_width("\x1b[34mDONE\x1b[0m caf\xc3\xa9") == 9);
  CHECK(fit_width("\x1b[34mDONE\x1b[0m layer app", 6) == "\x1b[34mDONE\x1b[0m l\x1b[0m");
  CHECK(fit_width("caf\xc3\xa9s", 4) == "caf\xc3\xa9");
  CHECK(fit_width("short", 10) == "short");
  // A name too long for the line gives way before the figures do.
  LiveTask t;
  t.name = "layer a-very-long-layer-name-that-goes-on-and-on";
  t.started = 0;
  CHECK(live_line(t, 1.3, 30) == "=> layer a-very-long-l..  1.3s");
  CHECK(display_width(live_line(t, 1.3, 30)) == 30);
}

TEST_CASE("tty display: the status line counts and the screen emulator reads it back") {
  fgtest::Screen s(20, 4);
  s.feed("abc\r\nde\x1b[1A\r\x1b[Jxy\n12345678901234567890X");
  CHECK(s.lines()[0] == "xy");
  CHECK(s.lines()[1] == "12345678901234567890");
  CHECK(s.lines()[2] == "X");
  CHECK(s.wraps() == 1);
  s.feed("\x1b[9A");
  CHECK(s.clamped_ups() == 1);
  s.feed("\r\x1b[31mred\x1b[0m\x1b[K");
  CHECK(s.lines()[0] == "red");
}
