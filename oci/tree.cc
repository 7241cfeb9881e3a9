#include "flavourgraph/oci/tree.h"

#include "dir_stack.h"
#include "flavourgraph/oci/digest.h"
#include "flavourgraph/oci/tree_index.h"

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
#include <mutex>
#include <stdexcept>

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

namespace flavourgraph::oci {

namespace {

[[noreturn]] void fail_errno(const std::string& what, const std::filesystem::path& p) {
  throw std::runtime_error(fmt::format("{} {}: {}", what, p.string(), std::strerror(errno)));
}

/// A directory's listing: its own entries in tar order, and after some of them the listing of
/// the subdirectory they are (walked in parallel, joined once at the end).
struct DirListing {
  std::vector<TreeEntry> entries;
  std::vector<std::pair<size_t, std::unique_ptr<DirListing>>> subs;  ///< (after entry #, listing)
  std::vector<std::string> skipped;
  std::exception_ptr error;

  [[nodiscard]] size_t total() const {
    size_t n = entries.size();
    for (const auto& [_, sub] : subs) n += sub->total();
    return n;
  }

  void flatten_into(std::vector<TreeEntry>& out, std::vector<std::string>& skipped_out) {
    if (error) std::rethrow_exception(error);
    skipped_out.insert(skipped_out.end(), skipped.begin(), skipped.end());
    size_t next = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
      out.push_back(std::move(entries[i]));
      for (; next < subs.size() && subs[next].first == i + 1; ++next) subs[next].second->flatten_into(out, skipped_out);
    }
  }
};

/// One directory's children, read with getdents64 and fstatat: compact records, names packed
/// in one buffer (no allocation per entry), sorted in tar order.
struct DirRead {
  struct Child {
    uint32_t name_off = 0;
    uint32_t name_len = 0;
    EntryType type = EntryType::file;
    uint32_t mode = 0;
    uint32_t nlink = 0;
    uint32_t rdev_major = 0, rdev_minor = 0;
    uint64_t size = 0, inode = 0, dev = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    std::string link;
  };
  std::string names;
  std::vector<Child> children;
  std::vector<std::string> sockets;

  [[nodiscard]] std::string_view name(const Child& c) const { return {names.data() + c.name_off, c.name_len}; }

  /// Reads the directory open as `fd` (left open). Throws naming the path on errors.
  void read(int fd, const std::filesystem::path& where) {
    // On the heap: the parallel part of a walk nests, and a worker thread's stack is small.
    static thread_local std::vector<char> buffer(32768);
    char* buf = buffer.data();
    while (true) {
      ssize_t n = ::getdents64(fd, buf, buffer.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        fail_errno("cannot list", where);
      }
      if (n == 0) break;
      for (ssize_t off = 0; off < n;) {
        auto* de = reinterpret_cast<struct dirent64*>(buf + off);
        off += de->d_reclen;
        const char* nm = de->d_name;
        if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0'))) continue;
        if (std::strncmp(nm, ".wh.", 4) == 0)
          throw std::runtime_error(fmt::format("{}: a name starting with .wh. is a whiteout in an image layer and "
                                               "would delete files of the layers below; rename it or exclude it",
                                               (where / nm).string()));
        struct stat st {};
        if (::fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW) != 0) fail_errno("cannot stat", where / nm);
        Child c;
        switch (st.st_mode & S_IFMT) {
          case S_IFREG: c.type = EntryType::file; c.size = static_cast<uint64_t>(st.st_size); break;
          case S_IFDIR: c.type = EntryType::dir; break;
          case S_IFLNK: c.type = EntryType::symlink; break;
          case S_IFIFO: c.type = EntryType::fifo; break;
          case S_IFCHR: c.type = EntryType::chardev; break;
          case S_IFBLK: c.type = EntryType::blockdev; break;
          default: sockets.emplace_back(nm); continue;  // sockets cannot be archived
        }
        c.mode = st.st_mode & 07777;
        c.nlink = static_cast<uint32_t>(st.st_nlink);
        c.inode = st.st_ino;
        c.dev = st.st_dev;
        c.mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
        c.ctime_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
        if (c.type == EntryType::chardev || c.type == EntryType::blockdev) {
          c.rdev_major = major(st.st_rdev);
          c.rdev_minor = minor(st.st_rdev);
        }
        if (c.type == EntryType::symlink) {
          std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
          ssize_t len = ::readlinkat(fd, nm, target.data(), target.size());
          if (len < 0) fail_errno("cannot read link", where / nm);
          target.resize(static_cast<size_t>(len));
          c.link = std::move(target);
        }
        c.name_off = static_cast<uint32_t>(names.size());
        c.name_len = static_cast<uint32_t>(std::strlen(nm));
        names.append(nm, c.name_len);
        children.push_back(std::move(c));
      }
    }
    std::sort(children.begin(), children.end(), [&](const Child& a, const Child& b) {
      return tar_path_less(name(a), a.type == EntryType::dir, name(b), b.type == EntryType::dir);
    });
  }

