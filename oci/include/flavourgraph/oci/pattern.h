#pragma once
/// rsync-style include/exclude patterns for layer sources.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

}  // namespace flavourgraph::oci
