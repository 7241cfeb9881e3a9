#pragma once
/// Runs a program (no shell) and captures its output. Children start with default signal
/// dispositions and an empty signal mask, whatever the parent blocks.

#include <filesystem>
#include <string>
#include <vector>

namespace flavourgraph {

struct ProcessResult {
  int status = -1;  ///< exit status, or 128 + signal; -1 when it could not start
  std::string out;
  std::string err;
};

ProcessResult run_process(const std::vector<std::string>& argv, const std::filesystem::path& cwd = {});

}  // namespace flavourgraph
