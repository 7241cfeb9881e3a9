#pragma once
// A real container registry (Debian's docker-registry, distribution 2.8) for tests.
//
//   fgtest::RegistryServer reg;                       // anonymous, fresh temp storage
//   fgtest::RegistryServer auth({.htpasswd = true});  // basic auth (bcrypt htpasswd)
//   run("skopeo inspect --tls-verify=false docker://" + reg.address() + "/repo:tag");
//
// The registry listens on 127.0.0.1 only, on a free port, and is configured by a config.yml
// written into a temp directory. Readiness is the line the registry logs once its listener
// is bound ("listening on 127.0.0.1:PORT"), read from its output by a reader thread, followed
// by one TCP connect. Every wait is bounded; nothing sleeps as a way to synchronise.
//
// Only the standard library and POSIX are used (and, at run time, the docker-registry and,
// for htpasswd, the htpasswd binaries).

#include "child_process.h"

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


namespace fgtest {

struct RegistryOptions {
  /// Bearer-token auth instead: the token service's realm URL, and the certificate (PEM) whose
  /// key signs its tokens (tests/support/token_server.py provides both).
  std::string token_realm;
  std::string token_cert;
  bool htpasswd = false;  ///< require HTTP basic auth (user/password below)
  /// Manifests may be deleted (DELETE /v2/<name>/manifests/<digest>); off, the registry answers
  /// 405 UNSUPPORTED.
  bool deletes = true;
  std::string user = "tester";
  std::string password = "s3cret-pass";
};

/// Whether something accepts TCP connections on 127.0.0.1:port.
inline bool port_accepts(int port,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
  return registry_detail::tcp_connects(port, timeout);
}

/// A docker-registry process on 127.0.0.1, stopped and cleaned up by the destructor.
class RegistryServer {
 public:
  /// Starts docker-registry on 127.0.0.1 on a free port, storage in a fresh temp dir (or
  /// `storage` when given, so a restarted registry keeps its data). Throws std::runtime_error
  /// with the registry's log on failure.
  explicit RegistryServer(RegistryOptions opts = {}, std::string storage = "")
      : opts_(std::move(opts)) {
    namespace fs = std::filesystem;
    try {
      work_dir_ = registry_detail::make_temp_dir();
      if (storage.empty()) {
        storage_ = (work_dir_ / "storage").string();
      } else {
        storage_ = fs::absolute(storage).string();
      }
      fs::create_directories(storage_);
      if (opts_.htpasswd) write_htpasswd();
      std::string failures;
      for (int attempt = 1; attempt <= kPortAttempts; ++attempt) {
        port_ = registry_detail::pick_free_port();
        write_config();
        Start r = start_once();
        if (r == Start::Ready) return;
        failures += "attempt " + std::to_string(attempt) + ": port " + std::to_string(port_) +
                    " was taken\n";
      }
      throw std::runtime_error("registry: could not bind a free port in " +
                               std::to_string(kPortAttempts) + " attempts\n" + failures + "log:\n" +
                               log());
    } catch (...) {
      shutdown(/*graceful=*/false);
      remove_work_dir();
      throw;
    }
  }

  RegistryServer(const RegistryServer&) = delete;
  RegistryServer& operator=(const RegistryServer&) = delete;

  /// Stops it (SIGTERM, then SIGKILL after a bounded wait) and removes what it created.
  ~RegistryServer() {
    try {
      shutdown(/*graceful=*/true);
    } catch (...) {
    }
    remove_work_dir();
  }

  /// SIGKILL at once (for fault tests), and reaps the process.
  void kill_now() { shutdown(/*graceful=*/false); }

  /// Starts again on the same port with the same storage (stopping it first if it runs);
  /// readiness as at start. Throws with the log if it does not come up.
  void restart() {
    shutdown(/*graceful=*/true);
    if (pid_ > 0)
      throw std::runtime_error("registry: pid " + std::to_string(pid_) +
                               " did not exit; cannot restart\nlog:\n" + log());
    Start r = start_once();
    if (r != Start::Ready)
      throw std::runtime_error("registry: restart on port " + std::to_string(port_) +
                               " failed: the port is taken\nlog:\n" + log());
  }

