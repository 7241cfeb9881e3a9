#pragma once
// Runs a program with its stderr on a pseudo-terminal of a given size (stdout and stdin on
// /dev/null), and reads the terminal until the program exits: what a person would have seen.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace fgtest {

struct PtyResult {
  int status = -1;        ///< exit status (128 + signal when killed), -1 when it could not run
  std::string output;     ///< every byte the terminal got
  bool timed_out = false;
};

/// Runs `argv` (argv[0] a path; in `cwd` when given) on a `cols` x `rows` terminal.
inline PtyResult run_on_pty(const std::vector<std::string>& argv, unsigned short cols, unsigned short rows,
                            double timeout_seconds = 120, const std::string& cwd = "") {
  PtyResult r;
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) return r;
  winsize ws{};
  ws.ws_col = cols;
  ws.ws_row = rows;
  ::ioctl(master, TIOCSWINSZ, &ws);
  const char* name = ::ptsname(master);
  int slave = name ? ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
  if (slave < 0) {
    ::close(master);
    return r;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(slave, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(slave);  // the master reads EIO once every copy of the slave is closed
  if (pid < 0) {
    ::close(master);
    return r;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  char buf[65536];
  // Bounded by the time limit; each turn waits at most 100 ms for output.
  for (size_t turn = 0; turn < 1000000; ++turn) {
    if (std::chrono::steady_clock::now() > deadline) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{master, POLLIN, 0};
    int ready = ::poll(&p, 1, 100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO: the program and its children closed the terminal
    r.output.append(buf, static_cast<size_t>(n));
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  ::close(master);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

}  // namespace fgtest
