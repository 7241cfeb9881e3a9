#pragma once
// A podman API service on 127.0.0.1 (`podman system service tcp:127.0.0.1:PORT`) with its own
// storage: a remote build engine for tests. Started on a free port, ready when a client's
// `version` answers, stopped by its PID. Every wait is bounded in count and time.

#include <fcntl.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "child_process.h"

namespace fgtest {

class PodmanService {
 public:
  explicit PodmanService(const std::filesystem::path& dir) : dir_(dir) {
    namespace rd = registry_detail;
    std::filesystem::create_directories(dir_);
    port_ = rd::pick_free_port();
    int log = ::open((dir_ / "service.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log < 0) throw std::runtime_error(rd::errno_text("podman service: log"));
    pid_ = rd::spawn({"podman", "--root", (dir_ / "root").string(), "--runroot", (dir_ / "run").string(),
                      "--storage-driver", "vfs", "system", "service", "--time=0", "tcp:127.0.0.1:" + std::to_string(port_)},
                     log, /*path_search=*/true);
    ::close(log);
    // Ready when a client gets an answer: at most 200 probes over at most 60 s.
    auto deadline = rd::Clock::now() + std::chrono::seconds(60);
    for (int i = 0; i < 200 && rd::Clock::now() < deadline; ++i) {
      if (rd::wait_exit(pid_, std::chrono::milliseconds(0))) {
        pid_ = -1;
        throw std::runtime_error("podman service exited at start:\n" + log_text());
      }
      if (rd::tcp_connects(port_, std::chrono::milliseconds(250)) &&
          rd::run_capture({"podman", "--remote", "--url", url(), "version"}, std::chrono::seconds(10)).first == 0)
        return;
      rd::wait_exit(pid_, std::chrono::milliseconds(100));  // a bounded pause that also notices an exit
    }
    stop();
    throw std::runtime_error("podman service on port " + std::to_string(port_) + " did not answer:\n" + log_text());
  }
  ~PodmanService() { stop(); }
  PodmanService(const PodmanService&) = delete;
  PodmanService& operator=(const PodmanService&) = delete;

  [[nodiscard]] std::string url() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::string log_text() const {
    std::ifstream in(dir_ / "service.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (!registry_detail::wait_exit(pid_, std::chrono::seconds(15))) {
      ::kill(pid_, SIGKILL);
      registry_detail::wait_exit(pid_, std::chrono::seconds(15));
    }
    pid_ = -1;
  }

  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace fgtest
