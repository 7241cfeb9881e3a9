#pragma once
/// An OCI image layout on disk (`oci-layout`, `index.json`, `blobs/sha256/...`): the local
/// store, the build cache's blob store, an `oci:` base and an `oci:` push target.
///
/// Blobs are written to a temp file, verified against their digest, then renamed into place,
/// so a blob path always holds exactly its content. index.json is rewritten through a temp
/// file and a rename. One process at a time holds a layout's lock; within a process, the
/// layout is safe for concurrent tasks.

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "flavourgraph/oci/digest.h"
#include "flavourgraph/oci/errors.h"
#include "flavourgraph/oci/types.h"

namespace flavourgraph::oci {

class Layout;

/// Streams a blob into a layout: hashed while written, renamed into place on commit.
class BlobWriter {
 public:
  explicit BlobWriter(const Layout& layout);
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  [[nodiscard]] uint64_t size() const { return size_; }
  /// Finishes the digest, checks it against `expected` when given, and moves the blob into
  /// place (an existing blob with that digest is kept). Returns the digest.
  Digest commit(const std::optional<Digest>& expected = std::nullopt);

 private:
  const Layout& layout_;
  std::filesystem::path tmp_;
  int fd_ = -1;
  Sha256 hash_;
  uint64_t size_ = 0;
  bool done_ = false;
};

class Layout {
 public:
  /// Opens a layout. With `create`, a missing or empty directory becomes a new layout.
  /// Throws StoreError when the directory is not a layout.
  static std::unique_ptr<Layout> open(const std::filesystem::path& dir, bool create);

  /// Takes the inter-process lock (non-blocking); throws StoreError naming the holder's pid.
  /// Also clears temp files left by an interrupted run.
  void lock();

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  [[nodiscard]] std::filesystem::path blob_path(const Digest& d) const;
  [[nodiscard]] std::filesystem::path tmp_dir() const;
  [[nodiscard]] std::filesystem::path state_dir() const;  ///< <dir>/.flavourgraph (cache, lock)

  /// True when the blob exists (and has `size` bytes when size >= 0).
  [[nodiscard]] bool has_blob(const Digest& d, int64_t size = -1) const;
  /// Reads a blob of at most `max_size` bytes and verifies its digest.
  [[nodiscard]] std::string read_blob(const Digest& d, size_t max_size = 64u << 20) const;
  /// Writes a small blob (verified); returns its descriptor.
  Descriptor put_blob(std::string_view data, std::string_view media_type);
  /// Puts a blob of another layout into this one: a copy verified against the digest, or, with
  /// `link` (only between layouts this program writes, whose blobs it verified), a hard link
  /// when both are on one filesystem. Returns false when it was there already.
  bool copy_blob_from(const Layout& other, const Descriptor& d, bool link = false);

  /// The manifest descriptor named `ref` in index.json.
  [[nodiscard]] std::optional<Descriptor> resolve(std::string_view ref) const;
  /// Names `manifest` as `ref` in index.json. Returns false when it already did.
  bool set_ref(std::string_view ref, const Descriptor& manifest);
  /// The names in index.json.
  [[nodiscard]] std::vector<std::string> ref_names() const;
  /// The named entries of index.json, in the file's order: name and descriptor.
  [[nodiscard]] std::vector<std::pair<std::string, Descriptor>> refs() const;
  /// Drops the entries named in `names` from index.json, in one rewrite (a temp file and a
  /// rename). Returns how many there were. (layout_gc.cc)
  size_t remove_refs(const std::set<std::string>& names);
  /// Every blob file under blobs/sha256 (names that are not 64 hex digits are left out), with
  /// its size in bytes.
  [[nodiscard]] std::vector<std::pair<Digest, uint64_t>> blobs() const;
  /// Deletes a blob. True when it was there.
  bool remove_blob(const Digest& d);

  ~Layout();

 private:
  explicit Layout(std::filesystem::path dir);
  void load_index();
  void write_index_locked();

  std::filesystem::path dir_;
  mutable std::mutex mutex_;
  std::vector<Descriptor> manifests_;
  int lock_fd_ = -1;
};

/// Adds to `live` the blobs of `layout` reachable from `root`: an index's manifests, a
/// manifest's config and layers, recursively (an artifact's `subject` is not followed: a
/// referrer keeps nothing alive). Blobs the layout lacks are left out; a blob that is not JSON
/// is a leaf. Throws StoreError when a present manifest or index does not read.
void mark_reachable(const Layout& layout, const Digest& root, std::set<Digest>& live);

}  // namespace flavourgraph::oci
