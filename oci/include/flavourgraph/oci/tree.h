#pragma once
/// Source trees for layers: a sorted walk that never follows symlinks, and the tree hash the
/// layer cache is keyed by.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "flavourgraph/cancel.h"
#include "flavourgraph/oci/pattern.h"

namespace flavourgraph::oci {

enum class EntryType : uint8_t { file, dir, symlink, hardlink, fifo, chardev, blockdev };

struct TreeEntry {
  std::string path;  ///< relative to the root, '/'-separated; "" is the root itself
  EntryType type = EntryType::file;
  uint32_t mode = 0;  ///< permission bits (07777)
  uint64_t size = 0;  ///< regular files
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;  ///< in the cache key: catches in-place rewrites that keep the mtime
  uint64_t inode = 0;
  uint64_t dev = 0;
  uint32_t nlink = 1;
  uint32_t rdev_major = 0, rdev_minor = 0;
  std::string link;   ///< symlink target as stored, or the first path of a hard-linked file
                      ///< (a hard link keeps its file's size; the tar entry has none)
};

struct TreeListing {
  std::vector<TreeEntry> entries;    ///< in tar order (paths, with '/' after directories, sorted bytewise)
  std::vector<std::string> skipped;  ///< sockets (cannot be archived)
  uint64_t file_bytes = 0;
};

/// Lists `root` (which must be a directory) in tar order, applying `filter`. Throws
/// std::runtime_error naming the path on errors; stops early when `cancel` is requested.
TreeListing walk_tree(const std::filesystem::path& root, const Filter& filter, const CancelSource* cancel);

/// A hash of what the tree's listing would hold (every entry's name, type, mode, size, mtime,
/// ctime, inode, link count and link target), computed during a walk that stores nothing: a
/// Merkle hash whose directories hash their entries in tar order. Reads no file contents.
/// Sockets found (which a layer leaves out) go to `skipped` when given, sorted.
std::string tree_hash(const std::filesystem::path& root, const Filter& filter, const CancelSource* cancel,
                      std::vector<std::string>* skipped = nullptr);

/// The same hash from a listing (equal to tree_hash of the tree the listing was made from).
std::string tree_hash(const TreeListing& listing);

}  // namespace flavourgraph::oci
