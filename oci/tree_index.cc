// Tree indexes (content only), the stat cache that keeps them cheap, and tree deltas.
#include "flavourgraph/oci/tree_index.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <mutex>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "dir_stack.h"
#include "flavourgraph/fs_util.h"
#include "flavourgraph/oci/digest.h"
#include "flavourgraph/oci/errors.h"

namespace flavourgraph::oci {

namespace {

constexpr std::string_view kIndexMagic = "flavourgraph-tree-index 1\n";
constexpr std::string_view kCacheMagic = "flavourgraph-stat-cache 2\n";
/// A file whose times are this close to the moment its digest was recorded may change again
/// within the same tick of the filesystem's clock without its stat changing ("racy" entries,
/// as git calls them): such a file is read again next time.
constexpr int64_t kRacyNs = 100'000'000;  // a coarse kernel clock tick is 1-10 ms
constexpr size_t kReadBuffer = 256 << 10;

char type_char(EntryType t) {
  switch (t) {
    case EntryType::file: return 'f';
    case EntryType::dir: return 'd';
    case EntryType::symlink: return 'l';
    case EntryType::hardlink: return 'h';
    case EntryType::fifo: return 'p';
    case EntryType::chardev: return 'c';
    case EntryType::blockdev: return 'b';
  }
  return '?';
}

std::optional<EntryType> type_of(std::string_view c) {
  if (c.size() != 1) return std::nullopt;
  switch (c[0]) {
    case 'f': return EntryType::file;
    case 'd': return EntryType::dir;
    case 'l': return EntryType::symlink;
    case 'h': return EntryType::hardlink;
    case 'p': return EntryType::fifo;
    case 'c': return EntryType::chardev;
    case 'b': return EntryType::blockdev;
    default: return std::nullopt;
  }
}

std::string zstd_pack(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  // Level 1: the index is made on every build; a few percent smaller is not worth 2x the time.
  size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 1);
  if (ZSTD_isError(n)) throw Error(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Expected<std::string> zstd_unpack(std::string_view blob, size_t limit) {
  unsigned long long size = ZSTD_getFrameContentSize(blob.data(), blob.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > limit)
    return Error("not a zstd frame of known size");
  std::string out(size, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), blob.data(), blob.size());
  if (ZSTD_isError(n) || n != size) return Error("a damaged zstd frame");
  return out;
}

/// NUL-terminated fields, read one by one.
struct Fields {
  std::string_view text;
  size_t pos = 0;
  std::optional<std::string_view> next() {
    size_t end = text.find('\0', pos);
    if (end == std::string_view::npos) return std::nullopt;
    auto f = text.substr(pos, end - pos);
    pos = end + 1;
    return f;
  }
  [[nodiscard]] bool done() const { return pos >= text.size(); }
};

template <class T>
bool number(std::string_view s, T* out, int base = 10) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

void put_field(std::string& out, std::string_view field) {
  out.append(field);
  out.push_back('\0');
}

/// Reads and hashes one file of a listing, opened relative to an open directory; its stat must
/// be the listing's before and after the read.
std::string hash_file(int root_fd, DirCursor* cursor, const std::filesystem::path& root, const TreeEntry& e,
                      uint64_t* bytes) {
  std::string full = (root / e.path).string();
  int fd;
  if (cursor) {
    auto slash = e.path.rfind('/');
    int dir = cursor->enter(slash == std::string::npos ? std::string_view() : std::string_view(e.path).substr(0, slash));
    fd = ::openat(dir, e.path.c_str() + (slash == std::string::npos ? 0 : slash + 1), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  } else {
    fd = ::openat(root_fd, e.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  }
  if (fd < 0) throw Error(fmt::format("cannot read {}: {}", full, std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  auto unchanged = [&](const char* when) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_ino != e.inode ||
        static_cast<uint64_t>(st.st_size) != e.size || st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec != e.mtime_ns ||
        st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec != e.ctime_ns)
      throw Error(fmt::format("{} changed {}; build again once the tree is quiet", full, when));
  };
  unchanged("since it was listed");
  Sha256 h;
  static thread_local std::unique_ptr<char[]> buf(new char[kReadBuffer]);  // not zeroed, not per file
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buf.get(), kReadBuffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(fmt::format("cannot read {}: {}", full, std::strerror(errno)));
    if (n == 0) break;
    h.update(buf.get(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  if (total != e.size) throw Error(fmt::format("{} changed while it was read; build again once the tree is quiet", full));
  unchanged("while it was read");
  *bytes += total;
  return h.finish_hex();
}

}  // namespace

bool tar_path_less(std::string_view a, bool a_dir, std::string_view b, bool b_dir) {
  size_t n = std::min(a.size(), b.size());
  int c = std::memcmp(a.data(), b.data(), n);
  if (c != 0) return c < 0;
  // One is a prefix of the other: compare what follows, a directory's path ending in '/'.
  auto at = [](std::string_view s, bool dir, size_t i) -> int {
    if (i < s.size()) return static_cast<unsigned char>(s[i]);
    if (i == s.size() && dir) return '/';
    return -1;
  };
  for (size_t i = n;; ++i) {
    int x = at(a, a_dir, i), y = at(b, b_dir, i);
    if (x != y) return x < y;
    if (x == -1) return false;
  }
}

std::string TreeIndex::serialize() const {
  std::string text(kIndexMagic);
  text += "spec " + spec + "\n";
  text.reserve(text.size() + entries.size() * 128);
  for (const auto& e : entries) {
    put_field(text, e.path);
    text.push_back(type_char(e.type));
    text.push_back('\0');
    char num[32];
    put_field(text, std::string_view(num, static_cast<size_t>(std::to_chars(num, num + sizeof num, e.mode, 8).ptr - num)));
    put_field(text, std::string_view(num, static_cast<size_t>(std::to_chars(num, num + sizeof num, e.size).ptr - num)));
    put_field(text, e.digest);
    put_field(text, e.link);
    char* p = std::to_chars(num, num + sizeof num, e.rdev_major).ptr;
    *p++ = ':';
    p = std::to_chars(p, num + sizeof num, e.rdev_minor).ptr;
    put_field(text, std::string_view(num, static_cast<size_t>(p - num)));
  }
  return zstd_pack(text);
}

Expected<TreeIndex> TreeIndex::parse(std::string_view blob) {
  auto text = zstd_unpack(blob, size_t{1} << 30);  // 185,000 files index to ~40 MB
  if (!text) return Error("tree index: " + text.message());
  std::string_view t = *text;
  if (t.rfind(kIndexMagic, 0) != 0) return Error("not a tree index (wrong header)");
  t.remove_prefix(kIndexMagic.size());
  auto nl = t.find('\n');
  if (nl == std::string_view::npos || t.rfind("spec ", 0) != 0) return Error("tree index: no spec line");
  TreeIndex idx;
  idx.spec = std::string(t.substr(5, nl - 5));
  Fields f{t.substr(nl + 1)};
  while (!f.done()) {
    auto path = f.next(), type = f.next(), mode = f.next(), size = f.next(), digest = f.next(), link = f.next(),
         dev = f.next();
    if (!dev) return Error("tree index: a truncated record");
    IndexEntry e;
    e.path = std::string(*path);
    auto ty = type_of(*type);
    auto colon = dev->find(':');
    if (!ty || !number(*mode, &e.mode, 8) || !number(*size, &e.size) || colon == std::string_view::npos ||
        !number(dev->substr(0, colon), &e.rdev_major) || !number(dev->substr(colon + 1), &e.rdev_minor))
      return Error(fmt::format("tree index: a bad record for '{}'", e.path));
    e.type = *ty;
    e.digest = std::string(*digest);
    e.link = std::string(*link);
    if (e.type == EntryType::file) idx.file_bytes += e.size;
    idx.entries.push_back(std::move(e));
  }
  return idx;
}

StatCache StatCache::load(const std::filesystem::path& file) {
  StatCache c;
  auto text = std::make_shared<std::string>();
  try {
    *text = read_file(file);
  } catch (const std::exception&) {
    return c;
  }
  if (text->rfind(kCacheMagic, 0) != 0) return c;
  Fields f{std::string_view(*text).substr(kCacheMagic.size())};
  int64_t saved_at = 0;
  auto saved = f.next();
  if (!saved || !number(*saved, &saved_at)) return c;
  std::string_view last;
  while (!f.done()) {
    auto path = f.next(), size = f.next(), mtime = f.next(), ctime = f.next(), ino = f.next(), dev = f.next(),
         digest = f.next();
    Stat s;
    if (!digest || !number(*size, &s.size) || !number(*mtime, &s.mtime_ns) || !number(*ctime, &s.ctime_ns) ||
        !number(*ino, &s.inode) || !number(*dev, &s.dev) || digest->size() != 64 || *path <= last)
      return StatCache{};  // damaged or out of order: start again (files are read once more)
    s.path = last = *path;
    s.digest = *digest;
    if (s.mtime_ns >= saved_at - kRacyNs || s.ctime_ns >= saved_at - kRacyNs) continue;  // racy: read it again
    c.entries_.push_back(s);
  }
  c.text_ = std::move(text);
  return c;
}

void StatCache::save(const std::filesystem::path& file, const TreeListing& listing, const TreeIndex& index,
                     std::optional<int64_t> now_ns) {
  std::string text(kCacheMagic);
  text.reserve(listing.entries.size() * 140);
  char num[32];
  auto put_number = [&](auto v) {
    put_field(text, std::string_view(num, static_cast<size_t>(std::to_chars(num, num + sizeof num, v).ptr - num)));
  };
  if (!now_ns) {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);  // the filesystem's clock: entries near it are racy
    now_ns = static_cast<int64_t>(now.tv_sec) * 1'000'000'000LL + now.tv_nsec;
  }
  put_number(*now_ns);
  for (size_t i = 0; i < listing.entries.size(); ++i) {
    const TreeEntry& e = listing.entries[i];
    if (e.type != EntryType::file || index.entries[i].digest.empty()) continue;
    put_field(text, e.path);
    put_number(e.size);
    put_number(e.mtime_ns);
    put_number(e.ctime_ns);
    put_number(e.inode);
    put_number(e.dev);
    put_field(text, index.entries[i].digest);
  }
  std::filesystem::create_directories(file.parent_path());
  write_file_atomic(file, text);
}

const std::string_view* StatCache::find(const TreeEntry& e) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), std::string_view(e.path),
                             [](const Stat& s, std::string_view p) { return s.path < p; });
  if (it == entries_.end() || it->path != e.path) return nullptr;
  bool same = it->size == e.size && it->mtime_ns == e.mtime_ns && it->ctime_ns == e.ctime_ns && it->inode == e.inode &&
              it->dev == e.dev;
  return same ? &it->digest : nullptr;
}

TreeIndex index_tree(const std::filesystem::path& root, const TreeListing& listing, const std::string& spec,
                     const StatCache& cache, const CancelSource& cancel, IndexStats* stats) {
  TreeIndex idx;
  idx.spec = spec;
  idx.file_bytes = listing.file_bytes;
  idx.entries.resize(listing.entries.size());
  std::vector<size_t> todo;
  for (size_t i = 0; i < listing.entries.size(); ++i) {
    const TreeEntry& e = listing.entries[i];
    IndexEntry& x = idx.entries[i];
    x.path = e.path;
    x.type = e.type;
    x.mode = e.mode;
    x.rdev_major = e.rdev_major;
    x.rdev_minor = e.rdev_minor;
    if (e.type == EntryType::symlink || e.type == EntryType::hardlink) x.link = e.link;
    if (e.type != EntryType::file) continue;
    x.size = e.size;
    if (const std::string_view* d = cache.find(e))
      x.digest = *d;
    else
      todo.push_back(i);
  }
  int root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) throw Error(fmt::format("cannot open {}: {}", root.string(), std::strerror(errno)));
  std::atomic<uint64_t> bytes{0};
  std::vector<std::exception_ptr> errors(todo.size());
  std::vector<size_t> long_paths;  // beyond what one path call takes: read through a cursor
  for (size_t k : todo)
    if (listing.entries[k].path.size() >= 3000) long_paths.push_back(k);
  tbb::this_task_arena::isolate([&] {
    tbb::parallel_for(size_t{0}, todo.size(), [&](size_t j) {
      const TreeEntry& e = listing.entries[todo[j]];
      if (e.path.size() >= 3000 || cancel.requested()) return;
      try {
        uint64_t n = 0;
        idx.entries[todo[j]].digest = hash_file(root_fd, nullptr, root, e, &n);
        bytes += n;
      } catch (...) {
        errors[j] = std::current_exception();
      }
    });
  });
  try {
    if (!long_paths.empty()) {
      DirCursor cursor(::dup(root_fd), root);
      for (size_t k : long_paths) {
        uint64_t n = 0;
        idx.entries[k].digest = hash_file(root_fd, &cursor, root, listing.entries[k], &n);
        bytes += n;
      }
    }
  } catch (...) {
    ::close(root_fd);
    throw;
  }
  ::close(root_fd);
  for (auto& err : errors)
    if (err) std::rethrow_exception(err);
  if (cancel.requested()) throw Cancelled();
  if (stats) {
    stats->files_read = todo.size();
    stats->bytes_read = bytes.load();
  }
  return idx;
}

