// oci-archive files: a plain ustar writer for a layout's few files, and a reader that streams
// each blob into the store through a verifying BlobWriter (no unpacked copy on disk).
#include "flavourgraph/oci/archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fmt/format.h>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <algorithm>
#include <nlohmann/json.hpp>

#include "flavourgraph/fs_util.h"

namespace flavourgraph::oci {

namespace {

constexpr size_t kBlock = 512;

class FileOut {
 public:
  explicit FileOut(const std::filesystem::path& p) : path_(p) {
    fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw StoreError(fmt::format("{}: {}", p.string(), std::strerror(errno)));
  }
  ~FileOut() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileOut(const FileOut&) = delete;
  FileOut& operator=(const FileOut&) = delete;
  void write(const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw StoreError(fmt::format("{}: {}", path_.string(), std::strerror(errno)));
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  void close() {
    if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
      fd_ = -1;
      throw StoreError(fmt::format("{}: {}", path_.string(), std::strerror(errno)));
    }
    fd_ = -1;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

void octal(char* field, size_t width, uint64_t v) {
  std::string s = fmt::format("{:0{}o}", v, width - 1);
  std::memcpy(field, s.data(), width - 1);
  field[width - 1] = '\0';
}

/// A ustar header for a regular file or a directory (names here are short).
void header(FileOut& out, const std::string& name, uint64_t size, bool dir) {
  char h[kBlock] = {};
  std::memcpy(h, name.data(), std::min(name.size(), size_t{100}));
  octal(h + 100, 8, dir ? 0755 : 0644);
  octal(h + 108, 8, 0);
  octal(h + 116, 8, 0);
  octal(h + 124, 12, size);
  octal(h + 136, 12, 0);
  h[156] = dir ? '5' : '0';
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  octal(h + 148, 7, sum);
  out.write(h, kBlock);
}

void pad(FileOut& out, uint64_t size) {
  static const char zeros[kBlock] = {};
  if (size % kBlock) out.write(zeros, kBlock - size % kBlock);
}

void add_bytes(FileOut& out, const std::string& name, std::string_view data) {
  header(out, name, data.size(), false);
  out.write(data.data(), data.size());
  pad(out, data.size());
}

void add_blob(FileOut& out, const Layout& store, const Descriptor& d) {
  auto path = store.blob_path(d.digest);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw StoreError(fmt::format("blob {} is not in the store {}", d.digest.str(), store.dir().string()));
  struct stat st {};
  ::fstat(fd, &st);
  auto size = static_cast<uint64_t>(st.st_size);
  header(out, "blobs/sha256/" + d.digest.hex, size, false);
  std::string buf(1 << 20, '\0');
  uint64_t left = size;
  while (left > 0) {
    ssize_t n = ::read(fd, buf.data(), std::min<uint64_t>(buf.size(), left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw StoreError(fmt::format("reading blob {}: {}", d.digest.str(), n < 0 ? std::strerror(errno) : "short"));
    }
    out.write(buf.data(), static_cast<size_t>(n));
    left -= static_cast<uint64_t>(n);
  }
  ::close(fd);
  pad(out, size);
}

}  // namespace

void write_oci_archive(const Layout& store, const Descriptor& manifest, std::string_view ref,
                       const std::filesystem::path& out_path) {
  auto parsed = Manifest::parse(store.read_blob(manifest.digest));
  if (!parsed) throw StoreError(fmt::format("image {}: {}", manifest.digest.str(), parsed.message()));
  Descriptor named = manifest;
  named.annotations["org.opencontainers.image.ref.name"] = std::string(ref);
  nlohmann::json index = {{"schemaVersion", 2},
                          {"mediaType", "application/vnd.oci.image.index.v1+json"},
                          {"manifests", nlohmann::json::array({named.to_json()})}};
  auto tmp = out_path;
  tmp += ".tmp";
  {
    FileOut out(tmp);
    add_bytes(out, "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    add_bytes(out, "index.json", index.dump());
    header(out, "blobs/", 0, true);
    header(out, "blobs/sha256/", 0, true);
    std::vector<Descriptor> blobs = {manifest, parsed->config};
    blobs.insert(blobs.end(), parsed->layers.begin(), parsed->layers.end());
    std::set<std::string> seen;
    for (const auto& d : blobs)
      if (seen.insert(d.digest.str()).second) add_blob(out, store, d);
    static const char end[2 * kBlock] = {};
    out.write(end, sizeof end);
    out.close();
  }
  std::filesystem::rename(tmp, out_path);
}

namespace {

uint64_t parse_octal(const char* field, size_t width) {
  uint64_t v = 0;
  if (static_cast<unsigned char>(field[0]) & 0x80) {  // GNU base-256, for sizes of 8 GiB and more
    for (size_t i = 1; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(field[i]);
    return v;
  }
  for (size_t i = 0; i < width && field[i]; ++i) {
    if (field[i] == ' ') continue;
    if (field[i] < '0' || field[i] > '7') break;
    v = v * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  return v;
}

class ArchiveReader {
 public:
  ArchiveReader(const std::filesystem::path& p, Layout& store) : path_(p), store_(store) {
    fd_ = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail(std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail(std::strerror(errno));
    file_size_ = static_cast<uint64_t>(st.st_size);
  }
  ~ArchiveReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  [[noreturn]] void fail(const std::string& why) const {
    throw StoreError(fmt::format("oci-archive {}: {}", path_.string(), why));
  }

  /// Reads every entry: blobs into the store (by the digest their name says), index.json kept.
  void read_all() {
    char h[kBlock];
    std::string long_name;
    int64_t pax_size = -1;  // from a pax header, for the next entry
    for (size_t entries = 0; read_exact(h, kBlock); ++entries) {
      if (entries > 1'000'000) fail("too many entries");
      if (std::all_of(h, h + kBlock, [](char c) { return c == 0; })) return;
      uint64_t size = pax_size >= 0 ? static_cast<uint64_t>(pax_size) : parse_octal(h + 124, 12);
      if (size > file_size_ - std::min(file_size_, offset_)) fail("an entry is larger than the rest of the archive");
      char type = h[156];
      std::string name = long_name.empty() ? entry_name(h) : long_name;
      long_name.clear();
      pax_size = -1;
      if (type == 'L') {  // GNU long name: the next entry's name
        long_name = read_small(size);
        long_name.resize(std::strlen(long_name.c_str()));
        continue;
      }
      if (type == 'x') {  // pax extended header: the next entry's path and size
        pax(read_small(size), long_name, pax_size);
        continue;
      }
      while (name.starts_with("./")) name.erase(0, 2);
      if ((type == '0' || type == '\0') && name.starts_with("blobs/sha256/")) {
        read_blob(name.substr(13), size);
      } else if ((type == '0' || type == '\0') && name == "index.json") {
        index_ = read_small(size);
      } else {
        skip(size);
      }
    }
    fail("the archive ends without its end marker");
  }

  /// The records of a pax header ("LEN key=value\n"...): path and size.
  void pax(const std::string& text, std::string& path, int64_t& size) const {
    size_t at = 0;
    for (int guard = 0; at < text.size() && guard < 10000; ++guard) {
      size_t space = text.find(' ', at);
      if (space == std::string::npos) fail("a pax header is malformed");
      uint64_t len = parse_decimal(text.substr(at, space - at));
      if (len < space - at + 2 || len > text.size() - at) fail("a pax header is malformed");
      std::string record = text.substr(space + 1, at + len - space - 2);  // without the newline
      size_t eq = record.find('=');
      if (eq != std::string::npos && record.compare(0, eq, "path") == 0) path = record.substr(eq + 1);
      if (eq != std::string::npos && record.compare(0, eq, "size") == 0)
        size = static_cast<int64_t>(parse_decimal(record.substr(eq + 1)));
      at += len;
    }
  }

  uint64_t parse_decimal(const std::string& s) const {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) fail("a pax header is malformed");
    return v;
  }

  [[nodiscard]] const std::string& index() const { return index_; }
  [[nodiscard]] const std::map<std::string, uint64_t>& blobs() const { return blobs_; }

 private:
  static std::string entry_name(const char* h) {
    std::string name(h, strnlen(h, 100));
    std::string prefix(h + 345, strnlen(h + 345, 155));
    if (std::memcmp(h + 257, "ustar", 5) == 0 && !prefix.empty()) name = prefix + "/" + name;
    return name;
  }

  bool read_exact(char* p, size_t n) {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd_, p + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail(std::strerror(errno));
      if (r == 0) {
        if (got == 0) return false;
        fail("truncated");
      }
      got += static_cast<size_t>(r);
    }
    offset_ += n;
    return true;
  }

  std::string read_small(uint64_t size) {
    if (size > (64u << 20)) fail("a metadata file is over 64 MiB");
    std::string s(size, '\0');
    if (size && !read_exact(s.data(), size)) fail("truncated");
    skip_padding(size);
    return s;
  }

  void skip_padding(uint64_t size) {
    char pad[kBlock];
    if (size % kBlock && !read_exact(pad, kBlock - size % kBlock)) fail("truncated");
  }

  void skip(uint64_t size) {
    uint64_t total = (size + kBlock - 1) / kBlock * kBlock;  // size was checked against the file: no overflow
    if (::lseek(fd_, static_cast<off_t>(total), SEEK_CUR) < 0) fail(std::strerror(errno));
    offset_ += total;
  }

  void read_blob(const std::string& hex, uint64_t size) {
    auto digest = Digest::parse("sha256:" + hex);
    if (!digest) fail(fmt::format("'{}' is not a blob name", hex));
    BlobWriter w(store_);
    std::string buf(1 << 20, '\0');
    for (uint64_t left = size; left > 0;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), left));
      if (!read_exact(buf.data(), n)) fail("truncated");
      w.write(buf.data(), n);
      left -= n;
    }
    try {
      w.commit(*digest);
    } catch (const std::exception& e) {
      fail(fmt::format("blob {}: {}", digest->str(), e.what()));
    }
    skip_padding(size);
    blobs_[digest->str()] = size;
  }

  std::filesystem::path path_;
  Layout& store_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  uint64_t offset_ = 0;  ///< bytes consumed
  std::string index_;
  std::map<std::string, uint64_t> blobs_;
};

}  // namespace

Descriptor import_oci_archive(const std::filesystem::path& archive, Layout& store) {
  ArchiveReader reader(archive, store);
  reader.read_all();
  auto index = Index::parse(reader.index());
  if (!index) reader.fail(reader.index().empty() ? "no index.json" : "index.json: " + index.message());
  if (index->manifests.size() != 1)
    reader.fail(fmt::format("index.json names {} images, not one", index->manifests.size()));
  Descriptor manifest = index->manifests.front();
  manifest.annotations.clear();
  auto check = [&](const Descriptor& d) {
    auto it = reader.blobs().find(d.digest.str());
    if (it == reader.blobs().end() && !store.has_blob(d.digest, d.size))
      reader.fail(fmt::format("blob {} is missing", d.digest.str()));
    if (it != reader.blobs().end() && static_cast<int64_t>(it->second) != d.size)
      reader.fail(fmt::format("blob {} has {} bytes, its descriptor says {}", d.digest.str(), it->second, d.size));
  };
  check(manifest);
  auto parsed = Manifest::parse(store.read_blob(manifest.digest));
  if (!parsed) reader.fail("its manifest: " + parsed.message());
  check(parsed->config);
  for (const auto& l : parsed->layers) check(l);
  return manifest;
}

}  // namespace flavourgraph::oci
