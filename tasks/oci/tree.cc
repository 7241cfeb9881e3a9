#include "tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>

namespace flavourgraph::oci {

namespace {

/// Matches a character class at glob[gi] ('[' included) against c; returns the index after
/// ']' through `end`, or npos when malformed (then '[' is literal).
bool class_match(std::string_view glob, size_t gi, char c, size_t* end) {
  size_t i = gi + 1;
  bool negate = i < glob.size() && (glob[i] == '!' || glob[i] == '^');
  if (negate) ++i;
  bool matched = false;
  bool first = true;
  for (; i < glob.size(); ++i) {
    if (glob[i] == ']' && !first) {
      *end = i + 1;
      return matched != negate;
    }
    first = false;
    char lo = glob[i];
    if (lo == '\\' && i + 1 < glob.size()) lo = glob[++i];
    char hi = lo;
    if (i + 2 < glob.size() && glob[i + 1] == '-' && glob[i + 2] != ']') {
      hi = glob[i + 2];
      i += 2;
    }
    if (c >= lo && c <= hi) matched = true;
  }
  *end = std::string_view::npos;
  return false;
}

bool match_from(std::string_view g, size_t gi, std::string_view t, size_t ti, int depth) {
  if (depth > 64) return false;  // bounded backtracking for pathological patterns
  while (gi < g.size()) {
    char c = g[gi];
    if (c == '*') {
      bool star2 = gi + 1 < g.size() && g[gi + 1] == '*';
      size_t next = gi + (star2 ? 2 : 1);
      while (next < g.size() && g[next] == '*') ++next;
      if (next == g.size()) return star2 || t.find('/', ti) == std::string_view::npos;
      for (size_t k = ti; k <= t.size(); ++k) {
        if (match_from(g, next, t, k, depth + 1)) return true;
        if (k < t.size() && t[k] == '/' && !star2) return false;
      }
      return false;
    }
    if (ti >= t.size()) return false;
    if (c == '?') {
      if (t[ti] == '/') return false;
      ++gi;
      ++ti;
      continue;
    }
    if (c == '[') {
      size_t end = 0;
      bool ok = class_match(g, gi, t[ti], &end);
      if (end != std::string_view::npos) {
        if (!ok || t[ti] == '/') return false;
        gi = end;
        ++ti;
        continue;
      }
    }
    if (c == '\\' && gi + 1 < g.size()) c = g[++gi];
    if (c != t[ti]) return false;
    ++gi;
    ++ti;
  }
  return ti == t.size();
}

[[noreturn]] void fail_errno(const std::string& what, const std::filesystem::path& p) {
  throw std::runtime_error(fmt::format("{} {}: {}", what, p.string(), std::strerror(errno)));
}

struct Child {
  std::string name;
  struct stat st;
  std::string key;  ///< name, plus '/' for directories: the sort key of tar order
};

class Walker {
 public:
  Walker(const std::filesystem::path& root, const Filter& filter, const CancelSource* cancel, TreeListing& out)
      : root_(root), filter_(filter), cancel_(cancel), out_(out) {}

  void run() {
    int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_errno("cannot open source directory", root_);
    struct stat st {};
    if (::fstat(fd, &st) != 0) fail_errno("cannot stat", root_);
    TreeEntry e;
    e.type = EntryType::dir;
    e.mode = st.st_mode & 07777;
    e.mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
    e.inode = st.st_ino;
    e.dev = st.st_dev;
    out_.entries.push_back(std::move(e));
    walk(fd, "");
  }

