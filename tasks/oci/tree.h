#pragma once
/// Source trees for layers: rsync-style include/exclude patterns and a sorted walk that never
/// follows symlinks.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "flavourgraph/cancel.h"

namespace flavourgraph::oci {

/// One include or exclude pattern, with rsync's rules:
///  - a leading `/` anchors it at the tree's root, otherwise it matches any trailing run of
///    whole path components (a pattern with no `/` and no `**`: the last component only);
///  - a trailing `/` matches directories only;
///  - `*` matches within one component, `**` across components, `?` one character,
///    `[...]` a character class (`[!...]` or `[^...]` negated), `\` escapes.
class Pattern {
 public:
  explicit Pattern(std::string_view text);
  [[nodiscard]] bool matches(std::string_view rel_path, bool is_dir) const;
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string glob_;
  bool anchored_ = false;
  bool dir_only_ = false;
  bool whole_path_ = false;  ///< has `/` or `**`: matched against paths, not names
  std::string tail_;         ///< literal text after the last wildcard: a match must end with it
  bool literal_ = false;     ///< no wildcard at all
};

/// True when `glob` matches all of `text`.
bool glob_match(std::string_view glob, std::string_view text);

/// The layer's rules: the include patterns, then the exclude patterns; the first match
/// decides; a path no rule matches is kept. An excluded directory is not descended into.
class Filter {
 public:
  Filter() = default;
  Filter(const std::vector<std::string>& include, const std::vector<std::string>& exclude);
  [[nodiscard]] bool excluded(std::string_view rel_path, bool is_dir) const;
  [[nodiscard]] bool empty() const { return rules_.empty(); }

 private:
  std::vector<std::pair<bool, Pattern>> rules_;  // (include?, pattern)
};

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
