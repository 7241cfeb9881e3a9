#pragma once
/// Errors and warnings with a place: `file:line:col: field.path: message`.
///
/// Loading and validation collect every problem instead of stopping at the first,
/// so a release engineer fixes a configuration in one pass.

#include <string>
#include <string_view>
#include <vector>

namespace flavourgraph {

/// A place in an input file. Lines and columns are 1-based; 0 means unknown.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  [[nodiscard]] std::string str() const;
};

enum class Severity { warning, error };

struct Diagnostic {
  Severity severity = Severity::error;
  Location where;
  std::string field;  ///< dotted field path, e.g. `mw-web.releases.next.mw_flavour`
  std::string message;

  /// `file:line:col: field: message` (parts that are unknown are left out).
  [[nodiscard]] std::string str() const;
};

/// An ordered collection of diagnostics.
class Diagnostics {
 public:
  void error(Location where, std::string field, std::string message);
  void warning(Location where, std::string field, std::string message);
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  void append(const Diagnostics& other);

  [[nodiscard]] bool has_errors() const;
  [[nodiscard]] size_t error_count() const;
  [[nodiscard]] const std::vector<Diagnostic>& items() const { return items_; }
  [[nodiscard]] bool empty() const { return items_.empty(); }
  /// True when some diagnostic's text contains `needle` (for tests and callers).
  [[nodiscard]] bool mentions(std::string_view needle) const;
  /// All diagnostics, one per line, warnings prefixed `warning: `.
  [[nodiscard]] std::string str() const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace flavourgraph
