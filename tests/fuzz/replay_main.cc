// Replays inputs through a fuzz target without libFuzzer: each file given, and every file under
// each directory given (in name order, hidden files skipped), goes once through
// LLVMFuzzerTestOneInput. Built with the normal compiler so ctest (and the sanitizer build)
// replays the seed corpus and every crash input kept in tests/fuzz/regressions/. An input that
// takes longer than the fuzzers' -timeout (10 s) fails the run, as a hang would under libFuzzer.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

constexpr unsigned kTimeoutSeconds = 10;

/// The message for SIGALRM, prepared before each input (a signal handler only writes it).
char timeout_message[4096];
size_t timeout_message_size = 0;

void on_timeout(int) {
  ssize_t ignored = ::write(STDERR_FILENO, timeout_message, timeout_message_size);
  (void)ignored;
  ::_exit(70);
}

bool hidden(const fs::path& p) {
  std::string name = p.filename().string();
  return !name.empty() && name.front() == '.';
}

/// The inputs under `arg`, or false (with a message) when it is neither a file nor a directory.
bool collect(const fs::path& arg, std::vector<fs::path>& out) {
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) {
    out.push_back(arg);
    return true;
  }
  if (!fs::is_directory(arg, ec)) {
    std::fprintf(stderr, "replay: %s: no such file or directory\n", arg.c_str());
    return false;
  }
  std::vector<fs::path> found;
  for (auto it = fs::recursive_directory_iterator(arg, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) found.push_back(it->path());
  }
  if (ec) {
    std::fprintf(stderr, "replay: %s: %s\n", arg.c_str(), ec.message().c_str());
    return false;
  }
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> inputs;
  bool ok = true;
  for (int i = 1; i < argc; ++i) ok &= collect(argv[i], inputs);
  if (!ok) return 2;
  if (inputs.empty()) {
    std::fprintf(stderr, "replay: no inputs found\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_timeout;
  ::sigaction(SIGALRM, &sa, nullptr);
  for (const auto& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: %s: cannot read\n", p.c_str());
      return 2;
    }
    std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    // Named first, so that a crash report follows the name of the input that caused it.
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", p.c_str(), bytes.size());
    std::fflush(stderr);
    // A copy of exactly the input's size, so that reading past its end is caught.
    std::vector<uint8_t> data(bytes.begin(), bytes.end());
    int n = std::snprintf(timeout_message, sizeof timeout_message,
                          "replay: %s: timed out after %u s\n", p.c_str(), kTimeoutSeconds);
    timeout_message_size =
        std::min(static_cast<size_t>(std::max(n, 0)), sizeof timeout_message - 1);
    ::alarm(kTimeoutSeconds);
    LLVMFuzzerTestOneInput(data.data(), data.size());
    ::alarm(0);
  }
  std::printf("replay: %zu inputs, none failed\n", inputs.size());
  return 0;
}
