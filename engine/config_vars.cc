// images.yaml's run variables (`variables`, replaced by --set) and the layer templates that use
// them: a layer's source, include and exclude.
#include <fmt/format.h>

#include <set>

#include "config_parts.h"
#include "flavourgraph/text.h"

namespace flavourgraph {

using yamlr::Ctx;
using yamlr::MapReader;

std::string Variable::str() const {
  return list ? fmt::format("[{}]", fmt::join(values, ", ")) : values.empty() ? std::string() : values.front();
}

const Variable* ImagesConfig::variable(std::string_view n) const {
  for (const auto& v : variables)
    if (v.name == n) return &v;
  return nullptr;
}

namespace {

/// The string variables, as template names.
void add_string_vars(const ImagesConfig& cfg, StringPairs& vars) {
  for (const auto& v : cfg.variables)
    if (!v.list) vars.emplace_back(v.name, v.str());
}

}  // namespace

StringPairs template_vars(const ImagesConfig& cfg, const ImageSpec& img, const FlavourSpec& fl, const KindSpec& kind) {
  StringPairs vars = fl.args;
  vars.emplace_back("image", img.name);
  vars.emplace_back("flavour", fl.name);
  vars.emplace_back("kind", kind.name);
  add_string_vars(cfg, vars);
  return vars;
}

namespace config_parts {
namespace {

bool valid_variable_name(std::string_view n) {
  auto head = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (n.empty() || !head(n.front())) return false;
  return std::all_of(n.begin(), n.end(), [&](char c) { return head(c) || (c >= '0' && c <= '9'); });
}


/// "v" → {v}; "[a, b]" → {a, b}, list; "[]" → {}, list.
std::pair<std::vector<std::string>, bool> parse_value(std::string_view text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return {{std::string(text)}, false};
  std::vector<std::string> items;
  std::string_view inner = text.substr(1, text.size() - 2);
  if (trim(inner).empty()) return {items, true};
  for (size_t start = 0;;) {
    size_t comma = inner.find(',', start);
    items.push_back(trim(inner.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return {items, true};
}

/// Every expansion of `tmpl`: one per item of each list variable it names (all combinations),
/// the string variables put in. `problems` gets names that are not variables.
std::vector<std::string> expand_all(const std::string& tmpl, const ImagesConfig& cfg, std::vector<std::string>* problems) {
  for (size_t open = tmpl.find('{'); open != std::string::npos; open = tmpl.find('{', open + 1)) {
    if (open + 1 < tmpl.size() && tmpl[open + 1] == '{') {  // an escaped brace
      ++open;
      continue;
    }
    size_t close = tmpl.find('}', open);
    if (close == std::string::npos) break;
    const Variable* v = cfg.variable(std::string_view(tmpl).substr(open + 1, close - open - 1));
    if (!v || !v->list) continue;
    std::vector<std::string> out;
    for (const auto& item : v->values) {
      std::string escaped;  // an item is text, not a template
      for (char c : item) escaped += c == '{' || c == '}' ? std::string(2, c) : std::string(1, c);
      for (auto& e : expand_all(tmpl.substr(0, open) + escaped + tmpl.substr(close + 1), cfg, problems))
        out.push_back(std::move(e));
    }
    return out;
  }
  StringPairs vars;
  add_string_vars(cfg, vars);
  return {expand_template(tmpl, vars, problems)};
}

std::string unknown_message(const ImagesConfig& cfg, const std::string& name) {
  if (name.rfind("unclosed", 0) == 0) return name;
  std::vector<std::string> names;
  for (const auto& v : cfg.variables) names.push_back(v.name);
  return fmt::format("'{{{}}}' is not a variable (layers are shared by every flavour: they may use images.yaml's "
                     "'variables' only; known: {})",
                     name, names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", ")));
}

}  // namespace

std::vector<Variable> parse_variables(const Ctx& ctx, const YAML::Node& node) {
  std::vector<Variable> out;
  MapReader m(ctx, node, "variables");
  for (const auto& e : m.entries()) {
    std::string field = m.field(e.key);
    Variable v{e.key, {}, false, false, yamlr::where(ctx.file, e.value)};
    if (!valid_variable_name(e.key) || e.key == "image" || e.key == "flavour" || e.key == "kind" || e.key == "timestamp")
      ctx.error(e.key_node, field,
                "a variable's name uses letters, digits and '_', does not start with a digit, and is not image, "
                "flavour, kind or timestamp");
    if (e.value.IsSequence()) {
      v.list = true;
      for (const auto& item : e.value)
        if (auto s = yamlr::scalar_string(ctx, item, field)) v.values.push_back(*s);
    } else if (auto s = yamlr::scalar_string(ctx, e.value, field)) {
      v.values.push_back(*s);
    }
    out.push_back(std::move(v));
  }
  return out;
}

void apply_sets(const Ctx& ctx, std::vector<Variable>& vars, const std::vector<std::string>& sets) {
  for (const auto& s : sets) {
    size_t eq = s.find('=');
    std::string name = s.substr(0, eq);
    if (eq == std::string::npos || name.empty()) {
      ctx.diags->error({}, "--set", fmt::format("'{}' is not NAME=VALUE (NAME=[a, b] for a list)", s));
      continue;
    }
    auto it = std::find_if(vars.begin(), vars.end(), [&](const Variable& v) { return v.name == name; });
    if (it == vars.end()) {
      std::vector<std::string> names;
      for (const auto& v : vars) names.push_back(v.name);
      std::string near = yamlr::suggest(name, names);
      ctx.diags->error({}, "--set",
                       fmt::format("'{}' is not a variable of {}{} (its variables: {})", name, ctx.file,
                                   near.empty() ? "" : fmt::format("; did you mean '{}'?", near),
                                   names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
      continue;
    }
    auto [values, list] = parse_value(std::string_view(s).substr(eq + 1));
    if (list && !it->list) {
      ctx.diags->error({}, "--set", fmt::format("{} is a string in {}: it cannot be set to a list", name, ctx.file));
      continue;
    }
    it->values = std::move(values);
    it->set = true;
  }
}

void expand_layers(const Ctx& ctx, ImagesConfig& cfg) {
  if (cfg.variables.empty()) return;
  std::set<std::string> reported;  // a named layer is in every kind that lists it: one report
  auto report = [&](const LayerSpec& l, const std::string& what, const std::string& msg) {
    std::string field = (l.name.empty() ? std::string("layer") : "layers." + l.name) + "." + what;
    if (reported.insert(l.where.str() + field + msg).second) ctx.diags->error(l.where, field, msg);
  };
  for (auto& img : cfg.images)
    for (auto& kind : img.kinds)
      for (auto& l : kind.layers) {
        std::vector<std::string> problems;
        auto sources = expand_all(l.source, cfg, &problems);
        for (const auto& p : problems) report(l, "source", unknown_message(cfg, p));
        if (sources.size() != 1) {
          report(l, "source", fmt::format("'{}' names a list variable: a layer has one source", l.source));
        } else if (sources.front() != l.source) {
          l.source = sources.front();
          std::filesystem::path sp(l.source);
          l.source_path = (sp.is_absolute() ? sp : cfg.dir / sp).lexically_normal();
        }
        for (auto* patterns : {&l.include, &l.exclude}) {
          const char* key = patterns == &l.include ? "include" : "exclude";
          std::vector<std::string> out;
          problems.clear();
          for (const auto& p : *patterns)
            for (auto& e : expand_all(p, cfg, &problems)) out.push_back(std::move(e));
          for (const auto& p : problems) report(l, key, unknown_message(cfg, p));
          *patterns = std::move(out);
        }
      }
}

}  // namespace config_parts
}  // namespace flavourgraph
