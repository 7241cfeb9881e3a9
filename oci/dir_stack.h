#pragma once
/// Directories open along one path of a tree, for walks of any depth: each level is opened
/// relative to its parent by one name (never a path, so no path is ever too long and no
/// symbolic link is followed), only the deepest levels keep a descriptor, and an ancestor whose
/// descriptor was closed is reopened through ".." of its child and checked to be the same
/// directory (device and inode). A walk of a tree 100,000 levels deep holds at most
/// `kKeepOpen` + 1 descriptors.

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace flavourgraph::oci {

class DirStack {
 public:
  /// Descriptors kept open below the root: enough that ordinary trees never reopen one.
  static constexpr size_t kKeepOpen = 32;

  /// Takes ownership of `fd`, the directory at `where` (for messages).
  DirStack(int fd, std::filesystem::path where);
  ~DirStack();
  DirStack(const DirStack&) = delete;
  DirStack& operator=(const DirStack&) = delete;

  /// Opens `name` of the deepest directory and makes it the deepest. Throws std::runtime_error
  /// naming the path when it cannot be opened, is not a directory, or (when `ino` is not 0) is
  /// not the directory (dev, ino) that was listed.
  void push(std::string_view name, dev_t dev = 0, ino_t ino = 0);
  /// Leaves the deepest directory for its parent. The root is never popped.
  void pop();
  /// The descriptor of the deepest directory.
  [[nodiscard]] int fd() const { return levels_.back().fd; }
  /// Levels below the root.
  [[nodiscard]] size_t depth() const { return levels_.size() - 1; }
  /// The deepest directory's path, for messages.
  [[nodiscard]] std::filesystem::path path() const;
  /// The number of descriptors open now.
  [[nodiscard]] size_t open_count() const;

 private:
  struct Level {
    int fd = -1;
    dev_t dev = 0;
    ino_t ino = 0;
    std::string name;
  };
  std::filesystem::path root_;
  std::vector<Level> levels_;
};

/// A DirStack driven by relative directory paths visited in tree order (as a tar stream
/// visits them): `enter("a/b")` pops to the common ancestor and pushes the rest.
class DirCursor {
 public:
  DirCursor(int root_fd, std::filesystem::path root) : stack_(root_fd, std::move(root)) {}
  /// Makes `rel_dir` ('/'-separated, "" for the root) the current directory; returns its fd.
  int enter(std::string_view rel_dir);

 private:
  DirStack stack_;
  std::vector<std::string> names_;  ///< the components of the current directory
};

}  // namespace flavourgraph::oci
