// YAML 1.1 resolution and `yaml.dump` output, following PyYAML's documented behaviour:
// implicit resolvers of resolver.py and the scalar style rules of emitter.py.
#include "flavourgraph/pyyaml.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace flavourgraph::pyyaml {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/// Consumes an optional sign.
size_t skip_sign(std::string_view s, size_t i) {
  return (i < s.size() && (s[i] == '-' || s[i] == '+')) ? i + 1 : i;
}

/// `(?::[0-5]?[0-9])+` starting at i; returns end or npos when not matched at least once.
size_t sexagesimal_tail(std::string_view s, size_t i) {
  size_t groups = 0;
  while (i < s.size() && s[i] == ':') {
    size_t j = i + 1;
    if (j + 1 < s.size() && s[j] >= '0' && s[j] <= '5' && is_digit(s[j + 1])) {
      j += 2;
    } else if (j < s.size() && is_digit(s[j])) {
      j += 1;
    } else {
      break;
    }
    i = j;
    ++groups;
  }
  return groups ? i : std::string_view::npos;
}

size_t span_of(std::string_view s, size_t i, bool (*pred)(char)) {
  while (i < s.size() && pred(s[i])) ++i;
  return i;
}
bool digit_or_us(char c) { return is_digit(c) || c == '_'; }
bool hex_or_us(char c) { return is_hex(c) || c == '_'; }
bool oct_or_us(char c) { return (c >= '0' && c <= '7') || c == '_'; }
bool bin_or_us(char c) { return c == '0' || c == '1' || c == '_'; }

bool match_int(std::string_view s) {
  size_t i = skip_sign(s, 0);
  if (i >= s.size()) return false;
  auto rest = s.substr(i);
  if (rest.size() > 2 && rest[0] == '0' && rest[1] == 'b')
    return span_of(s, i + 2, bin_or_us) == s.size();
  if (rest.size() > 2 && rest[0] == '0' && rest[1] == 'x')
    return span_of(s, i + 2, hex_or_us) == s.size();
  if (rest[0] == '0') {
    if (rest.size() == 1) return true;
    return span_of(s, i + 1, oct_or_us) == s.size();
  }
  if (rest[0] < '1' || rest[0] > '9') return false;
  size_t j = span_of(s, i + 1, digit_or_us);
  if (j == s.size()) return true;
  size_t k = sexagesimal_tail(s, j);
  return k == s.size();
}

/// `[eE][-+][0-9]+` at i; returns end, i when absent, npos when malformed.
size_t exponent(std::string_view s, size_t i) {
  if (i >= s.size() || (s[i] != 'e' && s[i] != 'E')) return i;
  if (i + 1 >= s.size() || (s[i + 1] != '-' && s[i + 1] != '+')) return std::string_view::npos;
  size_t j = i + 2;
  size_t k = span_of(s, j, [](char c) { return is_digit(c); });
  return k > j ? k : std::string_view::npos;
}

bool match_float(std::string_view s) {
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return true;
  size_t i = skip_sign(s, 0);
  auto rest = s.substr(i);
  if (rest == ".inf" || rest == ".Inf" || rest == ".INF") return true;
  // \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?   (no sign)
  if (i == 0 && s.size() >= 2 && s[0] == '.' && is_digit(s[1])) {
    size_t j = span_of(s, 2, digit_or_us);
    size_t k = exponent(s, j);
    if (k == s.size()) return true;
  }
  if (i >= s.size() || !is_digit(s[i])) return false;
  size_t j = span_of(s, i + 1, digit_or_us);
  // [-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?
  if (j < s.size() && s[j] == '.') {
    size_t k = span_of(s, j + 1, digit_or_us);
    size_t e = exponent(s, k);
    if (e == s.size()) return true;
  }
  // [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
  size_t k = sexagesimal_tail(s, j);
  if (k != std::string_view::npos && k < s.size() && s[k] == '.')
    return span_of(s, k + 1, digit_or_us) == s.size();
  return false;
}

bool digits(std::string_view s, size_t i, size_t n) {
  if (i + n > s.size()) return false;
  for (size_t k = 0; k < n; ++k)
    if (!is_digit(s[i + k])) return false;
  return true;
}

