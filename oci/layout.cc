#include "flavourgraph/oci/layout.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "flavourgraph/fs_util.h"

namespace flavourgraph::oci {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view kLayoutFile = R"({"imageLayoutVersion":"1.0.0"})";

std::string errno_text() { return std::strerror(errno); }

/// True when every entry of `dir` is a part of a layout this program creates (or a temp file
/// of one), so that a creation cut short can be completed.
bool only_layout_parts(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    bool temp = name.rfind(".index.json.tmp-", 0) == 0 || name.rfind(".oci-layout.tmp-", 0) == 0;
    if (name == "blobs") {
      for (const auto& b : fs::directory_iterator(e.path(), ec))
        if (b.path().filename() != "sha256" || !b.is_directory()) return false;
    } else if (name != ".flavourgraph" && !temp) {
      return false;
    }
  }
  return !ec;
}

std::string random_name() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

}  // namespace

BlobWriter::BlobWriter(const Layout& layout) : layout_(layout) {
  tmp_ = layout.tmp_dir() / ("blob-" + random_name());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw StoreError(fmt::format("cannot create {}: {}", tmp_.string(), errno_text()));
}

BlobWriter::~BlobWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!done_) ::unlink(tmp_.c_str());
}

void BlobWriter::write(const void* data, size_t n) {
  hash_.update(data, n);
  size_ += n;
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw StoreError(fmt::format("cannot write {}: {}", tmp_.string(), errno_text()));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

Digest BlobWriter::commit(const std::optional<Digest>& expected) {
  Digest d{"sha256", hash_.finish_hex()};
  if (expected && *expected != d)
    throw StoreError(fmt::format("content does not match its digest: expected {}, got {}", expected->str(), d.str()));
  ::fchmod(fd_, 0444);
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw StoreError(fmt::format("cannot write {}: {}", tmp_.string(), errno_text()));
  }
  fd_ = -1;
  fs::path dest = layout_.blob_path(d);
  if (layout_.has_blob(d, static_cast<int64_t>(size_))) return d;  // ~BlobWriter removes the temp
  if (::rename(tmp_.c_str(), dest.c_str()) != 0)
    throw StoreError(fmt::format("cannot move blob into {}: {}", dest.string(), errno_text()));
  done_ = true;
  return d;
}

Layout::Layout(fs::path dir) : dir_(std::move(dir)) {}

Layout::~Layout() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::unique_ptr<Layout> Layout::open(const fs::path& dir, bool create) {
  std::error_code ec;
  bool exists = fs::exists(dir, ec);
  if (exists && !fs::is_directory(dir, ec))
    throw StoreError(fmt::format("{} is not a directory", dir.string()));
  bool has_layout = fs::exists(dir / "oci-layout", ec);
  if (!has_layout) {
    if (!create)
      throw StoreError(fmt::format("{} is not an OCI image layout (no oci-layout file)", dir.string()));
    // A layout is created in an order that can be resumed: blobs/, index.json, oci-layout last.
    // A directory holding only those parts (a creation cut short by a full disk or a kill) is
    // completed; anything else is someone else's directory.
    if (exists && !fs::exists(dir / "index.json", ec) && !only_layout_parts(dir))
      throw StoreError(fmt::format("{} is not empty and not an OCI image layout: refusing to write there",
                                   dir.string()));
    fs::create_directories(dir / "blobs" / "sha256", ec);
    if (ec) throw StoreError(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    if (!fs::exists(dir / "index.json"))
      write_file_atomic(dir / "index.json", R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})");
    write_file_atomic(dir / "oci-layout", kLayoutFile);
  }
  std::unique_ptr<Layout> l(new Layout(dir));
  if (create) {
    // flavourgraph's own directories: created here, never followed if someone made them links.
    for (const auto& p : {l->state_dir(), l->tmp_dir()}) {
      struct stat st {};
      if (::lstat(p.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode))
          throw StoreError(fmt::format("{} is not a directory (a symbolic link?): refusing to use it", p.string()));
      } else if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) {
        throw StoreError(fmt::format("cannot create {}: {}", p.string(), errno_text()));
      }
    }
    fs::create_directories(dir / "blobs" / "sha256", ec);
    if (ec) throw StoreError(fmt::format("cannot create {}: {}", (dir / "blobs").string(), ec.message()));
  }
  l->load_index();
  return l;
}

fs::path Layout::blob_path(const Digest& d) const { return dir_ / "blobs" / d.algorithm / d.hex; }
fs::path Layout::state_dir() const { return dir_ / ".flavourgraph"; }
fs::path Layout::tmp_dir() const { return state_dir() / "tmp"; }

void Layout::lock() {
  fs::path p = state_dir() / "lock";
  int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw StoreError(fmt::format("cannot open {}: {}", p.string(), errno_text()));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    throw StoreError(fmt::format("{} is in use by another flavourgraph run (pid {}); wait for it to end",
                                 dir_.string(), pid));
  }
  std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) [[maybe_unused]] auto w = ::pwrite(fd, me.data(), me.size(), 0);
  lock_fd_ = fd;
  // Temp files an interrupted run left: only the names this store creates, never following
  // links (the directory was checked to be a real one when the layout was opened).
  int dir = ::open(tmp_dir().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir >= 0) {
    std::vector<std::string> stale;
    if (DIR* d = ::fdopendir(dir)) {
      while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name.rfind("blob-", 0) == 0 || name.rfind("link-", 0) == 0) stale.emplace_back(name);
      }
      for (const auto& name : stale) ::unlinkat(::dirfd(d), name.c_str(), 0);
      ::closedir(d);
    } else {
      ::close(dir);
    }
  }
  remove_stale_temp_files(dir_);  // .index.json.tmp-* from an interrupted rewrite
  std::lock_guard guard(mutex_);
  load_index();  // another run may have changed it before we held the lock
}