 private:
  void walk(int dirfd, const std::string& prefix) {
    DIR* d = ::fdopendir(dirfd);
    if (!d) {
      ::close(dirfd);
      fail_errno("cannot list", root_ / prefix);
    }
    std::vector<Child> children;
    errno = 0;
    while (dirent* de = ::readdir(d)) {
      if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
      Child c;
      c.name = de->d_name;
      if (::fstatat(dirfd, de->d_name, &c.st, AT_SYMLINK_NOFOLLOW) != 0) {
        int e = errno;
        ::closedir(d);
        errno = e;
        fail_errno("cannot stat", root_ / prefix / c.name);
      }
      c.key = c.name;
      if (S_ISDIR(c.st.st_mode)) c.key += '/';
      children.push_back(std::move(c));
    }
    std::sort(children.begin(), children.end(), [](const Child& a, const Child& b) { return a.key < b.key; });
    for (auto& c : children) {
      if (cancel_ && (++seen_ & 1023) == 0 && cancel_->requested()) break;
      std::string rel = prefix.empty() ? c.name : prefix + "/" + c.name;
      bool is_dir = S_ISDIR(c.st.st_mode);
      if (!filter_.empty() && filter_.excluded(rel, is_dir)) continue;
      TreeEntry e;
      e.path = rel;
      e.mode = c.st.st_mode & 07777;
      e.mtime_ns = c.st.st_mtim.tv_sec * 1'000'000'000LL + c.st.st_mtim.tv_nsec;
      e.ctime_ns = c.st.st_ctim.tv_sec * 1'000'000'000LL + c.st.st_ctim.tv_nsec;
      e.inode = c.st.st_ino;
      e.dev = c.st.st_dev;
      e.nlink = static_cast<uint32_t>(c.st.st_nlink);
      switch (c.st.st_mode & S_IFMT) {
        case S_IFREG: {
          e.type = EntryType::file;
          e.size = static_cast<uint64_t>(c.st.st_size);
          if (c.st.st_nlink > 1) {
            auto [it, first] = links_.emplace(std::make_pair(e.dev, e.inode), rel);
            if (!first) {
              e.type = EntryType::hardlink;
              e.link = it->second;
              e.size = 0;
            }
          }
          out_.file_bytes += e.size;
          break;
        }
        case S_IFDIR: e.type = EntryType::dir; break;
        case S_IFLNK: {
          e.type = EntryType::symlink;
          std::string target(static_cast<size_t>(c.st.st_size) + 1, '\0');
          ssize_t n = ::readlinkat(dirfd, c.name.c_str(), target.data(), target.size());
          if (n < 0) fail_errno("cannot read link", root_ / rel);
          target.resize(static_cast<size_t>(n));
          e.link = std::move(target);
          break;
        }
        case S_IFIFO: e.type = EntryType::fifo; break;
        case S_IFCHR:
        case S_IFBLK:
          e.type = S_ISCHR(c.st.st_mode) ? EntryType::chardev : EntryType::blockdev;
          e.rdev_major = major(c.st.st_rdev);
          e.rdev_minor = minor(c.st.st_rdev);
          break;
        default:
          out_.skipped.push_back(rel);  // sockets cannot be archived
          continue;
      }
      out_.entries.push_back(e);
      if (is_dir) {
        int fd = ::openat(dirfd, c.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
          int err = errno;
          ::closedir(d);
          errno = err;
          fail_errno("cannot open directory", root_ / rel);
        }
        walk(fd, rel);
      }
    }
    ::closedir(d);
  }

  const std::filesystem::path& root_;
  const Filter& filter_;
  const CancelSource* cancel_;
  TreeListing& out_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> links_;
  uint64_t seen_ = 0;
};

}  // namespace

bool glob_match(std::string_view glob, std::string_view text) { return match_from(glob, 0, text, 0, 0); }

Pattern::Pattern(std::string_view text) : text_(text) {
  std::string_view g = text;
  if (!g.empty() && g.front() == '/') {
    anchored_ = true;
    g.remove_prefix(1);
  }
  if (!g.empty() && g.back() == '/') {
    dir_only_ = true;
    g.remove_suffix(1);
  }
  glob_ = std::string(g);
  whole_path_ = anchored_ || glob_.find('/') != std::string::npos || glob_.find("**") != std::string::npos;
}

bool Pattern::matches(std::string_view rel, bool is_dir) const {
  if (dir_only_ && !is_dir) return false;
  if (anchored_) return glob_match(glob_, rel);
  if (!whole_path_) {
    auto slash = rel.rfind('/');
    return glob_match(glob_, slash == std::string_view::npos ? rel : rel.substr(slash + 1));
  }
  // Any trailing run of whole components: the path itself, and after each '/'.
  if (glob_match(glob_, rel)) return true;
  for (size_t i = 0; i < rel.size(); ++i)
    if (rel[i] == '/' && glob_match(glob_, rel.substr(i + 1))) return true;
  return false;
}

Filter::Filter(const std::vector<std::string>& include, const std::vector<std::string>& exclude) {
  for (const auto& p : include) rules_.emplace_back(true, Pattern(p));
  for (const auto& p : exclude) rules_.emplace_back(false, Pattern(p));
}

bool Filter::excluded(std::string_view rel, bool is_dir) const {
  for (const auto& [include, pattern] : rules_)
    if (pattern.matches(rel, is_dir)) return !include;
  return false;
}

TreeListing walk_tree(const std::filesystem::path& root, const Filter& filter, const CancelSource* cancel) {
  TreeListing out;
  Walker(root, filter, cancel, out).run();
  return out;
}

}  // namespace flavourgraph::oci
