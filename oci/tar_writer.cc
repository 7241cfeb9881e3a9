#include "flavourgraph/oci/tar_writer.h"

#include "dir_stack.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace flavourgraph::oci {

namespace {

constexpr size_t kBlock = 512;

/// Writes `value` in octal, zero-padded to width-1 digits and a NUL; false when it does not fit.
bool put_octal(char* field, size_t width, uint64_t value) {
  std::string digits = fmt::format("{:0{}o}", value, width - 1);
  if (digits.size() > width - 1) return false;
  std::memcpy(field, digits.data(), width - 1);
  field[width - 1] = '\0';
  return true;
}

void put_string(char* field, size_t width, std::string_view s) {
  std::memcpy(field, s.data(), std::min(width, s.size()));
}

/// A pax record "<len> key=value\n", where len counts the whole record.
std::string pax_record(std::string_view key, std::string_view value) {
  size_t body = 1 + key.size() + 1 + value.size() + 1;  // " key=value\n"
  size_t len = body + 1;
  while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
  return fmt::format("{} {}={}\n", len, key, value);
}

std::string raw_header(const std::string& name, const std::string& prefix, char type, uint32_t mode, uint64_t size,
                       uint64_t uid, uint64_t gid, int64_t mtime, const std::string& link, uint32_t dmaj,
                       uint32_t dmin) {
  std::string h(kBlock, '\0');
  char* b = h.data();
  put_string(b + 0, 100, name);
  put_octal(b + 100, 8, mode);
  put_octal(b + 108, 8, uid);
  put_octal(b + 116, 8, gid);
  put_octal(b + 124, 12, size);
  put_octal(b + 136, 12, static_cast<uint64_t>(mtime));
  std::memset(b + 148, ' ', 8);
  b[156] = type;
  put_string(b + 157, 100, link);
  std::memcpy(b + 257, "ustar\0", 6);
  std::memcpy(b + 263, "00", 2);
  put_octal(b + 329, 8, dmaj);
  put_octal(b + 337, 8, dmin);
  put_string(b + 345, 155, prefix);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::string chk = fmt::format("{:06o}", sum);
  std::memcpy(b + 148, chk.data(), 6);
  b[154] = '\0';
  b[155] = ' ';
  return h;
}

/// Splits a name into ustar prefix (<=155) and name (<=100) at a '/', if possible.
bool split_ustar(const std::string& full, std::string* prefix, std::string* name) {
  if (full.size() <= 100) {
    *name = full;
    prefix->clear();
    return true;
  }
  for (size_t i = full.size() > 101 ? full.size() - 101 : 0; i < full.size() && i <= 155; ++i) {
    if (full[i] != '/') continue;
    if (full.size() - i - 1 <= 100 && full.size() - i - 1 > 0) {
      *prefix = full.substr(0, i);
      *name = full.substr(i + 1);
      return true;
    }
  }
  return false;
}

}  // namespace

std::string tar_header(const std::string& name, char type, uint32_t mode, uint64_t size, const TarOptions& opt,
                       const std::string& link, uint32_t dev_major, uint32_t dev_minor) {
  std::string pax;
  std::string prefix, short_name;
  if (!split_ustar(name, &prefix, &short_name)) {
    pax += pax_record("path", name);
    short_name = name.substr(0, 100);
    prefix.clear();
  }
  std::string short_link = link;
  if (link.size() > 100) {
    pax += pax_record("linkpath", link);
    short_link = link.substr(0, 100);
  }
  uint64_t size_field = size;
  if (size > 077777777777ULL) {
    pax += pax_record("size", std::to_string(size));
    size_field = 0;
  }
  uint64_t uid = opt.uid, gid = opt.gid;
  if (uid > 07777777) {
    pax += pax_record("uid", std::to_string(uid));
    uid = 0;
  }
  if (gid > 07777777) {
    pax += pax_record("gid", std::to_string(gid));
    gid = 0;
  }
  std::string out;
  if (!pax.empty()) {
    // A fixed pax header name: no pid or time in it, so the bytes are reproducible.
    std::string base = name;
    while (!base.empty() && base.back() == '/') base.pop_back();
    base = base.substr(base.rfind('/') == std::string::npos ? 0 : base.rfind('/') + 1);
    std::string pax_name = "PaxHeaders/" + base.substr(0, 80);
    out += raw_header(pax_name, "", 'x', 0644, pax.size(), 0, 0, opt.mtime, "", 0, 0);
    out += pax;
    out.append((kBlock - pax.size() % kBlock) % kBlock, '\0');
  }
  out += raw_header(short_name, prefix, type, mode, size_field, uid, gid, opt.mtime, short_link, dev_major, dev_minor);
  return out;
}

TarStream::TarStream(const std::filesystem::path& root, const TreeListing& listing, const TarOptions& options)
    : root_(root), listing_(listing), opt_(options) {
  // Parent directories of the destination, root-owned 0755, before the tree itself.
  std::string d = opt_.dest;
  size_t pos = 0;
  while ((pos = d.find('/', pos)) != std::string::npos) {
    parents_.push_back(d.substr(0, pos) + "/");
    ++pos;
  }
}

TarStream::~TarStream() {
  if (fd_ >= 0) ::close(fd_);
}

