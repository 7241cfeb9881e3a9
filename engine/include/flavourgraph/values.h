#pragma once
/// The values directory (design.md §5): files written only when their content changed,
/// through a temp file and a rename; in a git repository each changed file is committed on its
/// own. What the files hold is release_values.h's.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>


namespace flavourgraph {

/// A values directory, optionally a git work tree.
class ValuesDir {
 public:
  /// `git`: commit when the directory is in a git work tree. Off for the default directory,
  /// so that a run from inside some checkout never commits into it unasked.
  ValuesDir(std::filesystem::path dir, bool git);
  ~ValuesDir();
  ValuesDir(const ValuesDir&) = delete;
  ValuesDir& operator=(const ValuesDir&) = delete;

  /// Takes the directory's inter-process lock (flock on the directory itself: nothing is
  /// created in it) for this object's lifetime, so that two runs never interleave their files
  /// and commits. Throws std::runtime_error when another run holds it.
  void lock();
  /// In a git work tree whose HEAD is detached: a description ("HEAD is detached at abc1234"),
  /// since commits there belong to no branch. nullopt otherwise.
  [[nodiscard]] std::optional<std::string> detached_head() const;

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  /// True when the directory is inside a git work tree.
  [[nodiscard]] bool is_git() const { return git_; }
  /// Writes the file when its content differs (temp file + rename, mode 0666 less the umask).
  /// Returns true when it wrote.
  bool write(const std::string& file_name, const std::string& content) const;
  /// When git reports the file changed or untracked, commits it alone with `message`.
  /// Returns true when it committed; throws std::runtime_error with git's words on failure.
  bool commit(const std::string& file_name, const std::string& message) const;
  /// The *.yaml files in the directory.
  [[nodiscard]] std::vector<std::string> yaml_files() const;
  /// Removes a file (and commits the removal in a git repository).
  void remove(const std::string& file_name) const;
  /// The commit HEAD names (nullopt outside git or before the first commit).
  [[nodiscard]] std::optional<std::string> head() const;
  /// Puts every values file changed since `commit` back as `commit` had it (a file it did not
  /// have is removed) and commits them all in one commit with `message`. Returns the files.
  std::vector<std::string> revert_to(const std::string& commit, const std::string& message) const;

 private:
  std::filesystem::path dir_;
  bool git_ = false;
  int lock_fd_ = -1;
};

/// A deploy of values files: the values directory's HEAD before and after the commits of one
/// build, render or revert. Kept in the state dir (values-deploys.json, the last 100) so that
/// `values revert` knows what the previous good deploy was.
struct ValuesDeploy {
  std::string values_dir;  ///< absolute
  std::string before, after;
  std::string what;        ///< "build", "render" or "revert"
  std::string time;        ///< UTC, YYYY-MM-DD-HHMMSS
};

std::vector<ValuesDeploy> load_deploys(const std::filesystem::path& state_dir);
/// Adds a deploy (temp file, then rename).
void record_deploy(const std::filesystem::path& state_dir, const ValuesDeploy& d);

}  // namespace flavourgraph
