#pragma once
/// Strict reading of YAML configuration: every value is checked for type, every mapping for
/// unknown and duplicate keys, and every problem is recorded with its file:line:col and field
/// path. Hostile input (NUL bytes, deep nesting, huge files) is refused with an error.

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flavourgraph/diagnostics.h"

namespace flavourgraph::yamlr {

/// Largest configuration file accepted.
inline constexpr size_t kMaxFileBytes = 16u << 20;

/// Reads and parses one YAML document. On failure records an error and returns nullopt.
/// `display` is the name used in messages (the path as the user gave it).
std::optional<YAML::Node> load_file(const std::filesystem::path& path, const std::string& display,
                                    Diagnostics& diags);

/// Parses YAML text (used by load_file and by tests with inline documents).
std::optional<YAML::Node> load_text(std::string_view text, const std::string& display,
                                    Diagnostics& diags);


/// A short word for a node's type, for messages: "a mapping", "a list", "a string", "null".
std::string describe(const YAML::Node& node);

/// True for a scalar written without quotes.
bool is_plain(const YAML::Node& node);

/// The context one reader works in: file name for locations and the diagnostics sink.
/// The place of a node, 1-based.
Location where(const std::string& file, const YAML::Node& node);

/// Mapping entries and list items one configuration may hold (aliases count each time they
/// are used, so an alias bomb stops here instead of exhausting memory).
inline constexpr size_t kMaxEntries = 1'000'000;

struct Ctx {
  std::string file;
  Diagnostics* diags;
  std::shared_ptr<size_t> used = std::make_shared<size_t>(0);

  /// Counts `n` more entries; false (with one error) once the budget is spent.
  bool charge(size_t n, const YAML::Node& at) const {
    bool was_ok = *used <= kMaxEntries;
    *used += n;
    if (*used <= kMaxEntries) return true;
    if (was_ok)
      diags->error(where(file, at), "",
                   "the document holds more than a million entries (counting each use of an alias): refusing it");
    return false;
  }

  void error(const YAML::Node& at, const std::string& field, std::string msg) const {
    diags->error(where(file, at), field, std::move(msg));
  }
  void warning(const YAML::Node& at, const std::string& field, std::string msg) const {
    diags->warning(where(file, at), field, std::move(msg));
  }
};

/// Joins a field path: `a.b` + `c` = `a.b.c`.
std::string join(const std::string& path, std::string_view key);

/// One key of a mapping, with its nodes for locations.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

/// A checked view of a YAML mapping. Construction reports a non-mapping node, non-scalar and
/// duplicate keys; `allow` then reports keys outside a known set.
class MapReader {
 public:
  MapReader(const Ctx& ctx, const YAML::Node& node, std::string path);

  /// Reports every key not in `known` as an unknown key (with a suggestion).
  void allow(std::initializer_list<std::string_view> known) const;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::vector<Entry>& entries() const { return entries_; }
  [[nodiscard]] const Entry* find(std::string_view key) const;
  [[nodiscard]] bool has(std::string_view key) const { return find(key) != nullptr; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string field(std::string_view key) const { return join(path_, key); }
  [[nodiscard]] const YAML::Node& node() const { return node_; }
  [[nodiscard]] const Ctx& ctx() const { return ctx_; }

  /// A string value. Absent: nullopt (error if `required`). Null, empty, or not a scalar: error.
  std::optional<std::string> str(std::string_view key, bool required = false) const;
  /// A boolean as YAML 1.1 reads a plain scalar (true/false/yes/no/on/off); anything else errors.
  std::optional<bool> boolean(std::string_view key) const;
  /// A list of non-empty strings (absent: empty list).
  std::vector<std::string> str_list(std::string_view key) const;
  /// A mapping of string to string, in file order (absent: empty).
  std::vector<std::pair<std::string, std::string>> str_map(std::string_view key) const;

 private:
  const Ctx& ctx_;
  YAML::Node node_;
  std::string path_;
  bool ok_ = false;
  std::vector<Entry> entries_;
};

/// Reads a scalar value as a non-empty string; records an error and returns nullopt otherwise.
std::optional<std::string> scalar_string(const Ctx& ctx, const YAML::Node& value,
                                         const std::string& field);

/// The closest of `candidates` to `word` (nearest_word), or empty.
std::string suggest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace flavourgraph::yamlr