namespace {

std::string_view parent_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string child_path(std::string_view dir, std::string_view name) {
  return dir.empty() ? std::string(name) : std::string(dir) + "/" + std::string(name);
}

TreeEntry whiteout(std::string_view path) {
  TreeEntry w;
  auto slash = path.rfind('/');
  std::string_view dir = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  w.path = child_path(dir, ".wh." + std::string(name));
  w.type = EntryType::file;
  w.mode = 0644;
  return w;
}

/// Paths to their position in a list, in one flat table (open addressing, no allocation per
/// entry): a tree of 200,000 entries is looked up on every build.
class PathTable {
 public:
  template <class Entries>
  explicit PathTable(const Entries& entries) {
    size_t cap = 16;
    while (cap < entries.size() * 2) cap <<= 1;
    slots_.assign(cap, 0);
    paths_.reserve(entries.size());
    for (const auto& e : entries) paths_.push_back(e.path);
    for (uint32_t i = 0; i < paths_.size(); ++i) {
      size_t k = std::hash<std::string_view>{}(paths_[i]) & (cap - 1);
      while (slots_[k] != 0) k = (k + 1) & (cap - 1);
      slots_[k] = i + 1;
    }
  }
  /// The position of `path`, or -1.
  [[nodiscard]] int64_t find(std::string_view path) const {
    size_t cap = slots_.size();
    for (size_t k = std::hash<std::string_view>{}(path) & (cap - 1); slots_[k] != 0; k = (k + 1) & (cap - 1))
      if (paths_[slots_[k] - 1] == path) return slots_[k] - 1;
    return -1;
  }