  [[nodiscard]] TreeEntry entry(const Child& c, std::string path) const {
    TreeEntry e;
    e.path = std::move(path);
    e.type = c.type;
    e.mode = c.mode;
    e.size = c.size;
    e.mtime_ns = c.mtime_ns;
    e.ctime_ns = c.ctime_ns;
    e.inode = c.inode;
    e.dev = c.dev;
    e.nlink = c.nlink;
    e.rdev_major = c.rdev_major;
    e.rdev_minor = c.rdev_minor;
    e.link = c.link;
    return e;
  }
};

/// Closes a file descriptor on scope exit.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

/// Below this depth sibling directories are read in parallel, one nested task each (so the
/// nesting, and the stack it takes, is bounded by it); deeper, one task visits each subtree
/// iteratively.
constexpr size_t kParallelDepth = 12;

/// Visits the subtree of the directory open as `dirfd` (taken) depth-first in tar order with
/// no recursion and a bounded number of open descriptors (DirStack): `v.entry(rel, dir,
/// child)` for each entry the filter keeps, `v.enter()` after a directory's entry and
/// `v.leave()` after its contents, `v.sockets(prefix, names)` for what cannot be archived.
template <class Visitor>
void visit_iterative(int dirfd, const std::string& prefix, const std::filesystem::path& root, const Filter& filter,
                     const CancelSource* cancel, Visitor& v) {
  struct Frame {
    DirRead dir;
    size_t next = 0;
    std::string prefix;
  };
  DirStack fds(dirfd, root / prefix);
  std::vector<Frame> frames(1);
  frames[0].prefix = prefix;
  frames[0].dir.read(fds.fd(), root / prefix);
  v.sockets(prefix, frames[0].dir.sockets);
  while (!frames.empty()) {
    if (cancel && cancel->requested()) return;
    Frame& f = frames.back();
    if (f.next == f.dir.children.size()) {
      frames.pop_back();
      if (!frames.empty()) {
        fds.pop();
        v.leave();
      }
      continue;
    }
    const DirRead::Child& c = f.dir.children[f.next++];
    std::string_view name = f.dir.name(c);
    std::string rel = f.prefix.empty() ? std::string(name) : f.prefix + "/" + std::string(name);
    bool is_dir = c.type == EntryType::dir;
    if (!filter.empty() && filter.excluded(rel, is_dir)) continue;
    v.entry(rel, f.dir, c);
    if (!is_dir) continue;
    fds.push(name, static_cast<dev_t>(c.dev), static_cast<ino_t>(c.inode));
    v.enter();
    Frame sub;  // `f` and `c` are not used past this point: frames may move
    sub.prefix = std::move(rel);
    sub.dir.read(fds.fd(), root / sub.prefix);
    v.sockets(sub.prefix, sub.dir.sockets);
    frames.push_back(std::move(sub));
  }
}

/// Adds socket names (not archivable) under `prefix` to `out`.
void add_sockets(std::vector<std::string>& out, const std::string& prefix, const std::vector<std::string>& names) {
  for (const auto& n : names) out.push_back(prefix.empty() ? n : prefix + "/" + n);
}

