#include "flavourgraph/values.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/process.h"

namespace flavourgraph {

ValuesDir::ValuesDir(std::filesystem::path dir, bool git) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
  if (!git) return;
  auto r = run_process({"git", "-C", dir_.string(), "rev-parse", "--is-inside-work-tree"});
  git_ = r.status == 0 && r.out.rfind("true", 0) == 0;
}

ValuesDir::~ValuesDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void ValuesDir::lock() {
  if (lock_fd_ >= 0) return;
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", dir_.string(), std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw std::runtime_error(fmt::format("the values directory {} is in use by another flavourgraph run; wait for it "
                                         "to end",
                                         dir_.string()));
  }
  lock_fd_ = fd;
}

std::optional<std::string> ValuesDir::detached_head() const {
  if (!git_) return std::nullopt;
  auto branch = run_process({"git", "-C", dir_.string(), "symbolic-ref", "-q", "HEAD"});
  if (branch.status == 0) return std::nullopt;
  auto head = run_process({"git", "-C", dir_.string(), "rev-parse", "--short", "HEAD"});
  std::string at = head.status == 0 ? head.out.substr(0, head.out.find('\n')) : "an unborn commit";
  return fmt::format("HEAD is detached at {}", at);
}

bool ValuesDir::write(const std::string& file_name, const std::string& content) const {
  auto path = dir_ / file_name;
  if (file_has_content(path, content)) return false;
  write_file_atomic(path, content);
  return true;
}