void TarStream::check_unchanged(const TreeEntry& e, const char* when) const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw std::runtime_error(fmt::format("cannot stat {}: {}", file_path_, std::strerror(errno)));
  int64_t mtime = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
  int64_t ctime = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
  if (!S_ISREG(st.st_mode) || st.st_ino != e.inode || st.st_dev != e.dev)
    throw std::runtime_error(fmt::format("{} was replaced {}; build again once the tree is quiet", file_path_, when));
  if (static_cast<uint64_t>(st.st_size) != e.size || mtime != e.mtime_ns || ctime != e.ctime_ns)
    throw std::runtime_error(fmt::format("{} changed {} (size {} -> {}, or its times); the layer would not hold "
                                         "what is on disk: build again once the tree is quiet",
                                         file_path_, when, e.size, st.st_size));
}

void TarStream::open_file(const TreeEntry& e) {
  file_path_ = (root_ / e.path).string();
  if (!dirs_) {
    int root = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", root_.string(), std::strerror(errno)));
    dirs_ = std::make_unique<DirCursor>(root, root_);
  }
  // Relative to the file's directory, whatever the path's length; O_NONBLOCK: a file swapped
  // for a FIFO must not block the open.
  auto slash = e.path.rfind('/');
  int dir = dirs_->enter(slash == std::string::npos ? std::string_view() : std::string_view(e.path).substr(0, slash));
  const char* name = e.path.c_str() + (slash == std::string::npos ? 0 : slash + 1);
  fd_ = ::openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw std::runtime_error(fmt::format("cannot read {}: {}", file_path_, std::strerror(errno)));
  check_unchanged(e, "since it was listed");
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  file_ = &e;
  file_left_ = e.size;
  file_pad_ = (kBlock - e.size % kBlock) % kBlock;
}

void TarStream::append_header(const TreeEntry& e, const std::string& name, const std::string& link) {
  char type = '0';
  uint64_t size = 0;
  switch (e.type) {
    case EntryType::file: type = '0'; size = e.size; break;
    case EntryType::hardlink: type = '1'; break;
    case EntryType::symlink: type = '2'; break;
    case EntryType::chardev: type = '3'; break;
    case EntryType::blockdev: type = '4'; break;
    case EntryType::dir: type = '5'; break;
    case EntryType::fifo: type = '6'; break;
  }
  pending_ += tar_header(name, type, e.mode, size, opt_, link, e.rdev_major, e.rdev_minor);
}

void TarStream::next_entry() {
  pending_.clear();
  pending_off_ = 0;
  if (parent_index_ < parents_.size()) {
    TarOptions root_owned = opt_;
    root_owned.uid = root_owned.gid = 0;
    pending_ = tar_header(parents_[parent_index_++], '5', 0755, 0, root_owned, "");
    return;
  }
  while (entry_index_ < listing_.entries.size()) {
    const TreeEntry& e = listing_.entries[entry_index_++];
    auto in_image = [&](const std::string& rel) {
      if (opt_.dest.empty()) return rel;
      return rel.empty() ? opt_.dest : opt_.dest + "/" + rel;
    };
    std::string name = in_image(e.path);
    if (name.empty()) continue;  // the root of a layer placed at "/": leave "/" alone
    if (e.type == EntryType::dir) name += '/';
    std::string link = e.type == EntryType::hardlink ? in_image(e.link) : e.link;
    append_header(e, name, link);
    if (e.type == EntryType::file && e.size > 0) open_file(e);
    return;
  }
  if (!trailer_done_) {
    pending_.assign(2 * kBlock, '\0');
    trailer_done_ = true;
  }
}

uint64_t estimated_tar_size(const TreeListing& listing, const TarOptions& options) {
  auto blocks = [](uint64_t n) { return (n + kBlock - 1) / kBlock * kBlock; };
  uint64_t total = 2 * kBlock;  // the trailer
  total += kBlock * static_cast<uint64_t>(std::count(options.dest.begin(), options.dest.end(), '/'));  // dest's parents
  for (const TreeEntry& e : listing.entries) {
    size_t name = options.dest.size() + 1 + e.path.size();
    if (options.dest.empty() && e.path.empty()) continue;  // the root of a layer placed at "/"
    total += kBlock;
    if (name > 255 || e.link.size() > 100) total += 2 * kBlock;  // a pax header and its records
    if (e.type == EntryType::file) total += blocks(e.size);
  }
  return total;
}

size_t TarStream::read(char* out, size_t n) {
  size_t written = 0;
  while (written < n) {
    if (pending_off_ < pending_.size()) {
      size_t k = std::min(n - written, pending_.size() - pending_off_);
      std::memcpy(out + written, pending_.data() + pending_off_, k);
      pending_off_ += k;
      written += k;
      continue;
    }
    if (file_left_ > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(n - written, file_left_));
      ssize_t r = ::read(fd_, out + written, want);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw std::runtime_error(fmt::format("cannot read {}: {}", file_path_, std::strerror(errno)));
      if (r == 0) throw std::runtime_error(fmt::format("{} shrank while the layer was being built", file_path_));
      file_left_ -= static_cast<uint64_t>(r);
      written += static_cast<size_t>(r);
      if (file_left_ == 0) {
        check_unchanged(*file_, "while it was read");  // as GNU tar's "file changed as we read it"
        ::close(fd_);
        fd_ = -1;
        pending_.assign(file_pad_, '\0');
        pending_off_ = 0;
      }
      continue;
    }
    if (trailer_done_ && pending_off_ >= pending_.size()) break;
    next_entry();
  }
  total_ += written;
  return written;
}

}  // namespace flavourgraph::oci