/// Walks a tree. Subdirectories are walked in parallel (oneTBB tasks, isolated so the calling
/// task's thread runs nothing else meanwhile); the listings are joined in tar order at the end,
/// so the result is the same as a sequential walk. Hard links are found afterwards, in order,
/// so the first path in tar order is always the file.
class Walker {
 public:
  Walker(const std::filesystem::path& root, const Filter& filter, const CancelSource* cancel)
      : root_(root), filter_(filter), cancel_(cancel) {}

  TreeListing run() {
    TreeListing out;
    int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_errno("cannot open source directory", root_);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      fail_errno("cannot stat", root_);
    }
    DirListing top;
    tbb::this_task_arena::isolate([&] { walk(fd, "", top, 0); });
    out.entries.reserve(1 + top.total());
    out.entries.push_back(entry_of(st, EntryType::dir));
    top.flatten_into(out.entries, out.skipped);
    std::map<std::pair<uint64_t, uint64_t>, std::string> first_path;
    for (auto& x : out.entries) {
      if (x.type != EntryType::file) continue;
      if (x.nlink >= 2) {
        auto [it, first] = first_path.emplace(std::make_pair(x.dev, x.inode), x.path);
        if (!first) {
          x.type = EntryType::hardlink;
          x.link = it->second;
          continue;  // its bytes are counted once, with the file
        }
      }
      out.file_bytes += x.size;
    }
    return out;
  }

 private:
  static TreeEntry entry_of(const struct stat& st, EntryType type) {
    TreeEntry e;
    e.type = type;
    e.mode = st.st_mode & 07777;
    e.mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
    e.ctime_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
    e.inode = st.st_ino;
    e.dev = st.st_dev;
    e.nlink = static_cast<uint32_t>(st.st_nlink);
    if (type == EntryType::file) e.size = static_cast<uint64_t>(st.st_size);
    if (type == EntryType::chardev || type == EntryType::blockdev) {
      e.rdev_major = major(st.st_rdev);
      e.rdev_minor = minor(st.st_rdev);
    }
    return e;
  }

  /// Lists the directory open as `dirfd` (which it closes), `depth` levels below the root,
  /// into `out`.
  void walk(int dirfd, const std::string& prefix, DirListing& out, size_t depth) {
    if (depth >= kParallelDepth) {
      struct Lister {
        DirListing& out;
        void entry(const std::string& rel, const DirRead& d, const DirRead::Child& c) {
          out.entries.push_back(d.entry(c, rel));
        }
        void enter() {}
        void leave() {}
        void sockets(const std::string& p, const std::vector<std::string>& names) { add_sockets(out.skipped, p, names); }
      } lister{out};
      visit_iterative(dirfd, prefix, root_, filter_, cancel_, lister);
      return;
    }
    FdCloser closer{dirfd};
    DirRead dir;
    dir.read(dirfd, root_ / prefix);
    add_sockets(out.skipped, prefix, dir.sockets);
    // Subdirectories are opened by the task that walks them: only a few descriptors are open
    // at once (growing the descriptor table of a threaded process waits for RCU).
    std::vector<std::pair<size_t, std::string>> subs;  // (entries after which it goes, name)
    out.entries.reserve(dir.children.size());
    for (const auto& c : dir.children) {
      if (cancel_ && cancel_->requested()) break;
      std::string_view name = dir.name(c);
      std::string rel = prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
      bool is_dir = c.type == EntryType::dir;
      if (!filter_.empty() && filter_.excluded(rel, is_dir)) continue;
      if (is_dir) subs.emplace_back(out.entries.size() + 1, std::string(name));
      out.entries.push_back(dir.entry(c, std::move(rel)));
    }
    out.subs.reserve(subs.size());
    for (const auto& s : subs) out.subs.emplace_back(s.first, std::make_unique<DirListing>());
    auto one = [&](size_t i) {
      DirListing& sub = *out.subs[i].second;
      try {
        const std::string& rel = out.entries[subs[i].first - 1].path;
        int fd = ::openat(dirfd, subs[i].second.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) fail_errno("cannot open directory", root_ / rel);
        walk(fd, rel, sub, depth + 1);
      } catch (...) {
        sub.error = std::current_exception();
      }
    };
    if (subs.size() == 1)
      one(0);
    else if (!subs.empty())
      tbb::parallel_for(size_t{0}, subs.size(), one);
  }

  const std::filesystem::path& root_;
  const Filter& filter_;
  const CancelSource* cancel_;
};

}  // namespace