namespace {

/// One entry of `git status --porcelain=v1 -z`: the two status letters and the path.
struct GitStatusEntry {
  char index = ' ';
  char worktree = ' ';
  std::string path;
};

std::vector<GitStatusEntry> parse_git_status(const std::string& out) {
  std::vector<GitStatusEntry> entries;
  size_t pos = 0;
  while (pos + 3 <= out.size()) {
    size_t end = out.find('\0', pos);
    if (end == std::string::npos) end = out.size();
    std::string rec = out.substr(pos, end - pos);
    pos = end + 1;
    if (rec.size() < 4) continue;
    GitStatusEntry e{rec[0], rec[1], rec.substr(3)};
    // A rename or copy is followed by the path it came from, as a record of its own.
    if (e.index == 'R' || e.index == 'C') {
      size_t from_end = out.find('\0', pos);
      pos = from_end == std::string::npos ? out.size() : from_end + 1;
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace

bool ValuesDir::commit(const std::string& file_name, const std::string& message) const {
  if (!git_) return false;
  // Every status git reports is handled: a file that differs from HEAD in any way (modified,
  // type changed (a symbolic link replaced by the file), added, deleted, renamed, copied,
  // untracked) is added and committed; a file git ignores or in a merge conflict is an error.
  auto status = run_process(
      {"git", "-C", dir_.string(), "status", "--porcelain=v1", "-z", "--ignored=matching", "--", file_name});
  if (status.status != 0)
    throw std::runtime_error(fmt::format("git status in {} failed: {}", dir_.string(), status.err));
  bool changed = false;
  for (const auto& e : parse_git_status(status.out)) {
    std::string code{e.index, e.worktree};
    if (code == "!!")
      throw std::runtime_error(fmt::format("{} is ignored by git (a .gitignore rule matches it): it was written but not "
                                           "committed; remove the rule",
                                           (dir_ / file_name).string()));
    if (e.index == 'U' || e.worktree == 'U' || code == "AA" || code == "DD")
      throw std::runtime_error(fmt::format("{} has an unresolved merge conflict in git: it was written but not "
                                           "committed; resolve the conflict first",
                                           (dir_ / file_name).string()));
    changed = true;
  }
  if (!changed) return false;
  auto add = run_process({"git", "-C", dir_.string(), "add", "--", file_name});
  if (add.status != 0) throw std::runtime_error(fmt::format("git add {} failed: {}", file_name, add.err));
  auto commit = run_process({"git", "-C", dir_.string(), "commit", "-q", "-m", message, "--", file_name});
  if (commit.status != 0)
    throw std::runtime_error(fmt::format("git commit of {} in {} failed: {}{}", file_name, dir_.string(), commit.err,
                                         commit.out));
  return true;
}

std::vector<std::string> ValuesDir::yaml_files() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    auto name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > 5 && name.ends_with(".yaml") && name[0] != '.') out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void ValuesDir::remove(const std::string& file_name) const {
  if (git_) {
    auto tracked = run_process({"git", "-C", dir_.string(), "ls-files", "--error-unmatch", "--", file_name});
    if (tracked.status == 0) {
      auto rm = run_process({"git", "-C", dir_.string(), "rm", "-q", "--", file_name});
      if (rm.status != 0) throw std::runtime_error(fmt::format("git rm {} failed: {}", file_name, rm.err));
      auto c = run_process({"git", "-C", dir_.string(), "commit", "-q", "-m",
                            fmt::format("Removing release values '{}'", file_name), "--", file_name});
      if (c.status != 0) throw std::runtime_error(fmt::format("git commit of {} failed: {}", file_name, c.err));
      return;
    }
  }
  std::filesystem::remove(dir_ / file_name);
}

std::optional<std::string> ValuesDir::head() const {
  if (!git_) return std::nullopt;
  auto r = run_process({"git", "-C", dir_.string(), "rev-parse", "--verify", "-q", "HEAD"});
  if (r.status != 0) return std::nullopt;
  return r.out.substr(0, r.out.find('\n'));
}

std::vector<std::string> ValuesDir::revert_to(const std::string& commit, const std::string& message) const {
  auto git = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"git", "-C", dir_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_process(argv);
    if (r.status != 0) throw std::runtime_error(fmt::format("git {} in {} failed: {}{}", args[0], dir_.string(), r.err, r.out));
    return r.out;
  };
  std::vector<std::string> files;
  std::string changed = git({"diff", "--name-only", "-z", commit, "HEAD", "--", "*.yaml"});
  for (size_t at = 0; at < changed.size();) {
    size_t end = changed.find('\0', at);
    if (end == std::string::npos) end = changed.size();
    if (end > at) files.push_back(changed.substr(at, end - at));
    at = end + 1;
  }
  if (files.empty()) return files;
  for (const auto& f : files) {
    bool had = run_process({"git", "-C", dir_.string(), "cat-file", "-e", commit + ":" + f}).status == 0;
    if (had)
      git({"checkout", commit, "--", f});
    else
      git({"rm", "-q", "--", f});
  }
  std::vector<std::string> args = {"commit", "-q", "-m", message, "--"};
  args.insert(args.end(), files.begin(), files.end());
  git(args);
  return files;
}

namespace {

constexpr size_t kDeploysKept = 100;

}  // namespace

std::vector<ValuesDeploy> load_deploys(const std::filesystem::path& state_dir) {
  std::vector<ValuesDeploy> out;
  std::error_code ec;
  auto path = state_dir / "values-deploys.json";
  if (!std::filesystem::exists(path, ec)) return out;
  auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (!j.is_object() || !j.contains("deploys") || !j["deploys"].is_array())
    throw std::runtime_error(fmt::format("{} is not a record of deploys", path.string()));
  for (const auto& d : j["deploys"])
    if (d.is_object())
      out.push_back({d.value("values_dir", ""), d.value("before", ""), d.value("after", ""), d.value("what", ""),
                     d.value("time", "")});
  return out;
}

void record_deploy(const std::filesystem::path& state_dir, const ValuesDeploy& d) {
  std::vector<ValuesDeploy> all = load_deploys(state_dir);
  all.push_back(d);
  if (all.size() > kDeploysKept) all.erase(all.begin(), all.end() - kDeploysKept);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& x : all)
    list.push_back({{"values_dir", x.values_dir}, {"before", x.before}, {"after", x.after}, {"what", x.what}, {"time", x.time}});
  std::filesystem::create_directories(state_dir);
  write_file_atomic(state_dir / "values-deploys.json", nlohmann::json{{"deploys", list}}.dump(2) + "\n");
}

}  // namespace flavourgraph