/// `[0-9][0-9]?` at i; returns end or npos.
size_t one_or_two_digits(std::string_view s, size_t i) {
  if (i >= s.size() || !is_digit(s[i])) return std::string_view::npos;
  return (i + 1 < s.size() && is_digit(s[i + 1])) ? i + 2 : i + 1;
}

bool match_timestamp(std::string_view s) {
  if (s.size() == 10 && digits(s, 0, 4) && s[4] == '-' && digits(s, 5, 2) && s[7] == '-' &&
      digits(s, 8, 2))
    return true;
  if (!digits(s, 0, 4) || s.size() < 5 || s[4] != '-') return false;
  size_t i = one_or_two_digits(s, 5);
  if (i == std::string_view::npos || i >= s.size() || s[i] != '-') return false;
  i = one_or_two_digits(s, i + 1);
  if (i == std::string_view::npos || i >= s.size()) return false;
  if (s[i] == 'T' || s[i] == 't') {
    ++i;
  } else {
    size_t j = i;
    while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
    if (j == i) return false;
    i = j;
  }
  i = one_or_two_digits(s, i);
  if (i == std::string_view::npos) return false;
  if (i >= s.size() || s[i] != ':' || !digits(s, i + 1, 2)) return false;
  i += 3;
  if (i >= s.size() || s[i] != ':' || !digits(s, i + 1, 2)) return false;
  i += 3;
  if (i < s.size() && s[i] == '.') i = span_of(s, i + 1, [](char c) { return is_digit(c); });
  if (i == s.size()) return true;
  size_t j = i;
  while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
  if (j < s.size() && s[j] == 'Z') return j + 1 == s.size();
  if (j < s.size() && (s[j] == '-' || s[j] == '+')) {
    size_t k = one_or_two_digits(s, j + 1);
    if (k == std::string_view::npos) return false;
    if (k == s.size()) return true;
    return s[k] == ':' && digits(s, k + 1, 2) && k + 3 == s.size();
  }
  return false;
}

bool match_bool(std::string_view s) {
  static constexpr std::string_view words[] = {"yes", "Yes", "YES", "no",    "No",    "NO",
                                               "true", "True", "TRUE", "false", "False", "FALSE",
                                               "on",  "On",  "ON",  "off",   "Off",   "OFF"};
  for (auto w : words)
    if (s == w) return true;
  return false;
}

}  // namespace

PlainType resolve_plain(std::string_view text) {
  // Python's `$` also matches before one trailing newline.
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    return PlainType::null;
  if (match_bool(text)) return PlainType::boolean;
  if (match_float(text)) return PlainType::floating;
  if (match_int(text)) return PlainType::integer;
  if (text == "<<") return PlainType::merge;
  if (match_timestamp(text)) return PlainType::timestamp;
  if (text == "=") return PlainType::value;
  if (text == "!" || text == "&" || text == "*") return PlainType::yaml;
  return PlainType::str;
}

bool plain_bool_value(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return text == "yes" || text == "Yes" || text == "YES" || text == "true" || text == "True" ||
         text == "TRUE" || text == "on" || text == "On" || text == "ON";
}

Tree& Tree::child(const std::string& key) {
  auto it = items.find(key);
  if (it == items.end() || !std::holds_alternative<std::unique_ptr<Tree>>(it->second))
    it = items.insert_or_assign(key, std::make_unique<Tree>()).first;
  return *std::get<std::unique_ptr<Tree>>(it->second);
}

void Tree::set(const std::string& key, std::string value) {
  items.insert_or_assign(key, std::move(value));
}

void Tree::set(const std::string& key, Plain value) { items.insert_or_assign(key, std::move(value)); }

