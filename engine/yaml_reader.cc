#include "yaml_reader.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "flavourgraph/pyyaml.h"
#include "flavourgraph/text.h"

namespace flavourgraph::yamlr {

namespace {

/// Validates the raw bytes: UTF-8, no NUL or other control characters YAML forbids.
bool check_bytes(std::string_view text, const std::string& display, Diagnostics& diags) {
  int line = 1, col = 1;
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t n = 1;
    bool bad = false;
    std::string what;
    if (c == 0) {
      bad = true;
      what = "NUL byte";
    } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      bad = true;
      what = fmt::format("control character 0x{:02x}", c);
    } else if (c == 0x7f) {
      bad = true;
      what = "control character 0x7f";
    } else if (c >= 0x80) {
      if ((c >> 5) == 0x6) n = 2;
      else if ((c >> 4) == 0xE) n = 3;
      else if ((c >> 3) == 0x1E) n = 4;
      else n = 0;
      bool valid = n != 0 && i + n <= text.size();
      for (size_t k = 1; valid && k < n; ++k)
        valid = (static_cast<unsigned char>(text[i + k]) >> 6) == 0x2;
      if (!valid) {
        bad = true;
        what = "invalid UTF-8";
        n = 1;
      }
    }
    if (bad) {
      diags.error({display, line, col}, "", what + " in input (YAML files are UTF-8 text)");
      return false;
    }
    if (c == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
    i += n;
  }
  return true;
}

/// Goes through the documents of a YAML stream without building them: how many there are,
/// where the second one starts, and where the parser stops making progress. yaml-cpp 0.7's
/// LoadAll never returns (and allocates a null document per turn) when a token that no value
/// can start with, such as a ',' outside [ ] and { }, stands where a document would begin;
/// this scan stops there.
class DocumentScan : public YAML::EventHandler {
 public:
  size_t documents = 0;
  std::optional<YAML::Mark> second;  ///< the first node of the second document
  std::optional<YAML::Mark> stuck;   ///< a document that starts where the previous one did

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents > 0 && mark.pos == last_start_) stuck = mark;
    last_start_ = mark.pos;
    ++documents;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark) {
    if (documents == 2 && !second) second = mark;
  }
  int last_start_ = -1;
};

}  // namespace

std::optional<YAML::Node> load_text(std::string_view text, const std::string& display,
                                    Diagnostics& diags) {
  if (text.size() > kMaxFileBytes) {
    diags.error({display, 0, 0}, "",
                fmt::format("file is {} bytes, more than the {} a configuration may have",
                            text.size(), kMaxFileBytes));
    return std::nullopt;
  }
  if (!check_bytes(text, display, diags)) return std::nullopt;
  try {
    std::string copy(text);
    // Count the documents first (without YAML::LoadAll, see DocumentScan), then build the one.
    std::istringstream in(copy);
    YAML::Parser parser(in);
    DocumentScan scan;
    while (!scan.stuck && parser.HandleNextDocument(scan)) {
    }
    if (scan.stuck) {
      // Positions count from after a byte order mark.
      auto pos = static_cast<size_t>(scan.stuck->pos) + (text.starts_with("\xEF\xBB\xBF") ? 3 : 0);
      bool comma = pos < text.size() && text[pos] == ',';
      diags.error({display, scan.stuck->line + 1, scan.stuck->column + 1}, "",
                  comma ? "invalid YAML: unexpected ',' (a comma only separates the items of a "
                          "[ ] or { } collection)"
                        : "invalid YAML: unexpected token where a value should start");
      return std::nullopt;
    }
    if (scan.documents == 0) {
      diags.error({display, 1, 1}, "", "file is empty");
      return std::nullopt;
    }
    if (scan.documents > 1) {
      Location at{display, 0, 0};
      if (scan.second) at = {display, scan.second->line + 1, scan.second->column + 1};
      diags.error(at, "", "file holds more than one YAML document; exactly one is expected");
      return std::nullopt;
    }
    return YAML::Load(copy);
  } catch (const YAML::DeepRecursion& e) {
    diags.error({display, e.mark.line + 1, e.mark.column + 1}, "",
                fmt::format("nesting is too deep (more than {} levels)", e.depth()));
  } catch (const YAML::Exception& e) {
    std::string msg = e.msg;
    diags.error({display, e.mark.is_null() ? 0 : e.mark.line + 1,
                 e.mark.is_null() ? 0 : e.mark.column + 1},
                "", "invalid YAML: " + msg);
  }
  return std::nullopt;
}

std::optional<YAML::Node> load_file(const std::filesystem::path& path, const std::string& display,
                                    Diagnostics& diags) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    diags.error({display, 0, 0}, "", "cannot read file: no such file");
    return std::nullopt;
  }
  if (std::filesystem::is_directory(status)) {
    diags.error({display, 0, 0}, "", "cannot read file: it is a directory");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error({display, 0, 0}, "", "cannot read file: permission denied or unreadable");
    return std::nullopt;
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) break;
  }
  return load_text(text, display, diags);
}