 private:
  std::vector<uint32_t> slots_;
  std::vector<std::string_view> paths_;
};

/// One diff_trees call: which entries of the new tree a delta writes, and which whiteouts it
/// carries.
class DeltaMaker {
 public:
  DeltaMaker(const TreeIndex& before, const TreeIndex& after)
      : before_(before), after_(after), old_(before.entries), now_(after.entries), emit_(after.entries.size(), 0) {}

  TreeDelta make(const TreeListing& current) {
    compare();
    take_hard_links();
    remove();
    emit_ancestors();
    for (size_t i = 0; i < after_.entries.size(); ++i)
      if (emit_[i]) {
        d_.listing.entries.push_back(current.entries[i]);
        if (current.entries[i].type == EntryType::file) d_.bytes += current.entries[i].size;
      }
    // Whiteouts first: an applier that takes the entries in order must hide an old entry
    // before it writes the new one of the same name (".wh..htaccess" sorts after ".htaccess").
    auto order = [](const TreeEntry& x, const TreeEntry& y) {
      return tar_path_less(x.path, x.type == EntryType::dir, y.path, y.type == EntryType::dir);
    };
    std::sort(whiteouts_.begin(), whiteouts_.end(), order);
    std::sort(d_.listing.entries.begin(), d_.listing.entries.end(), order);
    d_.listing.entries.insert(d_.listing.entries.begin(), whiteouts_.begin(), whiteouts_.end());
    d_.listing.file_bytes = d_.bytes;
    return std::move(d_);
  }

