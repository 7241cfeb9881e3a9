#pragma once
// Process and socket helpers of the test harness (registry_server.h): free ports, TCP probes,
// bounded waits for a child, posix_spawn with clean signals, small text encoders. Every wait
// is bounded in count and time.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;


namespace fgtest {

namespace registry_detail {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline std::string registry_binary() {
  const char* env = std::getenv("FG_DOCKER_REGISTRY");
  return env != nullptr && *env != '\0' ? env : "/usr/bin/docker-registry";
}

inline std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

/// A port that was free on 127.0.0.1 a moment ago (bound to :0, read back, closed).
inline int pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(errno_text("registry: socket"));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string msg = errno_text("registry: bind 127.0.0.1:0");
    ::close(fd);
    throw std::runtime_error(msg);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// Whether a TCP connection to 127.0.0.1:port is accepted within `timeout`.
inline bool tcp_connects(int port, std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    const auto deadline = Clock::now() + timeout;
    for (int i = 0; i < 1000 && Clock::now() < deadline; ++i) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{fd, POLLOUT, 0};
      int r = ::poll(&p, 1, static_cast<int>(left > 0 ? left : 0));
      if (r < 0 && errno == EINTR) continue;
      if (r > 0) {
        int err = 0;
        socklen_t elen = sizeof err;
        ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0;
      }
      break;
    }
  }
  ::close(fd);
  return ok;
}

/// Waits for `pid` to exit, polling waitpid(WNOHANG) in a loop bounded in count and time.
/// Returns the wait status, or nullopt if it is still running at the deadline. A pid that is
/// no longer our child (ECHILD) counts as gone.
inline std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const int max_iterations = static_cast<int>(timeout / 5ms) + 2;
  for (int i = 0; i < max_iterations; ++i) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno == ECHILD) return 0;
    if (r < 0 && errno != EINTR) return 0;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(5ms);  // poll interval of a bounded wait, not a synchronisation
  }
  return std::nullopt;
}

inline std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

/// The environment for the registry: ours, without REGISTRY_* variables (the registry reads
/// them as overrides of its configuration, e.g. REGISTRY_HTTP_ADDR).
inline std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "REGISTRY_", 9) == 0) continue;
    env.emplace_back(*e);
  }
  return env;
}

inline std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

/// posix_spawn with stdin from /dev/null, stdout and stderr into `out_fd`, an empty signal
/// mask and default signal dispositions. `path_search` uses posix_spawnp.
inline pid_t spawn(std::vector<std::string> argv, int out_fd, bool path_search) {
  std::vector<std::string> envs = child_environment();
  std::vector<char*> args = c_strings(argv);
  std::vector<char*> envp = c_strings(envs);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 2);

  sigset_t empty;
  sigset_t all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  int rc = path_search ? ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data())
                       : ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw std::runtime_error("registry: cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

/// Runs a short helper command (no shell) and returns its status and output (stdout+stderr).
/// Bounded: after `timeout` the command is killed.
inline std::pair<int, std::string> run_capture(const std::vector<std::string>& argv,
                                               std::chrono::milliseconds timeout = 20000ms) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(errno_text("registry: pipe"));
  pid_t pid = -1;
  try {
    pid = spawn(argv, fds[1], /*path_search=*/true);
  } catch (...) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw;
  }
  ::close(fds[1]);
  std::string out;
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (int i = 0; i < 100000 && Clock::now() < deadline; ++i) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left > 0 ? left : 0));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  auto status = wait_exit(pid, 5000ms);
  if (!status) {
    ::kill(pid, SIGKILL);
    status = wait_exit(pid, 5000ms);
    throw std::runtime_error("registry: " + argv[0] + " did not finish in time; output:\n" + out);
  }
  return {*status, out};
}

inline std::string base64(const std::string& in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

inline std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned char>(c));
          out += b;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

/// A YAML double-quoted scalar (paths may contain anything).
inline std::string yaml_string(const std::string& s) {
  return json_string(s);
}

inline fs::path make_temp_dir() {
  std::string templ = (fs::temp_directory_path() / "fg-registry-XXXXXX").string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error(errno_text("registry: mkdtemp"));
  return fs::path(buf.data());
}

}  // namespace registry_detail

}  // namespace fgtest
