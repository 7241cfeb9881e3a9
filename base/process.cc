#include "flavourgraph/process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pthread.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "flavourgraph/cancel.h"

extern char** environ;

namespace flavourgraph {

namespace {

using Clock = std::chrono::steady_clock;

/// Appends to `sink`, keeping at most `keep` bytes (0 = all).
void append_tail(std::string& sink, const char* data, size_t n, size_t keep) {
  sink.append(data, n);
  if (keep && sink.size() > 2 * keep) sink.erase(0, sink.size() - keep);
}

pid_t spawn(const std::vector<std::string>& argv, const ProcessOptions& o, int out_fd, int err_fd, int in_fd,
            std::string& error) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  if (in_fd >= 0)
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (!o.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, o.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (o.cancel || o.timeout.count() > 0) {
    flags |= POSIX_SPAWN_SETPGROUP;  // its own group, so that stopping it stops its children too
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    error = std::string("cannot run ") + argv[0] + ": " + std::strerror(rc);
    return -1;
  }
  return pid;
}

/// Reads both pipes until they close, stopping the child's group when it is cancelled or
/// runs out of time (SIGTERM, then SIGKILL after the grace period).
void pump(pid_t pid, int out_fd, int err_fd, const ProcessOptions& o, ProcessResult& r) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&r.out, o.merge_stderr ? &r.out : &r.err};
  int open_fds = 2;
  char buf[65536];
  bool watching = o.cancel || o.timeout.count() > 0;
  auto deadline = o.timeout.count() > 0 ? Clock::now() + o.timeout : Clock::time_point::max();
  Clock::time_point kill_at = Clock::time_point::max(), give_up_at = Clock::time_point::max();
  while (open_fds > 0) {
    if (watching && kill_at == Clock::time_point::max()) {
      bool cancel = o.cancel && o.cancel->requested();
      bool late = Clock::now() >= deadline;
      if (cancel || late) {
        r.cancelled = cancel;
        r.timed_out = !cancel;
        ::kill(-pid, SIGTERM);
        kill_at = Clock::now() + o.grace;
      }
    } else if (watching && give_up_at == Clock::time_point::max() && Clock::now() >= kill_at) {
      ::kill(-pid, SIGKILL);
      give_up_at = Clock::now() + o.grace;
    } else if (watching && Clock::now() >= give_up_at) {
      break;  // something outside the group holds the pipes: stop reading, the child is dead
    }
    if (::poll(fds, 2, watching ? 100 : -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        append_tail(*sinks[i], buf, static_cast<size_t>(n), o.keep_tail);
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
}

/// Writes a small input (it fits the pipe's buffer, so this cannot wait on the reader) and
/// closes the pipe. SIGPIPE, should the child exit unread, is blocked in this thread and
/// taken back, never delivered to the process.
void write_input(int fd, const std::string& input) {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  const char* p = input.data();
  bool broken = false;
  for (size_t left = input.size(); left > 0;) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      broken = errno == EPIPE;
      break;
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  ::close(fd);
  if (broken) {
    timespec zero{0, 0};
    sigtimedwait(&pipe_only, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const std::filesystem::path& cwd) {
  ProcessOptions o;
  o.cwd = cwd;
  return run_process(argv, o);
}

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ProcessResult r;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return r;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return r;
  }
  int in[2] = {-1, -1};
  if (!options.input.empty() && ::pipe2(in, O_CLOEXEC) != 0) {
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    return r;
  }
  // Merged: stderr goes into the same pipe, so that lines keep the order they were written in.
  pid_t pid = spawn(argv, options, out[1], options.merge_stderr ? out[1] : err[1], in[0], r.err);
  ::close(out[1]);
  ::close(err[1]);
  if (in[0] >= 0) ::close(in[0]);
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    if (in[1] >= 0) ::close(in[1]);
    return r;
  }
  if (in[1] >= 0) write_input(in[1], options.input);
  pump(pid, out[0], err[0], options, r);
  // Not reaped yet, so the group id is still its own: stop whatever it left behind.
  if (r.cancelled || r.timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (options.keep_tail) {
    if (r.out.size() > options.keep_tail) r.out.erase(0, r.out.size() - options.keep_tail);
    if (r.err.size() > options.keep_tail) r.err.erase(0, r.err.size() - options.keep_tail);
  }
  return r;
}

std::string last_lines(std::string_view text, size_t lines) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (lines == 0) return {};
  size_t pos = text.size(), found = 0;
  while (pos > 0) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string_view::npos) {
      pos = 0;
      break;
    }
    if (++found == lines) {
      pos = nl + 1;
      break;
    }
    pos = nl;
  }
  return std::string(text.substr(pos));
}

}  // namespace flavourgraph