 private:
  void note(std::string_view p) {
    if (d_.sample.size() < 5) d_.sample.emplace_back(p.empty() ? "/" : p);
  }
  void mark(size_t i, size_t* count) {
    emit_[i] = 1;
    ++*count;
    note(after_.entries[i].path);
  }

  /// Entries added or changed; the root (the layer's dest) only when its mode changed.
  void compare() {
    if (!after_.entries.empty() && !before_.entries.empty() && !after_.entries[0].same(before_.entries[0]))
      mark(0, &d_.changed);
    for (size_t i = 1; i < after_.entries.size(); ++i) {
      const IndexEntry& a = after_.entries[i];
      int64_t o = old_.find(a.path);
      if (o < 0) {
        mark(i, &d_.added);
        continue;
      }
      const IndexEntry& b = before_.entries[static_cast<size_t>(o)];
      if (b.type != a.type) {
        whiteouts_.push_back(whiteout(a.path));  // hides the old entry (and a directory's contents)
        if (b.type == EntryType::dir) gone_dirs_.insert(a.path);
        mark(i, &d_.changed);
      } else if (!b.same(a)) {
        mark(i, &d_.changed);
      }
    }
  }

  /// A link goes with the file it links to, and a file written again takes its links.
  void take_hard_links() {
    for (int pass = 0; pass < 2; ++pass)
      for (size_t i = 1; i < after_.entries.size(); ++i) {
        const IndexEntry& a = after_.entries[i];
        if (a.type != EntryType::hardlink) continue;
        int64_t target = now_.find(a.link);
        if (target < 0) continue;
        if (emit_[i] || emit_[static_cast<size_t>(target)]) emit_[i] = emit_[static_cast<size_t>(target)] = 1;
      }
  }

