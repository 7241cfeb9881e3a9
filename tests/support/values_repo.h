#pragma once
// A git repository holding a values directory, with one commit.

#include <string>

#include "test_util.h"

namespace fgtest {

/// A git repository holding the values directory, with one commit.
struct ValuesRepo {
  TempDir tmp;
  std::filesystem::path dir;
  ValuesRepo() : dir(tmp / "values") {
    std::filesystem::create_directories(dir);
    git("init -q -b main");
    git("config user.email t@example.org");
    git("config user.name tester");
    write_file(dir / "README", "values\n");
    git("add README");
    git("commit -q -m init");
  }
  CommandResult git(const std::string& args) const {
    return run("git -C " + quote(dir.string()) + " " + args);
  }
  [[nodiscard]] std::string status() const { return git("status --porcelain").out; }
  [[nodiscard]] int commits() const { return std::stoi(git("rev-list --count HEAD").out); }
  [[nodiscard]] std::string at_head(const std::string& file) const { return git("show HEAD:" + file).out; }
};
}  // namespace fgtest