namespace {

/// The part of an entry the tree hash covers. A hard link hashes as the file it is (a walk
/// that only hashes cannot tell which path comes first).
void hash_entry(Sha256& h, const TreeEntry& e, std::string_view name) {
  struct Fixed {
    uint64_t type, mode, size, inode, nlink, rdev;
    int64_t mtime_ns, ctime_ns;
  };
  bool hard = e.type == EntryType::hardlink;
  Fixed f{static_cast<uint64_t>(hard ? EntryType::file : e.type), e.mode, e.size, e.inode, e.nlink,
          (static_cast<uint64_t>(e.rdev_major) << 32) | e.rdev_minor, e.mtime_ns, e.ctime_ns};
  h.update(&f, sizeof f);
  h.update(name.data(), name.size());
  h.update("\0", 1);
  if (!hard) h.update(e.link.data(), e.link.size());
  h.update("\0", 1);
}

/// The hash of one child's entry, as hash_entry hashes a listing's entry.
void hash_child(Sha256& h, const DirRead& dir, const DirRead::Child& c) {
  TreeEntry e;
  e.type = c.type;
  e.mode = c.mode;
  e.size = c.size;
  e.inode = c.inode;
  e.nlink = c.nlink;
  e.rdev_major = c.rdev_major;
  e.rdev_minor = c.rdev_minor;
  e.mtime_ns = c.mtime_ns;
  e.ctime_ns = c.ctime_ns;
  e.link = c.link;
  hash_entry(h, e, dir.name(c));
}

/// A tree hash in progress: what every directory's task shares.
struct HashWalk {
  const std::filesystem::path& root;
  const Filter& filter;
  const CancelSource* cancel;
  std::mutex mutex;
  std::vector<std::string> sockets;

  void add_sockets_locked(const std::string& prefix, const std::vector<std::string>& names) {
    if (names.empty()) return;
    std::lock_guard lock(mutex);
    add_sockets(sockets, prefix, names);
  }

  /// Hashes one directory (open as `dirfd`, which it closes), `depth` levels below the root:
  /// its entries in tar order, each directory's entry followed by the hash of its contents.
  /// Subdirectories hash in parallel down to kParallelDepth, iteratively below.
  std::string dir(int dirfd, const std::string& prefix, size_t depth) {
    if (depth >= kParallelDepth) {
      struct Hasher {
        HashWalk& walk;
        std::vector<Sha256> levels;
        void entry(const std::string&, const DirRead& d, const DirRead::Child& c) { hash_child(levels.back(), d, c); }
        void enter() { levels.emplace_back(); }
        void leave() {
          std::string done = levels.back().finish_hex();
          levels.pop_back();
          levels.back().update(done);
        }
        void sockets(const std::string& p, const std::vector<std::string>& names) { walk.add_sockets_locked(p, names); }
      } hasher{*this, {}};
      hasher.levels.emplace_back();
      visit_iterative(dirfd, prefix, root, filter, cancel, hasher);
      return hasher.levels.front().finish_hex();
    }
    FdCloser closer{dirfd};
    DirRead d;
    d.read(dirfd, root / prefix);
    add_sockets_locked(prefix, d.sockets);
    std::vector<char> keep(d.children.size(), 1);
    std::vector<size_t> subs;  // child indices of directories, opened by the task that hashes them
    for (size_t i = 0; i < d.children.size(); ++i) {
      const auto& c = d.children[i];
      bool is_dir = c.type == EntryType::dir;
      if (!filter.empty()) {
        std::string rel = prefix.empty() ? std::string(d.name(c)) : prefix + "/" + std::string(d.name(c));
        if (filter.excluded(rel, is_dir)) {
          keep[i] = 0;
          continue;
        }
      }
      if (is_dir) subs.push_back(i);
    }
    if (cancel && cancel->requested()) return {};
    std::vector<std::string> sub_hash(subs.size());
    std::vector<std::exception_ptr> errors(subs.size());
    auto one = [&](size_t k) {
      try {
        std::string name(d.name(d.children[subs[k]]));
        std::string rel = prefix.empty() ? name : prefix + "/" + name;
        int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) fail_errno("cannot open directory", root / rel);
        sub_hash[k] = dir(fd, rel, depth + 1);
      } catch (...) {
        errors[k] = std::current_exception();
      }
    };
    if (subs.size() == 1)
      one(0);
    else if (!subs.empty())
      tbb::parallel_for(size_t{0}, subs.size(), one);
    for (auto& err : errors)
      if (err) std::rethrow_exception(err);
    Sha256 h;
    for (size_t i = 0, k = 0; i < d.children.size(); ++i) {
      if (!keep[i]) continue;
      hash_child(h, d, d.children[i]);
      if (d.children[i].type == EntryType::dir) h.update(sub_hash[k++]);
    }
    return h.finish_hex();
  }
};

}  // namespace