Location where(const std::string& file, const YAML::Node& node) {
  if (!node.IsDefined()) return {file, 0, 0};
  auto m = node.Mark();
  if (m.is_null()) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (is_plain(node)) {
    switch (pyyaml::resolve_plain(node.Scalar())) {
      case pyyaml::PlainType::boolean: return "a boolean";
      case pyyaml::PlainType::integer: return "an integer";
      case pyyaml::PlainType::floating: return "a number";
      default: break;
    }
  }
  return "a string";
}

bool is_plain(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "?"; }

std::string join(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

std::optional<std::string> scalar_string(const Ctx& ctx, const YAML::Node& value,
                                         const std::string& field) {
  if (!value.IsDefined() || value.IsNull()) {
    ctx.error(value, field, "empty value (a string is expected)");
    return std::nullopt;
  }
  if (!value.IsScalar()) {
    ctx.error(value, field, "expected a string, got " + describe(value));
    return std::nullopt;
  }
  if (value.Scalar().empty()) {
    ctx.error(value, field, "empty value (a string is expected)");
    return std::nullopt;
  }
  return value.Scalar();
}

MapReader::MapReader(const Ctx& ctx, const YAML::Node& node, std::string path)
    : ctx_(ctx), node_(node), path_(std::move(path)) {
  if (!node.IsMap()) {
    ctx.error(node, path_, "expected a mapping, got " + describe(node));
    return;
  }
  if (!ctx.charge(node.size(), node)) return;
  ok_ = true;
  std::unordered_map<std::string, size_t> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;  // a copy: the iterator yields a temporary proxy
    if (!k.IsScalar()) {
      ctx.error(k, path_, "mapping keys must be strings, got " + describe(k));
      continue;
    }
    std::string key = k.Scalar();
    auto [dup, fresh] = seen.emplace(key, entries_.size());
    if (!fresh) {
      ctx.error(k, join(path_, key),
                fmt::format("duplicate key '{}' (first given at line {})", key,
                            where(ctx.file, entries_[dup->second].key_node).line));
      continue;
    }
    entries_.push_back({key, k, it->second});
  }
}

void MapReader::allow(std::initializer_list<std::string_view> known) const {
  std::vector<std::string> names(known.begin(), known.end());
  for (const auto& e : entries_) {
    if (std::find(names.begin(), names.end(), e.key) != names.end()) continue;
    std::string hint = suggest(e.key, names);
    std::string msg = fmt::format("unknown key '{}'", e.key);
    if (!hint.empty())
      msg += fmt::format(" (did you mean '{}'?)", hint);
    else
      msg += fmt::format(" (expected one of: {})", fmt::join(names, ", "));
    ctx_.error(e.key_node, join(path_, e.key), msg);
  }
}

const Entry* MapReader::find(std::string_view key) const {
  for (const auto& e : entries_)
    if (e.key == key) return &e;
  return nullptr;
}

std::optional<std::string> MapReader::str(std::string_view key, bool required) const {
  const Entry* e = find(key);
  if (!e) {
    if (required && ok_) ctx_.error(node_, field(key), fmt::format("missing required key '{}'", key));
    return std::nullopt;
  }
  if (!e->value.IsDefined() || e->value.IsNull()) {
    ctx_.error(e->key_node, field(key), "empty value (a string is expected)");
    return std::nullopt;
  }
  return scalar_string(ctx_, e->value, field(key));
}

std::optional<bool> MapReader::boolean(std::string_view key) const {
  const Entry* e = find(key);
  if (!e) return std::nullopt;
  const YAML::Node& v = e->value;
  if (is_plain(v) && pyyaml::resolve_plain(v.Scalar()) == pyyaml::PlainType::boolean)
    return pyyaml::plain_bool_value(v.Scalar());
  std::string got = v.IsScalar() ? fmt::format("{} '{}'", describe(v), v.Scalar()) : describe(v);
  ctx_.error(v.IsDefined() && !v.IsNull() ? v : e->key_node, field(key),
             "expected a boolean (true or false), got " + got);
  return std::nullopt;
}

std::vector<std::string> MapReader::str_list(std::string_view key) const {
  std::vector<std::string> out;
  const Entry* e = find(key);
  if (!e) return out;
  if (!e->value.IsSequence()) {
    ctx_.error(e->value.IsDefined() && !e->value.IsNull() ? e->value : e->key_node, field(key),
               "expected a list of strings, got " + describe(e->value));
    return out;
  }
  size_t i = 0;
  for (const auto& item : e->value) {
    auto s = scalar_string(ctx_, item, fmt::format("{}[{}]", field(key), i++));
    if (s) out.push_back(*s);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> MapReader::str_map(std::string_view key) const {
  std::vector<std::pair<std::string, std::string>> out;
  const Entry* e = find(key);
  if (!e) return out;
  MapReader sub(ctx_, e->value, field(key));
  if (!sub.ok()) return out;
  for (const auto& se : sub.entries()) {
    if (se.value.IsNull()) {
      out.emplace_back(se.key, "");  // an explicit empty value is allowed in string maps
      continue;
    }
    if (!se.value.IsScalar()) {
      ctx_.error(se.value, sub.field(se.key), "expected a string, got " + describe(se.value));
      continue;
    }
    out.emplace_back(se.key, se.value.Scalar());
  }
  return out;
}

std::string suggest(std::string_view word, const std::vector<std::string>& candidates) {
  return nearest_word(word, candidates).value_or("");
}

}  // namespace flavourgraph::yamlr
