#pragma once
/// Runs a program (no shell) and captures its output. Children start with default signal
/// dispositions and an empty signal mask, whatever the parent blocks.

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace flavourgraph {

class CancelSource;

struct ProcessResult {
  int status = -1;  ///< exit status, or 128 + signal; -1 when it could not start
  std::string out;
  std::string err;
  bool cancelled = false;  ///< stopped because cancellation was requested
  bool timed_out = false;  ///< stopped because it ran longer than the limit
};

struct ProcessOptions {
  std::filesystem::path cwd;
  /// Stop the child (its whole process group: SIGTERM, then SIGKILL after `grace`) when this
  /// is cancelled.
  const CancelSource* cancel = nullptr;
  std::chrono::milliseconds timeout{0};  ///< 0 = none
  std::chrono::milliseconds grace{5000};
  size_t keep_tail = 0;  ///< keep only the last bytes of each stream (0 = everything)
  bool merge_stderr = false;  ///< stderr into `out`, interleaved as written
  std::string input;          ///< written to the child's stdin (else stdin is /dev/null); small
};

ProcessResult run_process(const std::vector<std::string>& argv, const std::filesystem::path& cwd = {});
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options);

/// The last `lines` lines of `text`, without a trailing newline.
std::string last_lines(std::string_view text, size_t lines);

}  // namespace flavourgraph
