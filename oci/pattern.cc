// rsync-style include/exclude patterns for layer sources.
#include "flavourgraph/oci/pattern.h"

namespace flavourgraph::oci {

namespace {
/// Matches a character class at glob[gi] ('[' included) against c; returns the index after
/// ']' through `end`, or npos when malformed (then '[' is literal).
bool class_match(std::string_view glob, size_t gi, char c, size_t* end) {
  size_t i = gi + 1;
  bool negate = i < glob.size() && (glob[i] == '!' || glob[i] == '^');
  if (negate) ++i;
  bool matched = false;
  bool first = true;
  for (; i < glob.size(); ++i) {
    if (glob[i] == ']' && !first) {
      *end = i + 1;
      return matched != negate;
    }
    first = false;
    char lo = glob[i];
    if (lo == '\\' && i + 1 < glob.size()) lo = glob[++i];
    char hi = lo;
    if (i + 2 < glob.size() && glob[i + 1] == '-' && glob[i + 2] != ']') {
      hi = glob[i + 2];
      i += 2;
    }
    if (c >= lo && c <= hi) matched = true;
  }
  *end = std::string_view::npos;
  return false;
}

bool match_from(std::string_view g, size_t gi, std::string_view t, size_t ti, int depth) {
  if (depth > 64) return false;  // bounded backtracking for pathological patterns
  while (gi < g.size()) {
    char c = g[gi];
    if (c == '*') {
      bool star2 = gi + 1 < g.size() && g[gi + 1] == '*';
      size_t next = gi + (star2 ? 2 : 1);
      while (next < g.size() && g[next] == '*') ++next;
      if (next == g.size()) return star2 || t.find('/', ti) == std::string_view::npos;
      for (size_t k = ti; k <= t.size(); ++k) {
        if (match_from(g, next, t, k, depth + 1)) return true;
        if (k < t.size() && t[k] == '/' && !star2) return false;
      }
      return false;
    }
    if (ti >= t.size()) return false;
    if (c == '?') {
      if (t[ti] == '/') return false;
      ++gi;
      ++ti;
      continue;
    }
    if (c == '[') {
      size_t end = 0;
      bool ok = class_match(g, gi, t[ti], &end);
      if (end != std::string_view::npos) {
        if (!ok || t[ti] == '/') return false;
        gi = end;
        ++ti;
        continue;
      }
    }
    if (c == '\\' && gi + 1 < g.size()) c = g[++gi];
    if (c != t[ti]) return false;
    ++gi;
    ++ti;
  }
  return ti == t.size();
}
}  // namespace

bool glob_match(std::string_view glob, std::string_view text) { return match_from(glob, 0, text, 0, 0); }

Pattern::Pattern(std::string_view text) : text_(text) {
  std::string_view g = text;
  if (!g.empty() && g.front() == '/') {
    anchored_ = true;
    g.remove_prefix(1);
  }
  if (!g.empty() && g.back() == '/') {
    dir_only_ = true;
    g.remove_suffix(1);
  }
  glob_ = std::string(g);
  whole_path_ = anchored_ || glob_.find('/') != std::string::npos || glob_.find("**") != std::string::npos;
  // The literal text after the last wildcard (`*`, `?` or a whole `[...]` class), escapes
  // resolved: every match must end with it.
  literal_ = true;
  for (size_t i = 0; i < glob_.size(); ++i) {
    char c = glob_[i];
    if (c == '\\' && i + 1 < glob_.size()) {
      tail_ += glob_[++i];
    } else if (c == '*' || c == '?') {
      literal_ = false;
      tail_.clear();
    } else if (c == '[') {
      size_t end = 0;
      class_match(glob_, i, 'a', &end);
      if (end == std::string::npos) {
        tail_ += c;  // not a class: a literal '['
      } else {
        literal_ = false;
        tail_.clear();
        i = end - 1;
      }
    } else {
      tail_ += c;
    }
  }
}

bool Pattern::matches(std::string_view rel, bool is_dir) const {
  if (dir_only_ && !is_dir) return false;
  // Every candidate (the path, a trailing run of it, or its last component) ends where the
  // path ends: one comparison rules out most paths before any globbing.
  if (!rel.ends_with(tail_)) return false;
  if (literal_) {  // tail_ is the whole pattern, escapes resolved
    if (anchored_) return rel == tail_;
    return rel.size() == tail_.size() || rel[rel.size() - tail_.size() - 1] == '/';
  }
  if (anchored_) return glob_match(glob_, rel);
  if (!whole_path_) {
    auto slash = rel.rfind('/');
    return glob_match(glob_, slash == std::string_view::npos ? rel : rel.substr(slash + 1));
  }
  // Any trailing run of whole components: the path itself, and after each '/'.
  if (glob_match(glob_, rel)) return true;
  for (size_t i = 0; i < rel.size(); ++i)
    if (rel[i] == '/' && glob_match(glob_, rel.substr(i + 1))) return true;
  return false;
}

Filter::Filter(const std::vector<std::string>& include, const std::vector<std::string>& exclude) {
  for (const auto& p : include) rules_.emplace_back(true, Pattern(p));
  for (const auto& p : exclude) rules_.emplace_back(false, Pattern(p));
}

bool Filter::excluded(std::string_view rel, bool is_dir) const {
  for (const auto& [include, pattern] : rules_)
    if (pattern.matches(rel, is_dir)) return !include;
  return false;
}
}  // namespace flavourgraph::oci