  /// Directories that lost every old entry (two or more) and are still directories: one
  /// opaque marker says it (never the tree's root: at dest "/" it would hide the whole base).
  std::unordered_set<std::string_view> opaque_dirs(const std::unordered_map<std::string_view, size_t>& lost) const {
    std::unordered_set<std::string_view> opaque;
    if (lost.empty()) return opaque;
    std::unordered_map<std::string_view, size_t> had;  // old entries of those directories
    for (const auto& b : before_.entries)
      if (!b.path.empty())
        if (auto it = lost.find(parent_of(b.path)); it != lost.end()) ++had[it->first];
    for (const auto& [dir, n] : lost) {
      int64_t o = old_.find(dir), a = now_.find(dir);
      if (!dir.empty() && n == had[dir] && n >= 2 && o >= 0 && a >= 0 &&
          before_.entries[static_cast<size_t>(o)].type == EntryType::dir &&
          after_.entries[static_cast<size_t>(a)].type == EntryType::dir && !gone_dirs_.count(dir))
        opaque.insert(dir);
    }
    return opaque;
  }

  /// Removals: the topmost removed path of each subtree is whited out, or its directory made
  /// opaque; the directory that holds a whiteout is written with it.
  void remove() {
    std::vector<const IndexEntry*> removed;
    std::unordered_map<std::string_view, size_t> lost;  // directory -> old entries removed from it
    for (const auto& b : before_.entries)
      if (!b.path.empty() && now_.find(b.path) < 0) {
        removed.push_back(&b);
        ++lost[parent_of(b.path)];
      }
    auto opaque = opaque_dirs(lost);
    auto hidden = [&](std::string_view path) {  // under a whited-out or opaque directory
      for (std::string_view p = parent_of(path);; p = parent_of(p)) {
        if (gone_dirs_.count(p) || opaque.count(p)) return true;
        if (p.empty()) return false;
      }
    };
    auto hold = [&](std::string_view dir) {
      if (int64_t k = now_.find(dir); k >= 0) emit_[static_cast<size_t>(k)] = 1;
    };
    for (const IndexEntry* b : removed) {
      if (hidden(b->path)) continue;
      whiteouts_.push_back(whiteout(b->path));
      if (b->type == EntryType::dir) gone_dirs_.insert(b->path);
      hold(parent_of(b->path));
      ++d_.removed;
      note(b->path);
    }
    for (std::string_view dir : opaque) {
      TreeEntry o;
      o.path = child_path(dir, ".wh..wh..opq");
      o.type = EntryType::file;
      o.mode = 0644;
      whiteouts_.push_back(o);
      hold(dir);
      d_.removed += lost[dir];
      note(dir);
    }
  }

  /// Every written entry's directories are written with it, with their owner and mode (a
  /// runtime that applies the layer would otherwise make them root-owned 0755 in the upper
  /// layer, and overlayfs shows the upper directory's attributes). Parents come before their
  /// children, so one pass from the end reaches every chain.
  void emit_ancestors() {
    for (size_t i = after_.entries.size(); i-- > 1;)
      if (emit_[i])
        for (std::string_view p = parent_of(after_.entries[i].path);; p = parent_of(p)) {
          int64_t k = now_.find(p);
          if (k < 0 || emit_[static_cast<size_t>(k)]) break;
          emit_[static_cast<size_t>(k)] = 1;
          if (p.empty()) break;
        }
  }

  const TreeIndex& before_;
  const TreeIndex& after_;
  PathTable old_, now_;
  std::vector<char> emit_;
  std::vector<TreeEntry> whiteouts_;
  std::unordered_set<std::string_view> gone_dirs_;  // old directories hidden as a whole
  TreeDelta d_;
};

}  // namespace

TreeDelta diff_trees(const TreeIndex& before, const TreeIndex& after, const TreeListing& current) {
  if (after.entries.size() != current.entries.size())
    throw Error("diff_trees: the index was not made from this listing");
  return DeltaMaker(before, after).make(current);
}

}  // namespace flavourgraph::oci
