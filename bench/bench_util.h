#pragma once
// What the bench programs share: timing a command as a whole process (wall time and peak RSS),
// medians, and the bundled example rewritten to build a generated tree as its app layer.

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "flavourgraph/fs_util.h"

namespace fgbench {

struct Measured {
  double seconds = 0;
  long max_rss_kb = 0;
  int status = 0;
};

/// Runs a shell command, measuring its wall time and the peak RSS of its largest process.
inline Measured measure(const std::string& cmd) {
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  Measured m;
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  m.max_rss_kb = ru.ru_maxrss;
  return m;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// The bundled example in `work`/cfg with `tree` as the app layer, pushed to `work`/registry.
struct ExampleBuild {
  std::string build;  ///< the build command (quiet progress, metadata in `work`/meta.json), no --timestamp
  std::string clean;  ///< removes the store, target, state and values
};

/// With `run_bases` false, the mediawiki kinds go on the example's prebuilt PHP bases instead of
/// its RUN-built ones (benches of the native builder measure no build engine).
inline ExampleBuild prepare_example(const std::filesystem::path& work, const std::filesystem::path& tree,
                                    const std::string& compression, const std::string& binary,
                                    const std::string& source, bool run_bases = false) {
  namespace fs = std::filesystem;
  auto dash = compression.find('-');
  std::string format = compression.substr(0, dash), level = compression.substr(dash + 1);
  std::string images = flavourgraph::read_file(source + "/configs/example/images.yaml");
  auto replace = [&](const std::string& from, const std::string& to) {
    auto p = images.find(from);
    if (p == std::string::npos) throw std::runtime_error("example images.yaml changed: cannot find " + from);
    images.replace(p, from.size(), to);
  };
  replace("    source: app\n", "    source: " + tree.string() + "\n");
  replace("registry: oci:.flavourgraph/registry", "registry: oci:" + (work / "registry").string());
  replace("  format: gzip\n  level: 5\n", "  format: " + format + "\n  level: " + level + "\n");
  if (!run_bases) {
    replace("base: \"build:php-base/php{PHP_VERSION}/image\"", "base: \"oci:bases:php{PHP_VERSION}-fpm-multiversion-base\"");
    replace("base: \"build:php-base/php{PHP_VERSION}/image\"", "base: \"oci:bases:php{PHP_VERSION}-cli\"");
    auto a = images.find("  # The multiversion PHP bases."), b = images.find("  webserver:\n");
    if (a == std::string::npos || b == std::string::npos) throw std::runtime_error("example images.yaml changed: no php-base");
    images.erase(a, b - a);
  }
  fs::create_directories(work / "cfg");
  for (const char* sub : {"bases", "debug", "webserver", "php-base", "shell"}) {
    fs::remove_all(work / "cfg" / sub);
    fs::copy(source + "/configs/example/" + sub, work / "cfg" / sub, fs::copy_options::recursive);
  }
  flavourgraph::write_file_atomic(work / "cfg/images.yaml", images);
  fs::copy_file(source + "/configs/example/deployments.yaml", work / "cfg/deployments.yaml",
                fs::copy_options::overwrite_existing);
  std::string w = work.string();
  return {fmt::format("{1} build -c {0}/cfg/images.yaml -d {0}/cfg/deployments.yaml --store {0}/store --state-dir "
                      "{0}/state --values-dir {0}/values --progress quiet "
                      "--metadata-file {0}/meta.json",
                      w, binary),
          fmt::format("rm -rf {0}/store {0}/registry {0}/state {0}/values", w)};
}

}  // namespace fgbench
