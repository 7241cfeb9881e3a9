#include "dir_stack.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace flavourgraph::oci {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

}  // namespace

DirStack::DirStack(int fd, std::filesystem::path where) : root_(std::move(where)) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("cannot stat {}: {}", root_.string(), std::strerror(e)));
  }
  levels_.push_back({fd, st.st_dev, st.st_ino, {}});
}

DirStack::~DirStack() {
  for (auto& l : levels_)
    if (l.fd >= 0) ::close(l.fd);
}

std::filesystem::path DirStack::path() const {
  std::filesystem::path p = root_;
  for (size_t i = 1; i < levels_.size(); ++i) p /= levels_[i].name;
  return p;
}

size_t DirStack::open_count() const {
  size_t n = 0;
  for (const auto& l : levels_) n += l.fd >= 0;
  return n;
}

void DirStack::push(std::string_view name, dev_t dev, ino_t ino) {
  std::string n(name);
  int fd = ::openat(levels_.back().fd, n.c_str(), kDirFlags);
  if (fd < 0)
    throw std::runtime_error(fmt::format("cannot open directory {}: {}", (path() / n).string(), std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (ino != 0 && (st.st_dev != dev || st.st_ino != ino))) {
    ::close(fd);
    throw std::runtime_error(fmt::format("{} changed while it was being read", (path() / n).string()));
  }
  levels_.push_back({fd, st.st_dev, st.st_ino, std::move(n)});
  // Only the deepest kKeepOpen levels (and the root) keep their descriptors.
  if (levels_.size() > kKeepOpen + 1) {
    Level& old = levels_[levels_.size() - 1 - kKeepOpen];
    if (old.fd >= 0 && &old != &levels_.front()) {
      ::close(old.fd);
      old.fd = -1;
    }
  }
}

void DirStack::pop() {
  if (levels_.size() <= 1) return;
  Level child = std::move(levels_.back());
  levels_.pop_back();
  Level& parent = levels_.back();
  if (parent.fd < 0) {
    // Reopened through "..", which is the parent unless the tree was moved meanwhile.
    int fd = ::openat(child.fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st {};
    bool same = fd >= 0 && ::fstat(fd, &st) == 0 && st.st_dev == parent.dev && st.st_ino == parent.ino;
    if (!same) {
      if (fd >= 0) ::close(fd);
      ::close(child.fd);
      throw std::runtime_error(fmt::format("{} was moved while it was being read", path().string()));
    }
    parent.fd = fd;
  }
  ::close(child.fd);
}

int DirCursor::enter(std::string_view rel_dir) {
  // The components of rel_dir, compared with the current ones.
  size_t common = 0, pos = 0;
  std::vector<std::string_view> want;
  while (pos < rel_dir.size()) {
    size_t slash = rel_dir.find('/', pos);
    if (slash == std::string_view::npos) slash = rel_dir.size();
    want.push_back(rel_dir.substr(pos, slash - pos));
    pos = slash + 1;
  }
  while (common < want.size() && common < names_.size() && names_[common] == want[common]) ++common;
  while (names_.size() > common) {
    stack_.pop();
    names_.pop_back();
  }
  for (size_t i = common; i < want.size(); ++i) {
    stack_.push(want[i]);
    names_.emplace_back(want[i]);
  }
  return stack_.fd();
}

}  // namespace flavourgraph::oci