std::optional<Plain> plain_of_json(std::string_view t) {
  if (t == "true" || t == "false") return Plain{std::string(t)};
  if (t == "null") return Plain{"null"};
  if (t.empty() || !(t[0] == '-' || (t[0] >= '0' && t[0] <= '9'))) return std::nullopt;
  if (t.find_first_of(".eE") == std::string_view::npos) return Plain{std::string(t)};  // int: str()
  // A float: Python's repr() (the shortest digits that read back the same; positional when
  // the exponent is from -4 to 15, else d.ddde±XX), then PyYAML's ".0" for a mantissa with no
  // point and ".inf" for infinity.
  double v = std::strtod(std::string(t).c_str(), nullptr);
  if (std::isinf(v)) return Plain{v > 0 ? ".inf" : "-.inf"};
  char sci[64];
  for (int prec = 0; prec <= 16; ++prec) {
    std::snprintf(sci, sizeof sci, "%.*e", prec, v);
    if (std::strtod(sci, nullptr) == v) break;
  }
  std::string e(sci);
  auto epos = e.find('e');
  std::string mantissa = e.substr(0, epos);
  int exp10 = std::atoi(e.c_str() + epos + 1);
  std::string out;
  if (exp10 >= -4 && exp10 < 16) {
    size_t digits = mantissa.size() - (mantissa.find('.') == std::string::npos ? 0 : 1) - (v < 0 ? 1 : 0);
    int decimals = std::max(0, static_cast<int>(digits) - 1 - exp10);
    char pos[64];
    std::snprintf(pos, sizeof pos, "%.*f", decimals, v);
    out = pos;
    if (out.find('.') == std::string::npos) out += ".0";
  } else {
    char tail[16];
    std::snprintf(tail, sizeof tail, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out = mantissa + tail;
    if (mantissa.find('.') == std::string::npos) out.insert(mantissa.size(), ".0");
  }
  return Plain{out};
}

namespace {

/// Decodes UTF-8 into code points; invalid bytes become U+FFFD (inputs are validated upstream).
std::u32string decode(std::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    char32_t cp = 0xFFFD;
    size_t n = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 0x6 && i + 1 < s.size()) {
      cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      n = 2;
    } else if ((c >> 4) == 0xE && i + 2 < s.size()) {
      cp = ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
      n = 3;
    } else if ((c >> 3) == 0x1E && i + 3 < s.size()) {
      cp = ((c & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
           ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
      n = 4;
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

bool is_break(char32_t c) { return c == U'\n' || c == 0x85 || c == 0x2028 || c == 0x2029; }
bool is_ws_or_end(char32_t c) {
  return c == 0 || c == U' ' || c == U'\t' || c == U'\r' || is_break(c);
}

struct Analysis {
  bool empty = false;
  bool multiline = false;
  bool allow_flow_plain = true;
  bool allow_block_plain = true;
  bool allow_single_quoted = true;
  bool allow_double_quoted = true;
};

Analysis analyze(const std::u32string& s) {
  Analysis a;
  if (s.empty()) {
    a.empty = true;
    a.allow_flow_plain = false;
    return a;
  }
  bool block_ind = false, flow_ind = false, line_breaks = false, special = false;
  bool leading_space = false, leading_break = false, trailing_space = false,
       trailing_break = false, break_space = false, space_break = false;
  auto starts = [&](std::u32string_view p) { return s.size() >= p.size() && s.substr(0, p.size()) == p; };
  if (starts(U"---") || starts(U"...")) block_ind = flow_ind = true;
  bool preceded_ws = true;
  bool followed_ws = s.size() == 1 || is_ws_or_end(s[1]);
  bool prev_space = false, prev_break = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char32_t ch = s[i];
    if (i == 0) {
      if (std::u32string_view(U"#,[]{}&*!|>'\"%@`").find(ch) != std::u32string_view::npos)
        flow_ind = block_ind = true;
      if (ch == U'?' || ch == U':') {
        flow_ind = true;
        if (followed_ws) block_ind = true;
      }
      if (ch == U'-' && followed_ws) flow_ind = block_ind = true;
    } else {
      if (std::u32string_view(U",?[]{}").find(ch) != std::u32string_view::npos) flow_ind = true;
      if (ch == U':') {
        flow_ind = true;
        if (followed_ws) block_ind = true;
      }
      if (ch == U'#' && preceded_ws) flow_ind = block_ind = true;
    }
    if (is_break(ch)) line_breaks = true;
    if (!(ch == U'\n' || (ch >= 0x20 && ch <= 0x7E))) special = true;  // ASCII output only
    if (ch == U' ') {
      if (i == 0) leading_space = true;
      if (i == s.size() - 1) trailing_space = true;
      if (prev_break) break_space = true;
      prev_space = true;
      prev_break = false;
    } else if (is_break(ch)) {
      if (i == 0) leading_break = true;
      if (i == s.size() - 1) trailing_break = true;
      if (prev_space) space_break = true;
      prev_space = false;
      prev_break = true;
    } else {
      prev_space = prev_break = false;
    }
    preceded_ws = is_ws_or_end(ch);
    followed_ws = i + 2 >= s.size() || is_ws_or_end(s[i + 2]);
  }
  if (leading_space || leading_break || trailing_space || trailing_break)
    a.allow_flow_plain = a.allow_block_plain = false;
  if (break_space) a.allow_flow_plain = a.allow_block_plain = a.allow_single_quoted = false;
  if (space_break || special)
    a.allow_flow_plain = a.allow_block_plain = a.allow_single_quoted = false;
  if (line_breaks) a.allow_flow_plain = a.allow_block_plain = false;
  if (flow_ind) a.allow_flow_plain = false;
  if (block_ind) a.allow_block_plain = false;
  a.multiline = line_breaks;
  return a;
}

constexpr int kBestWidth = 80;
constexpr int kBestIndent = 2;

/// The subset of PyYAML's Emitter state that block mappings of strings need.
class Writer {
 public:
  std::string out;

  void mapping(const Tree& t, int indent) {
    if (t.items.empty()) {
      write_indicator("{}", true);
      return;
    }
    for (const auto& [key, node] : t.items) {
      write_indent(indent);
      scalar(key, indent + kBestIndent, /*simple_key=*/true);
      write_indicator(":", false);
      if (const auto* s = std::get_if<std::string>(&node)) {
        scalar(*s, indent + kBestIndent, false);
      } else if (const auto* p = std::get_if<Plain>(&node)) {
        emit(" ");
        emit(p->text);
        whitespace_ = indention_ = false;
      } else {
        const auto& sub = *std::get<std::unique_ptr<Tree>>(node);
        if (sub.items.empty())
          write_indicator("{}", true);
        else
          mapping(sub, indent + kBestIndent);
      }
    }
  }

  void finish() { write_indent(0); }

 private:
  int column_ = 0;
  bool whitespace_ = true;
  bool indention_ = true;
  int indent_ = 0;

  void emit(std::u32string_view data) {
    for (char32_t c : data) out.push_back(static_cast<char>(c));  // ASCII only by construction
    column_ += static_cast<int>(data.size());
  }
  void emit(std::string_view data) {
    out.append(data);
    column_ += static_cast<int>(data.size());
  }

  void write_indicator(std::string_view ind, bool need_ws) {
    if (whitespace_ || !need_ws)
      emit(ind);
    else {
      emit(" ");
      emit(ind);
    }
    whitespace_ = false;
    indention_ = false;
  }

  void line_break() {
    out.push_back('\n');
    whitespace_ = true;
    indention_ = true;
    column_ = 0;
  }

  void write_indent(int indent) {
    indent_ = indent;
    if (!indention_ || column_ > indent || (column_ == indent && !whitespace_)) line_break();
    if (column_ < indent) {
      whitespace_ = true;
      out.append(static_cast<size_t>(indent - column_), ' ');
      column_ = indent;
    }
  }
  void write_indent() { write_indent(indent_); }

  void scalar(const std::string& value, int indent, bool simple_key) {
    indent_ = indent;
    auto text = decode(value);
    Analysis a = analyze(text);
    bool implicit = resolve_plain(value) == PlainType::str;
    bool split = !simple_key;
    if (implicit && !(simple_key && (a.empty || a.multiline)) && a.allow_block_plain) {
      plain(text, split);
    } else if (a.allow_single_quoted && !(simple_key && a.multiline)) {
      single_quoted(text, split);
    } else {
      double_quoted(text, split);
    }
  }

  void plain(const std::u32string& t, bool split) {
    if (t.empty()) return;
    if (!whitespace_) emit(" ");
    whitespace_ = indention_ = false;
    bool spaces = false, breaks = false;
    size_t start = 0;
    for (size_t end = 0; end <= t.size(); ++end) {
      char32_t ch = end < t.size() ? t[end] : 0;
      bool at_end = end == t.size();
      if (spaces) {
        if (at_end || ch != U' ') {
          if (start + 1 == end && column_ > kBestWidth && split) {
            write_indent();
            whitespace_ = indention_ = false;
          } else {
            emit(std::u32string_view(t).substr(start, end - start));
          }
          start = end;
        }
      } else if (breaks) {
        // Plain scalars never hold line breaks here (analysis forbids them).
      } else if (at_end || ch == U' ' || is_break(ch)) {
        emit(std::u32string_view(t).substr(start, end - start));
        start = end;
      }
      if (!at_end) {
        spaces = ch == U' ';
        breaks = is_break(ch);
      }
    }
  }

  void single_quoted(const std::u32string& t, bool split) {
    write_indicator("'", true);
    bool spaces = false, breaks = false;
    size_t start = 0;
    for (size_t end = 0; end <= t.size(); ++end) {
      bool at_end = end == t.size();
      char32_t ch = at_end ? 0 : t[end];
      if (spaces) {
        if (at_end || ch != U' ') {
          if (start + 1 == end && column_ > kBestWidth && split && start != 0 && end != t.size()) {
            write_indent();
          } else {
            emit(std::u32string_view(t).substr(start, end - start));
          }
          start = end;
        }
      } else if (breaks) {
        if (at_end || !is_break(ch)) {
          if (t[start] == U'\n') line_break();
          // Only '\n' can be here: other breaks are non-ASCII and force double quotes.
          for (size_t k = start; k < end; ++k) line_break();
          write_indent();
          start = end;
        }
      } else if (at_end || ch == U' ' || is_break(ch) || ch == U'\'') {
        if (start < end) {
          emit(std::u32string_view(t).substr(start, end - start));
          start = end;
        }
      }
      if (ch == U'\'' && !at_end) {
        emit("''");
        start = end + 1;
      }
      if (!at_end) {
        spaces = ch == U' ';
        breaks = is_break(ch);
      }
    }
    write_indicator("'", false);
  }

  static std::string escape(char32_t ch) {
    switch (ch) {
      case 0: return "\\0";
      case 0x07: return "\\a";
      case 0x08: return "\\b";
      case 0x09: return "\\t";
      case 0x0A: return "\\n";
      case 0x0B: return "\\v";
      case 0x0C: return "\\f";
      case 0x0D: return "\\r";
      case 0x1B: return "\\e";
      case U'"': return "\\\"";
      case U'\\': return "\\\\";
      case 0x85: return "\\N";
      case 0xA0: return "\\_";
      case 0x2028: return "\\L";
      case 0x2029: return "\\P";
      default: break;
    }
    char buf[16];
    if (ch <= 0xFF)
      snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(ch));
    else if (ch <= 0xFFFF)
      snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(ch));
    else
      snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(ch));
    return buf;
  }

  void double_quoted(const std::u32string& t, bool split) {
    write_indicator("\"", true);
    size_t start = 0;
    for (size_t end = 0; end <= t.size(); ++end) {
      bool at_end = end == t.size();
      char32_t ch = at_end ? 0 : t[end];
      if (at_end || ch == U'"' || ch == U'\\' || ch == 0x85 || ch == 0x2028 || ch == 0x2029 ||
          ch == 0xFEFF || !(ch >= 0x20 && ch <= 0x7E)) {
        if (start < end) {
          emit(std::u32string_view(t).substr(start, end - start));
          start = end;
        }
        if (!at_end) {
          emit(escape(ch));
          start = end + 1;
        }
      }
      if (end > 0 && end + 1 < t.size() && (ch == U' ' || start >= end) &&
          column_ + static_cast<int>(end - start) > kBestWidth && split) {
        std::u32string data(t.substr(start, end - start));
        data.push_back(U'\\');
        if (start < end) start = end;
        emit(data);
        write_indent();
        whitespace_ = indention_ = false;
        if (t[start] == U' ') emit("\\");
      }
    }
    write_indicator("\"", false);
  }
};

}  // namespace

std::string dump(const Tree& tree) {
  Writer w;
  if (tree.items.empty()) {
    w.out = "{}\n";
    return w.out;
  }
  w.mapping(tree, 0);
  w.finish();
  return w.out;
}

}  // namespace flavourgraph::pyyaml
