#include "flavourgraph/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <system_error>

namespace flavourgraph {

namespace {

[[noreturn]] void throw_errno(const std::string& what, const std::filesystem::path& p) {
  throw std::system_error(errno, std::generic_category(), what + " " + p.string());
}

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}() ^
                                          (static_cast<uint64_t>(getpid()) << 32)};
  static constexpr char hexd[] = "0123456789abcdef";
  std::string s;
  uint64_t v = rng();
  for (int i = 0; i < 12; ++i) {
    s.push_back(hexd[v & 0xF]);
    v >>= 4;
  }
  return s;
}

}  // namespace

TempFile::TempFile(const std::filesystem::path& target, unsigned mode) : target_(target) {
  auto dir = target.parent_path();
  if (dir.empty()) dir = ".";
  for (int attempt = 0; attempt < 8; ++attempt) {
    path_ = dir / ("." + target.filename().string() + ".tmp-" + random_suffix());
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd_ >= 0) return;
    if (errno != EEXIST) throw_errno("cannot create", path_);
  }
  throw_errno("cannot create a temp file for", target);
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(path_.c_str());
}

void TempFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", path_);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void TempFile::write(std::string_view data) { write(data.data(), data.size()); }

void TempFile::commit(bool sync) { commit_as(target_, sync); }

void TempFile::commit_as(const std::filesystem::path& target, bool sync) {
  if (sync && ::fsync(fd_) != 0) throw_errno("cannot sync", path_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw_errno("cannot close", path_);
  }
  fd_ = -1;
  if (::rename(path_.c_str(), target.c_str()) != 0) throw_errno("cannot rename onto", target);
  committed_ = true;
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  TempFile tmp(path);
  tmp.write(content);
  tmp.commit();
}

std::string read_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot read", path);
  std::string out;
  char buf[1 << 16];
  while (true) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      errno = e;
      throw_errno("cannot read", path);
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  return out;
}

bool file_has_content(const std::filesystem::path& path, std::string_view content) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) != content.size())
    return false;
  try {
    return read_file(path) == content;
  } catch (const std::system_error&) {
    return false;
  }
}

size_t remove_stale_temp_files(const std::filesystem::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    // Only regular files (never a link or a directory) named as TempFile names them.
    if (name.size() > 1 && name[0] == '.' && name.find(".tmp-") != std::string::npos &&
        e.is_regular_file(ec) && !e.is_symlink(ec)) {
      if (::unlink(e.path().c_str()) == 0) ++n;
    }
  }
  return n;
}

}  // namespace flavourgraph