  /// "127.0.0.1:PORT"
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] int port() const { return port_; }
  /// The registry's pid, or -1 when it is not running (after kill_now, before restart).
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string storage() const { return storage_; }
  [[nodiscard]] const RegistryOptions& options() const { return opts_; }
  /// The registry's config.yml.
  [[nodiscard]] std::string config_path() const { return (work_dir_ / "config.yml").string(); }

  /// What the registry printed so far (stdout and stderr, every start).
  [[nodiscard]] std::string log() const {
    std::lock_guard<std::mutex> lk(mu_);
    return log_;
  }

  /// Writes a docker config.json with credentials for address() into `dir` (dir/config.json),
  /// for DOCKER_CONFIG (or skopeo --authfile).
  void write_docker_config(const std::string& dir) const {
    namespace fs = std::filesystem;
    fs::create_directories(dir);
    const std::string auth = registry_detail::base64(opts_.user + ":" + opts_.password);
    const std::string json = "{\"auths\": {" + registry_detail::json_string(address()) +
                             ": {\"auth\": " + registry_detail::json_string(auth) + "}}}\n";
    const fs::path file = fs::path(dir) / "config.json";
    {
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      out << json;
      if (!out) throw std::runtime_error("registry: cannot write " + file.string());
    }
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace);
  }

 private:
  enum class Start { Ready, PortTaken };
  static constexpr int kPortAttempts = 5;
  static constexpr auto kReadyTimeout = std::chrono::seconds(20);
  static constexpr auto kTermTimeout = std::chrono::milliseconds(10000);
  static constexpr auto kKillTimeout = std::chrono::milliseconds(10000);

  void write_htpasswd() {
    namespace fs = std::filesystem;
    if (opts_.user.empty() || opts_.user.find(':') != std::string::npos)
      throw std::runtime_error("registry: htpasswd user must be non-empty and without ':'");
    // Bcrypt (-B): registry 2.8 accepts nothing else (an MD5 entry just fails to authenticate).
    auto [status, out] =
        registry_detail::run_capture({"htpasswd", "-Bbn", opts_.user, opts_.password});
    std::string prefix = opts_.user + ":$2";
    if (status != 0 || out.compare(0, prefix.size(), prefix) != 0)
      throw std::runtime_error("registry: htpasswd -Bbn failed (" +
                               registry_detail::describe_status(status) +
                               ") (apt-get install apache2-utils):\n" + out);
    // Keep the entry line only: the registry provisions a random "docker" user when the file is
    // missing, so the file must exist and hold our entry.
    std::string line = out.substr(0, out.find('\n'));
    htpasswd_path_ = (work_dir_ / "htpasswd").string();
    std::ofstream f(htpasswd_path_, std::ios::binary | std::ios::trunc);
    f << line << "\n";
    if (!f) throw std::runtime_error("registry: cannot write " + htpasswd_path_);
  }

  void write_config() const {
    using registry_detail::yaml_string;
    std::string cfg;
    cfg += "version: 0.1\n";
    cfg += "log:\n  level: info\n  formatter: text\n";
    cfg += "storage:\n  filesystem:\n    rootdirectory: " + yaml_string(storage_) + "\n";
    cfg += std::string("  delete:\n    enabled: ") + (opts_.deletes ? "true" : "false") + "\n";
    cfg += "http:\n  addr: " + yaml_string(address()) + "\n";
    if (opts_.htpasswd) {
      cfg += "auth:\n  htpasswd:\n    realm: test-realm\n    path: " + yaml_string(htpasswd_path_) +
             "\n";
    } else if (!opts_.token_realm.empty()) {
      cfg += "auth:\n  token:\n    realm: " + yaml_string(opts_.token_realm) +
             "\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: " +
             yaml_string(opts_.token_cert) + "\n";
    }
    std::ofstream f(config_path(), std::ios::binary | std::ios::trunc);
    f << cfg;
    if (!f) throw std::runtime_error("registry: cannot write " + config_path());
  }

  /// Spawns the registry once on port_ and waits for readiness. Returns PortTaken when it
  /// exited because the port was in use; throws on any other failure (with the log).
  Start start_once() {
    using namespace registry_detail;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(errno_text("registry: pipe"));
    size_t from = 0;
    {
      std::lock_guard<std::mutex> lk(mu_);
      eof_ = false;
      from = log_.size();
    }
    stop_reader_ = false;
    try {
      pid_ = spawn({registry_binary(), "serve", config_path()}, fds[1], /*path_search=*/false);
    } catch (...) {
      ::close(fds[0]);
      ::close(fds[1]);
      throw;
    }
    ::close(fds[1]);  // the child holds the only write end now: EOF means it is gone
    out_fd_ = fds[0];
    reader_ = std::thread([this, fd = out_fd_] { read_output(fd); });

    const std::string ready = "listening on " + address() + "\"";
    bool is_ready = false;
    bool exited = false;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait_for(lk, kReadyTimeout, [&] {
        is_ready = log_.find(ready, from) != std::string::npos;
        exited = eof_;
        return is_ready || exited;
      });
    }
    if (is_ready) {
      if (tcp_connects(port_, std::chrono::milliseconds(5000))) return Start::Ready;
      shutdown(/*graceful=*/false);
      throw std::runtime_error("registry: logged that it listens on " + address() +
                               " but a connection was refused\nlog:\n" + log());
    }
    if (exited) {
      int status = reap(std::chrono::milliseconds(5000));
      shutdown(/*graceful=*/false);
      std::string out = log().substr(from);
      if (out.find("address already in use") != std::string::npos) return Start::PortTaken;
      throw std::runtime_error("registry: exited before it was ready (" + describe_status(status) +
                               ")\nlog:\n" + log());
    }
    shutdown(/*graceful=*/false);
    throw std::runtime_error("registry: not ready on " + address() + " after " +
                             std::to_string(kReadyTimeout.count()) + " s\nlog:\n" + log());
  }

  /// Drains the registry's output into log_ until EOF (or until asked to stop).
  void read_output(int fd) {
    using namespace registry_detail;
    char buf[8192];
    std::optional<Clock::time_point> stop_deadline;
    for (;;) {
      if (stop_reader_ && !stop_deadline) stop_deadline = Clock::now() + 2000ms;
      if (stop_deadline && Clock::now() >= *stop_deadline) break;
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, 100);
      if (r < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (r == 0) {
        if (stop_reader_) break;  // asked to stop and nothing left to read
        continue;
      }
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        break;
      }
      if (n == 0) break;
      {
        std::lock_guard<std::mutex> lk(mu_);
        log_.append(buf, static_cast<size_t>(n));
      }
      cv_.notify_all();
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      eof_ = true;
    }
    cv_.notify_all();
  }

  /// Waits (bounded) for the child to exit and marks it reaped. Returns its wait status
  /// (-1 if it did not exit in time).
  int reap(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return 0;
    auto st = registry_detail::wait_exit(pid_, timeout);
    if (!st) return -1;
    pid_ = -1;
    return *st;
  }

  /// Stops the process (SIGTERM then SIGKILL when graceful, SIGKILL otherwise), reaps it, and
  /// stops the reader thread. Safe to call when nothing runs.
  void shutdown(bool graceful) {
    if (pid_ > 0) {
      bool gone = false;
      if (graceful) {
        ::kill(pid_, SIGTERM);
        gone = reap(kTermTimeout) != -1;
      }
      if (!gone) {
        ::kill(pid_, SIGKILL);
        reap(kKillTimeout);
        // If it did not die even so (uninterruptible sleep), give up on it: pid_ stays set so
        // that nothing else is signalled by mistake, and the reader thread is stopped below.
      }
    }
    if (reader_.joinable()) {
      stop_reader_ = true;
      reader_.join();
    }
    if (out_fd_ >= 0) {
      ::close(out_fd_);
      out_fd_ = -1;
    }
  }

  void remove_work_dir() {
    // Only the temp dir this object made (config, htpasswd and, when none was given, the
    // storage); a storage directory passed in by the caller lives elsewhere and is kept.
    if (work_dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
    work_dir_.clear();
  }

  RegistryOptions opts_;
  std::filesystem::path work_dir_;
  std::string storage_;
  std::string htpasswd_path_;
  int port_ = 0;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::thread reader_;
  std::atomic<bool> stop_reader_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string log_;   // guarded by mu_
  bool eof_ = false;  // guarded by mu_
};

}  // namespace fgtest
