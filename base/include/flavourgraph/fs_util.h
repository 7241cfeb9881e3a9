#pragma once
/// Files are never half-written: content goes to a temp name in the same directory and is
/// renamed into place. Temp files are removed when the writer is abandoned (error, cancel).

#include <filesystem>
#include <string>
#include <string_view>

namespace flavourgraph {

/// A temp file next to `target`, removed on destruction unless committed.
class TempFile {
 public:
  /// Creates `<dir>/.<name>.tmp-<random>` exclusively; throws std::system_error on failure.
  explicit TempFile(const std::filesystem::path& target, unsigned mode = 0666);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  /// Writes all of `data`; throws on error.
  void write(std::string_view data);
  void write(const void* data, size_t n);
  /// fsyncs (when `sync`), closes and renames onto the target. Throws on error.
  void commit(bool sync = false);
  /// Closes and renames onto another name (e.g. a blob named by its digest).
  void commit_as(const std::filesystem::path& target, bool sync = false);

 private:
  std::filesystem::path target_;
  std::filesystem::path path_;
  int fd_ = -1;
  bool committed_ = false;
};

/// Writes `content` to `path` through a temp file and a rename (mode 0666 less the umask).
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

/// Reads a whole file; throws std::system_error naming the file when it cannot.
std::string read_file(const std::filesystem::path& path);

/// True when the file exists and holds exactly `content`.
bool file_has_content(const std::filesystem::path& path, std::string_view content);

/// Removes leftover temp files (`.*.tmp-*`) in a directory; returns how many.
size_t remove_stale_temp_files(const std::filesystem::path& dir);

}  // namespace flavourgraph