bool Layout::has_blob(const Digest& d, int64_t size) const {
  struct stat st {};
  if (::stat(blob_path(d).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  return size < 0 || st.st_size == size;
}

std::string Layout::read_blob(const Digest& d, size_t max_size) const {
  fs::path p = blob_path(d);
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0)
    throw StoreError(fmt::format("blob {} is missing from {}", d.str(), dir_.string()));
  if (static_cast<size_t>(st.st_size) > max_size)
    throw StoreError(fmt::format("blob {} in {} is {} bytes, more than expected", d.str(), dir_.string(), st.st_size));
  std::string data = read_file(p);
  if (Digest{d.algorithm, d.algorithm == "sha256" ? sha256_hex(data) : d.hex} != d)
    throw StoreError(fmt::format("blob {} in {} does not match its digest (corrupt store?)", d.str(), dir_.string()));
  return data;
}

Descriptor Layout::put_blob(std::string_view data, std::string_view media_type) {
  Digest d = Digest::sha256_of(data);
  if (!has_blob(d, static_cast<int64_t>(data.size()))) {
    BlobWriter w(*this);
    w.write(data);
    w.commit(d);
  }
  return Descriptor{std::string(media_type), d, static_cast<int64_t>(data.size()), {}, std::nullopt, {}};
}

bool Layout::copy_blob_from(const Layout& other, const Descriptor& d, bool link) {
  if (has_blob(d.digest, d.size)) return false;
  fs::path src = other.blob_path(d.digest);
  int in = ::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0)
    throw StoreError(fmt::format("blob {} of {} cannot be read: {}", d.digest.str(), other.dir().string(), errno_text()));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{in};
  struct stat st {};
  if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode))
    throw StoreError(fmt::format("blob {} of {} is not a regular file", d.digest.str(), other.dir().string()));
  if (st.st_size != d.size)
    throw StoreError(fmt::format("blob {} in {} has {} bytes, its descriptor says {}", d.digest.str(),
                                 other.dir().string(), st.st_size, d.size));
  if (link) {
    fs::path tmp = tmp_dir() / ("link-" + random_name());
    if (::linkat(in, "", AT_FDCWD, tmp.c_str(), AT_EMPTY_PATH) == 0 || ::link(src.c_str(), tmp.c_str()) == 0) {
      int rc = ::rename(tmp.c_str(), blob_path(d.digest).c_str());
      // rename() between two links to one file does nothing: the temp name stays; remove it.
      ::unlink(tmp.c_str());
      if (rc != 0) throw StoreError(fmt::format("cannot move blob into {}: {}", dir_.string(), errno_text()));
      return true;
    }
  }
  BlobWriter w(*this);
  std::vector<char> buf(1 << 20);
  while (true) {
    ssize_t r = ::read(in, buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw StoreError(fmt::format("cannot read {}: {}", src.string(), errno_text()));
    if (r == 0) break;
    w.write(buf.data(), static_cast<size_t>(r));
  }
  try {
    w.commit(d.digest);
  } catch (const StoreError& e) {
    throw StoreError(fmt::format("blob {} of {}: {}", d.digest.str(), other.dir().string(), e.what()));
  }
  return true;
}

void Layout::load_index() {
  fs::path p = dir_ / "index.json";
  std::string text;
  try {
    text = read_file(p);
  } catch (const std::exception& e) {
    throw StoreError(fmt::format("{}: {}", dir_.string(), e.what()));
  }
  auto idx = Index::parse(text);
  if (!idx) throw StoreError(fmt::format("{}: {}", p.string(), idx.message()));
  manifests_ = std::move(idx->manifests);
}

void Layout::write_index_locked() {
  // Named entries sorted by name: the file does not depend on the order tasks ran in.
  std::stable_sort(manifests_.begin(), manifests_.end(), [](const Descriptor& a, const Descriptor& b) {
    auto ra = a.annotations.find(std::string(kRefNameAnnotation));
    auto rb = b.annotations.find(std::string(kRefNameAnnotation));
    bool na = ra != a.annotations.end(), nb = rb != b.annotations.end();
    if (na != nb) return !na;
    return na && ra->second < rb->second;
  });
  json list = json::array();
  for (const auto& m : manifests_) list.push_back(m.to_json());
  json j = {{"schemaVersion", 2}, {"mediaType", media::kIndex}, {"manifests", list}};
  write_file_atomic(dir_ / "index.json", canonical(j));
}

std::optional<Descriptor> Layout::resolve(std::string_view ref) const {
  std::lock_guard lock(mutex_);
  for (const auto& m : manifests_) {
    auto it = m.annotations.find(std::string(kRefNameAnnotation));
    if (it != m.annotations.end() && it->second == ref) return m;
  }
  return std::nullopt;
}

bool Layout::set_ref(std::string_view ref, const Descriptor& manifest) {
  std::lock_guard lock(mutex_);
  Descriptor entry = manifest;
  entry.annotations[std::string(kRefNameAnnotation)] = std::string(ref);
  for (auto& m : manifests_) {
    auto it = m.annotations.find(std::string(kRefNameAnnotation));
    if (it == m.annotations.end() || it->second != ref) continue;
    if (m.digest == manifest.digest && m.media_type == manifest.media_type && m.size == manifest.size) return false;
    m = entry;
    write_index_locked();
    return true;
  }
  manifests_.push_back(entry);
  write_index_locked();
  return true;
}

std::vector<std::string> Layout::ref_names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& m : manifests_) {
    auto it = m.annotations.find(std::string(kRefNameAnnotation));
    if (it != m.annotations.end()) out.push_back(it->second);
  }
  return out;
}

}  // namespace flavourgraph::oci
