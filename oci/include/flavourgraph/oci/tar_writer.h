#pragma once
/// A reproducible tar stream of a listed tree: entries in the listing's (sorted) order, one
/// fixed mtime, numeric owner, modes kept, symlinks as links, hard links as links to the first
/// path. ustar headers, with a pax header only where ustar cannot hold a value (long names,
/// large sizes or ids); no access or change times anywhere.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "flavourgraph/oci/tree.h"

namespace flavourgraph::oci {

struct TarOptions {
  std::string dest;      ///< where the tree's root goes, without leading '/': "srv/mediawiki"
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime = 0;     ///< seconds since the epoch, for every entry
};

/// Pulls the archive in pieces: `read` fills the buffer completely except at the end, so the
/// stream can be cut into fixed-size chunks.
class TarStream {
 public:
  TarStream(const std::filesystem::path& root, const TreeListing& listing, const TarOptions& options);
  ~TarStream();
  TarStream(const TarStream&) = delete;
  TarStream& operator=(const TarStream&) = delete;

  /// Writes up to `n` bytes; returns how many (0 at the end). Throws std::runtime_error when a
  /// file cannot be read, or changed since it was listed or while it was read (its size,
  /// mtime or ctime differ from the listing's before or after the read): a layer never holds
  /// content that was not on disk as one piece.
  size_t read(char* out, size_t n);
  [[nodiscard]] uint64_t bytes() const { return total_; }

 private:
  void next_entry();
  void append_header(const TreeEntry& e, const std::string& name, const std::string& link);
  void open_file(const TreeEntry& e);
  void check_unchanged(const TreeEntry& e, const char* when) const;

  std::filesystem::path root_;
  const TreeListing& listing_;
  TarOptions opt_;
  std::vector<std::string> parents_;  ///< parent directories of dest, emitted first
  size_t parent_index_ = 0;
  size_t entry_index_ = 0;
  std::string pending_;  ///< header or padding bytes not yet returned
  size_t pending_off_ = 0;
  std::unique_ptr<class DirCursor> dirs_;  ///< files open relative to their directory: any depth
  int fd_ = -1;
  const TreeEntry* file_ = nullptr;  ///< the file being read
  uint64_t file_left_ = 0;
  uint64_t file_pad_ = 0;
  std::string file_path_;
  bool trailer_done_ = false;
  uint64_t total_ = 0;
};

/// About the bytes TarStream gives for `listing`, from the listing alone (for progress): exact
/// unless a pax header is needed where this does not foresee one (or its records are longer).
uint64_t estimated_tar_size(const TreeListing& listing, const TarOptions& options);

/// One 512-byte ustar header (and a preceding pax header when needed) for an entry.
std::string tar_header(const std::string& name, char type, uint32_t mode, uint64_t size, const TarOptions& opt,
                       const std::string& link, uint32_t dev_major = 0, uint32_t dev_minor = 0);

}  // namespace flavourgraph::oci
