#pragma once
/// A tree as content, and the difference of two such trees as an OCI layer changeset.
///
/// A TreeIndex says what a layer holds with nothing of the machine that built it (no inode, no
/// ctime, no mtime): per entry its path, type, mode, and its content digest (files), link
/// target (symlinks), first path (hard links) or device numbers. An image built from an
/// incremental layer carries the index of its tree, so that any machine can build the next
/// delta. A StatCache lets this machine compute an index reading only the files whose stat
/// changed since it last looked.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flavourgraph/cancel.h"
#include "flavourgraph/error.h"
#include "flavourgraph/oci/tree.h"

namespace flavourgraph::oci {

struct IndexEntry {
  std::string path;  ///< relative to the tree's root, '/'-separated; "" is the root
  EntryType type = EntryType::file;
  uint32_t mode = 0;
  uint64_t size = 0;      ///< files
  std::string digest;     ///< sha256 hex of a file's content
  std::string link;       ///< symlink target, or a hard link's first path
  uint32_t rdev_major = 0, rdev_minor = 0;

  /// Same content, type and mode (what a layer would write identically).
  [[nodiscard]] bool same(const IndexEntry& o) const {
    return type == o.type && mode == o.mode && size == o.size && digest == o.digest && link == o.link &&
           rdev_major == o.rdev_major && rdev_minor == o.rdev_minor;
  }
};

struct TreeIndex {
  std::string spec;                 ///< the layer's fingerprint it was built for (dest, owner, ...)
  std::vector<IndexEntry> entries;  ///< in tar order
  uint64_t file_bytes = 0;          ///< content bytes, each hard-linked file once

  /// The index as a blob: zstd-compressed records. Media type kTreeIndexMediaType.
  [[nodiscard]] std::string serialize() const;
  static Expected<TreeIndex> parse(std::string_view blob);
};

/// A digest (sha256 hex) of what `index` holds: every entry's path, type, mode, size, content
/// digest, link and device numbers, in order. Two trees with the same content have the same
/// one on any machine, whatever their inodes and times; the spec is not part of it.
std::string content_digest(const TreeIndex& index);

inline constexpr std::string_view kTreeIndexMediaType = "application/vnd.flavourgraph.tree-index.v1+zstd";
inline constexpr std::string_view kTreeIndexArtifactType = "application/vnd.flavourgraph.tree-index.v1";

/// Content digests this machine computed, by path and stat (size, mtime, ctime, inode,
/// device): a file whose stat is unchanged is not read again. It is the last indexed tree's
/// files, kept as one plain file that is read and written whole.
class StatCache {
 public:
  /// An empty cache when the file is missing or does not read.
  static StatCache load(const std::filesystem::path& file);
  /// The files of `listing` with their digests in `index` (made from it), through a temp file
  /// and a rename. Files changed within a clock tick of `now_ns` (default: the clock) are not
  /// trusted when the cache is loaded again: they may change again without their stat changing.
  static void save(const std::filesystem::path& file, const TreeListing& listing, const TreeIndex& index,
                   std::optional<int64_t> now_ns = std::nullopt);
  /// The digest of `e` when its stat is the one recorded, else null.
  [[nodiscard]] const std::string_view* find(const TreeEntry& e) const;
  [[nodiscard]] size_t size() const { return entries_.size(); }

 private:
  struct Stat {
    std::string_view path;
    uint64_t size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    uint64_t inode = 0, dev = 0;
    std::string_view digest;
  };
  std::shared_ptr<const std::string> text_;  ///< the file; paths and digests point into it
  std::vector<Stat> entries_;                ///< sorted by path (bytewise, as a walk lists files)
};

struct IndexStats {
  size_t files_read = 0;     ///< files hashed (their stat was not in the cache)
  uint64_t bytes_read = 0;
};

/// The index of `listing` (a walk of `root`): file digests from `cache` where the stat is
/// unchanged, read and hashed (on all cores) otherwise. Throws
/// naming a file that cannot be read or changed while it was read; Cancelled on cancellation.
TreeIndex index_tree(const std::filesystem::path& root, const TreeListing& listing, const std::string& spec,
                     const StatCache& cache, const CancelSource& cancel, IndexStats* stats = nullptr);

/// What changed from one tree to the next, as a layer to append: new and changed entries
/// (from the current listing, so that the tar stream reads them from disk), a whiteout
/// `.wh.<name>` for each removed entry (the topmost of a removed subtree), a whiteout and the
/// new entry where an entry changed type, and an opaque marker `.wh..wh..opq` in a directory
/// whose every old entry is gone. A hard link is written with the file it links to.
struct TreeDelta {
  TreeListing listing;                 ///< in tar order; whiteouts are empty files
  size_t added = 0, changed = 0, removed = 0;
  uint64_t bytes = 0;                  ///< content bytes the delta writes
  std::vector<std::string> sample;     ///< the first few paths that changed, for explanations
  [[nodiscard]] bool empty() const { return added == 0 && changed == 0 && removed == 0; }
};

TreeDelta diff_trees(const TreeIndex& before, const TreeIndex& after, const TreeListing& current);

/// True when `a` sorts before `b` in a tar stream of a tree (a directory as its path and '/').
bool tar_path_less(std::string_view a, bool a_dir, std::string_view b, bool b_dir);

}  // namespace flavourgraph::oci
