// --version and -V: the version and the commit the binary was built from.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include "flavourgraph/version.h"
#include "test_util.h"

namespace fs = std::filesystem;
using fgtest::quote;

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

/// The commit the build names: `git rev-parse --short HEAD` of the source tree when it is the
/// top of a git work tree (as cmake/build_info.cmake decides), else "unknown".
std::string expected_commit() {
  std::string src = quote(fgtest::source_dir());
  auto top = fgtest::run("git -C " + src + " rev-parse --show-toplevel");
  std::error_code ec;
  if (top.status != 0 || !fs::equivalent(trimmed(top.out), fgtest::source_dir(), ec))
    return "unknown";
  auto head = fgtest::run("git -C " + src + " rev-parse --short HEAD");
  REQUIRE(head.status == 0);
  return trimmed(head.out);
}

}  // namespace

TEST_CASE("--version and -V print the version and the commit built from") {
  std::string commit = expected_commit();
  INFO("expected commit: ", commit);
  REQUIRE_FALSE(commit.empty());
  for (const char* flag : {"--version", "-V"}) {
    auto r = fgtest::run(quote(fgtest::binary()) + " " + flag);
    INFO(flag, ": ", r.out, r.err);
    CHECK(r.status == 0);
    std::string line = trimmed(r.out);
    // e.g. "flavourgraph 0.1.0 (commit 9abf429)", "-dirty" after it when built from a changed tree
    std::string prefix = fmt::format("{} {} (commit ", flavourgraph::kName, flavourgraph::kVersion);
    REQUIRE(line.rfind(prefix, 0) == 0);
    REQUIRE(line.back() == ')');
    std::string built = line.substr(prefix.size(), line.size() - prefix.size() - 1);
    if (built.size() > 6 && built.ends_with("-dirty")) built.resize(built.size() - 6);
    CHECK(built == commit);
    CHECK(r.out.find('\n') == r.out.size() - 1);  // one line
  }
}