std::string tree_hash(const std::filesystem::path& root, const Filter& filter, const CancelSource* cancel,
                      std::vector<std::string>* skipped) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_errno("cannot open source directory", root);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail_errno("cannot stat", root);
  }
  TreeEntry top;
  top.type = EntryType::dir;
  top.mode = st.st_mode & 07777;
  top.mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
  top.ctime_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
  top.inode = st.st_ino;
  top.nlink = static_cast<uint32_t>(st.st_nlink);
  std::string contents;
  HashWalk walk{root, filter, cancel, {}, {}};
  tbb::this_task_arena::isolate([&] { contents = walk.dir(fd, "", 0); });
  if (skipped) {
    std::sort(walk.sockets.begin(), walk.sockets.end());
    *skipped = std::move(walk.sockets);
  }
  Sha256 h;
  hash_entry(h, top, "");
  h.update(contents);
  return h.finish_hex();
}

std::string tree_hash(const TreeListing& listing) {
  if (listing.entries.empty()) return {};
  struct Frame {
    std::string path;
    Sha256 h;
  };
  std::vector<Frame> stack;
  stack.push_back({"", Sha256()});
  auto close_top = [&] {
    std::string done = stack.back().h.finish_hex();
    stack.pop_back();
    stack.back().h.update(done);
  };
  for (size_t i = 1; i < listing.entries.size(); ++i) {
    const TreeEntry& e = listing.entries[i];
    auto slash = e.path.rfind('/');
    std::string_view parent = slash == std::string::npos ? std::string_view() : std::string_view(e.path).substr(0, slash);
    std::string_view name = slash == std::string::npos ? std::string_view(e.path) : std::string_view(e.path).substr(slash + 1);
    while (stack.size() > 1 && stack.back().path != parent) close_top();
    hash_entry(stack.back().h, e, name);
    if (e.type == EntryType::dir) stack.push_back({e.path, Sha256()});
  }
  while (stack.size() > 1) close_top();
  std::string contents = stack.back().h.finish_hex();
  TreeEntry top = listing.entries.front();
  Sha256 h;
  hash_entry(h, top, "");
  h.update(contents);
  return h.finish_hex();
}

TreeListing walk_tree(const std::filesystem::path& root, const Filter& filter, const CancelSource* cancel) {
  return Walker(root, filter, cancel).run();
}

std::string content_digest(const TreeIndex& index) {
  Sha256 h;
  for (const auto& e : index.entries)
    h.update(fmt::format("{}:{} {} {:o} {} {} {}:{} {}:{}\n", e.path.size(), e.path, static_cast<int>(e.type), e.mode,
                         e.size, e.digest, e.link.size(), e.link, e.rdev_major, e.rdev_minor));
  return h.finish_hex();
}

}  // namespace flavourgraph::oci
