#pragma once
// Helpers shared by the tests: temp directories, running commands, reading files.

#include <cstring>
#include <unistd.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace fgtest {

namespace fs = std::filesystem;

inline std::string source_dir() { return FG_SOURCE_DIR; }
/// A real production deployments file (tests/data/README.md says where each comes from).
inline std::string fixture(const std::string& name) { return source_dir() + "/tests/data/" + name; }
inline std::string binary() { return FG_BINARY; }

/// A directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("fgtest-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }
  [[nodiscard]] std::string str() const { return path_.string(); }
  fs::path operator/(const std::string& p) const { return path_ / p; }

 private:
  fs::path path_;
};

inline void write_file(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << content;
}

/// Writes `size` bytes no compressor can shrink (xorshift64), so that a layer of it takes a while.
inline void write_incompressible(const fs::path& p, size_t size) {
  std::string big(size, '\0');
  uint64_t x = 88172645463325252ULL;
  for (size_t i = 0; i + 8 <= big.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(big.data() + i, &x, 8);
  }
  write_file(p, big);
}

/// The lines of `s`, without their newlines.
inline std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CommandResult {
  int status = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

inline std::string quote(const std::string& s);

/// Runs a shell command, capturing stdout and stderr (through temp files).
inline CommandResult run(const std::string& cmd) {
  TempDir tmp;
  std::string full = "{ " + cmd + " ; } >" + quote((tmp / "out").string()) + " 2>" + quote((tmp / "err").string());
  int rc = std::system(full.c_str());
  CommandResult r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.out = read_file(tmp / "out");
  r.err = read_file(tmp / "err");
  return r;
}

/// Runs `cmd` (its stdout and stderr together) and calls `on_line` for each output line with
/// the command's pid, so a test can act on an event (send a signal, kill a server) when it is
/// printed, never after a sleep. Returns the exit status and all the output.
template <class F>
CommandResult run_watching(const std::string& cmd, F on_line) {
  std::string wrapped = "sh -c " + quote("echo $$; exec " + cmd + " 2>&1");
  CommandResult r;
  FILE* p = popen(wrapped.c_str(), "r");
  if (!p) return r;
  char buf[8192];
  int pid = fgets(buf, sizeof buf, p) ? std::atoi(buf) : 0;
  if (pid <= 1) {  // never hand a test a pid that would signal a process group or init
    pclose(p);
    r.status = -1;
    return r;
  }
  while (fgets(buf, sizeof buf, p)) {
    std::string line(buf);
    r.out += line;
    on_line(line, pid);
  }
  int rc = pclose(p);
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  return r;
}

/// True for a JSON progress line of a task of `kind` starting.
inline bool starts_kind(const std::string& line, const std::string& kind) {
  return line.find("\"event\":\"start\"") != std::string::npos &&
         line.find("\"kind\":\"" + kind + "\"") != std::string::npos;
}

inline bool have_tool(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace fgtest
