// Running programs: output tails, time limits, cancellation, merged streams; last_lines.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "flavourgraph/cancel.h"
#include "flavourgraph/process.h"
#include "test_util.h"

using namespace flavourgraph;
using Clock = std::chrono::steady_clock;

TEST_CASE("process: last_lines") {
  CHECK(last_lines("a\nb\nc\n", 2) == "b\nc");
  CHECK(last_lines("a\nb\nc", 2) == "b\nc");
  CHECK(last_lines("a\nb\nc\n", 1) == "c");
  CHECK(last_lines("a\nb\nc\n", 3) == "a\nb\nc");
  CHECK(last_lines("a\nb\nc\n", 10) == "a\nb\nc");
  CHECK(last_lines("a\nb\nc\n", 0) == "");
  CHECK(last_lines("", 3) == "");
  CHECK(last_lines("\n\n\n", 2) == "");
  CHECK(last_lines("single", 1) == "single");
  CHECK(last_lines("a\n\nb\n", 2) == "\nb");  // an empty line counts
  CHECK(last_lines("x\r\ny\r\n", 1) == "y");  // trailing CR LF dropped
  CHECK(last_lines("\nfirst-empty", 5) == "\nfirst-empty");
}

TEST_CASE("process: output and exit status") {
  auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  CHECK(r.status == 3);
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  CHECK_FALSE(r.cancelled);
  CHECK_FALSE(r.timed_out);

  auto missing = run_process({"/nonexistent/flavourgraph-test-program"});
  CHECK(missing.status == -1);
  CHECK(missing.err.find("cannot run /nonexistent/flavourgraph-test-program") != std::string::npos);
}

TEST_CASE("process: keep_tail keeps the last bytes of each stream") {
  ProcessOptions o;
  o.keep_tail = 6;
  // Well over the 64 KiB pipe buffer, so the tail is cut while reading.
  auto r = run_process({"sh", "-c", "seq 1 100000; echo END; seq 1 50000 >&2; echo ERR-END >&2"}, o);
  CHECK(r.status == 0);
  CHECK(r.out == "0\nEND\n");
  CHECK(r.err == "R-END\n");

  o.keep_tail = 1000;
  auto small = run_process({"sh", "-c", "echo short"}, o);
  CHECK(small.out == "short\n");  // shorter than the tail: all of it
}

TEST_CASE("process: merge_stderr puts both streams in out") {
  ProcessOptions o;
  o.merge_stderr = true;
  auto r = run_process({"sh", "-c", "echo to-out; echo to-err >&2"}, o);
  CHECK(r.status == 0);
  CHECK(r.err == "");
  CHECK(r.out.find("to-out\n") != std::string::npos);
  CHECK(r.out.find("to-err\n") != std::string::npos);
  CHECK(r.out.size() == std::string("to-out\nto-err\n").size());
  // In the order written: one pipe for both (two pipes read in turn reordered them at times).
  for (int i = 0; i < 50; ++i) {
    auto m = run_process({"sh", "-c", "echo one; echo two >&2; echo three; echo four >&2"}, o);
    REQUIRE(m.out == "one\ntwo\nthree\nfour\n");
  }
}

TEST_CASE("process: a child that runs past its time limit is stopped") {
  ProcessOptions o;
  o.timeout = std::chrono::milliseconds(200);
  auto start = Clock::now();
  auto r = run_process({"sleep", "30"}, o);
  auto took = Clock::now() - start;
  CHECK(r.timed_out);
  CHECK_FALSE(r.cancelled);
  CHECK(r.status == 128 + SIGTERM);
  CHECK(took >= std::chrono::milliseconds(200));
  CHECK(took < std::chrono::seconds(20));
}

TEST_CASE("process: a child that ignores SIGTERM is killed after the grace period") {
  ProcessOptions o;
  o.timeout = std::chrono::milliseconds(100);
  o.grace = std::chrono::milliseconds(300);
  auto start = Clock::now();
  auto r = run_process({"sh", "-c", "trap '' TERM; sleep 30"}, o);
  CHECK(r.timed_out);
  CHECK(r.status == 128 + SIGKILL);
  CHECK(Clock::now() - start < std::chrono::seconds(20));
}

TEST_CASE("process: cancelling stops a running child") {
  fgtest::TempDir tmp;
  auto fifo = tmp / "started";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Opened before the child runs, non-blocking, so the child's write never waits for us and
  // our wait for it is bounded.
  int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  REQUIRE(fd >= 0);
  CancelSource cancel;
  bool saw_start = false;
  std::thread canceller([&] {
    pollfd p{fd, POLLIN, 0};
    saw_start = ::poll(&p, 1, 20000) == 1 && (p.revents & POLLIN);
    cancel.cancel();
  });
  ProcessOptions o;
  o.cancel = &cancel;
  auto start = Clock::now();
  auto r = run_process({"sh", "-c", "echo up > " + fgtest::quote(fifo.string()) + "; exec sleep 30"}, o);
  auto took = Clock::now() - start;
  canceller.join();
  ::close(fd);
  CHECK(saw_start);
  CHECK(r.cancelled);
  CHECK_FALSE(r.timed_out);
  CHECK(r.status == 128 + SIGTERM);
  CHECK(took < std::chrono::seconds(20));
}

TEST_CASE("process: a source cancelled before the start stops the child at once") {
  CancelSource cancel;
  std::thread([&] { cancel.cancel(); }).join();
  ProcessOptions o;
  o.cancel = &cancel;
  auto start = Clock::now();
  auto r = run_process({"sleep", "30"}, o);
  CHECK(r.cancelled);
  CHECK(r.status != 0);
  CHECK(Clock::now() - start < std::chrono::seconds(20));
}
