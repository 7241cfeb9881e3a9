#pragma once
/// YAML 1.1 as PyYAML reads and writes it.
///
/// Production reads deployments files with `yaml.safe_load` and writes values files with
/// `yaml.dump`; both are checked byte for byte, so the rules live here in one place:
/// how a plain scalar resolves (bool, int, float, null, timestamp, str) and how `yaml.dump`
/// (block style, sorted keys, width 80, ASCII output) writes a tree of strings.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace flavourgraph::pyyaml {

/// The type PyYAML's implicit resolver gives a plain (unquoted) scalar.
enum class PlainType { str, null, boolean, integer, floating, timestamp, merge, value, yaml };

[[nodiscard]] PlainType resolve_plain(std::string_view text);

/// For a plain scalar that resolves to bool: its value.
[[nodiscard]] bool plain_bool_value(std::string_view text);

/// A scalar written as it is (a number, a boolean or null in YAML's own spelling).
struct Plain {
  std::string text;
};

/// A tree of mappings of strings (and a few plain scalars): the shape values files have.
struct Tree {
  using Node = std::variant<std::string, Plain, std::unique_ptr<Tree>>;
  std::map<std::string, Node> items;  ///< std::map sorts keys as Python's sorted() on str does

  Tree& child(const std::string& key);
  void set(const std::string& key, std::string value);
  void set(const std::string& key, Plain value);
};

/// How `yaml.dump` writes a value that JSON holds as a number, boolean or null (Python's
/// json.load type, then PyYAML's representer): 8.1, 8, 1.0e+16, true, null, .inf.
/// Returns nullopt for strings, arrays and objects.
std::optional<Plain> plain_of_json(std::string_view json_text);

/// Exactly what `yaml.dump(tree)` (PyYAML >= 5.1 defaults) returns for `tree`.
[[nodiscard]] std::string dump(const Tree& tree);

}  // namespace flavourgraph::pyyaml
