// Help text, suggestions for mistyped words, and missing required options (help.h).
#include "help.h"

#include <fmt/format.h>

#include "common.h"
#include "flavourgraph/text.h"

#include <algorithm>
#include <cctype>

namespace flavourgraph::cli {
namespace {

/// Whether an option takes a value (a flag's expected count is 0; its type size is not).
bool takes_value(const CLI::Option* opt) { return opt->get_expected_max() != 0; }

/// The placeholder for an option's value: its own type name, or a choice's members; CLI11's
/// parser types (TEXT, UINT, INT, FLOAT) become words a reader understands.
std::string placeholder(const std::string& type, const std::string& choices) {
  if (!choices.empty()) return choices;
  if (type == "UINT" || type == "INT") return "N";
  if (type == "FLOAT") return "X";
  if (type == "TEXT") return "VALUE";
  return type;
}

/// "{v3,v2}" → "v3|v2"; anything else (ranges, "FILE") → "".
std::string members(const std::string& desc) {
  if (desc.size() < 2 || desc.front() != '{' || desc.back() != '}') return "";
  std::string s = desc.substr(1, desc.size() - 2);
  std::replace(s.begin(), s.end(), ',', '|');
  return s;
}

void tidy_options(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    if (!takes_value(opt)) continue;
    std::string choices;
    for (int i = 0; i < 16; ++i) {  // CLI11 says how many validators only by throwing past the last
      CLI::Validator* v = nullptr;
      try {
        v = opt->get_validator(i);
      } catch (const CLI::OptionNotFound&) {
        break;
      }
      if (choices.empty()) choices = members(v->get_description());
      v->description("");
    }
    opt->type_name(placeholder(opt->get_type_name(), choices));
  }
  for (CLI::App* sub : app.get_subcommands({})) tidy_options(*sub);
}

class Formatter final : public CLI::Formatter {
 public:
  Formatter() { column_width(32); }
  std::string make_option_name(const CLI::Option* opt, bool positional) const override {
    std::string name = CLI::Formatter::make_option_name(opt, positional);
    // A negatable flag's default is shown as "--no-push{false}": the description says it.
    for (size_t open; (open = name.find('{')) != std::string::npos;) {
      size_t close = name.find('}', open);
      if (close == std::string::npos) break;
      name.erase(open, close - open + 1);
    }
    return name;
  }
  std::string make_option_opts(const CLI::Option* opt) const override {
    if (!takes_value(opt)) return "";
    std::string out = " " + opt->get_type_name();
    if (opt->get_expected_max() == CLI::detail::expected_max_vector_size) out += " ...";
    if (opt->get_required()) out += " (required)";
    return out;
  }
  std::string make_option_desc(const CLI::Option* opt) const override {
    std::string desc = opt->get_description();
    const std::string& def = opt->get_default_str();
    if (!def.empty() && desc.find("default") == std::string::npos) desc += fmt::format(" (default: {})", def);
    return desc;
  }
};

bool is_number(std::string_view s) {
  if (s.size() < 2 || s[0] != '-') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
}

std::vector<std::string> option_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : app.get_options()) {
    for (const auto& l : opt->get_lnames()) names.push_back("--" + l);
    for (const auto& s : opt->get_snames()) names.push_back("-" + s);
  }
  return names;
}

std::vector<std::string> command_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  return names;
}

CLI::App* find_command(CLI::App& app, const std::string& name) {
  for (CLI::App* sub : app.get_subcommands({}))
    if (sub->get_name() == name) return sub;
  return nullptr;
}

std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* p = app.get_parent(); p; p = p->get_parent()) path = p->get_name() + " " + path;
  return path;
}

std::string with_hint(std::string msg, std::string_view word, const std::vector<std::string>& candidates) {
  bool short_option = word.size() == 2 && word[0] == '-';  // `-j` is one edit from every `-x`: no guess
  if (auto near = short_option ? std::nullopt : nearest_word(word, candidates)) msg += fmt::format(" (did you mean '{}'?)", *near);
  return msg;
}

}  // namespace

void tidy_help(CLI::App& app) {
  tidy_options(app);
  auto formatter = std::make_shared<Formatter>();
  std::vector<CLI::App*> todo{&app};
  while (!todo.empty()) {  // the commands form a tree: each is visited once
    CLI::App* a = todo.back();
    todo.pop_back();
    a->formatter(formatter);
    for (CLI::App* sub : a->get_subcommands({})) todo.push_back(sub);
  }
}

std::vector<std::string> unknown_words(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> problems;
  CLI::App* at = &app;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& w = args[i];
    if (w == "--") break;
    if (w == "-h" || w == "--help" || w == "--version" || w == "-V") return {};
    if (w.size() > 1 && w[0] == '-' && !is_number(w)) {
      bool lng = w.rfind("--", 0) == 0;
      std::string name = lng ? w.substr(0, w.find('=')) : w.substr(0, 2);
      const CLI::Option* opt = at->get_option_no_throw(name);
      if (!opt) {
        problems.push_back(with_hint(fmt::format("{}: unknown option '{}'", command_path(*at), name), name, option_names(*at)));
        // Its value, if it has one, is no problem of its own.
        if (w.find('=') == std::string::npos && i + 1 < args.size() && args[i + 1].rfind('-', 0) != 0 &&
            command_names(*at).empty())
          ++i;
        continue;
      }
      bool attached = lng ? w.find('=') != std::string::npos : w.size() > 2;
      if (takes_value(opt) && !attached) ++i;  // its value follows
      if (opt->get_expected_max() > 1)         // a list option takes every word up to the next option
        while (i + 1 < args.size() && args[i + 1].rfind('-', 0) != 0) ++i;
      continue;
    }
    auto commands = command_names(*at);
    if (CLI::App* sub = find_command(*at, w)) {
      at = sub;
    } else if (!commands.empty()) {
      problems.push_back(with_hint(fmt::format("{}: unknown command '{}'", command_path(*at), w), w, commands) +
                         fmt::format("; the commands are {}", fmt::join(commands, ", ")));
      break;
    } else {
      problems.push_back(fmt::format("{}: unexpected argument '{}' (options start with --)", command_path(*at), w));
    }
  }
  return problems;
}

std::string missing_required(CLI::App& app) {
  CLI::App* at = &app;
  for (bool deeper = true; deeper;) {
    deeper = false;
    for (CLI::App* sub : at->get_subcommands())
      if (sub->parsed()) {
        at = sub;
        deeper = true;
        break;
      }
  }
  if (auto commands = command_names(*at); !commands.empty() && at->get_subcommands().empty())
    return fmt::format("{}: a command is needed: {} ({} --help)", command_path(*at), fmt::join(commands, ", "),
                       command_path(*at));
  std::vector<std::string> missing;
  for (const CLI::Option* opt : at->get_options())
    if (opt->get_required() && opt->count() == 0) missing.push_back(opt->get_name(false, false));
  if (missing.empty()) return "";
  return fmt::format("{}: missing {} ({} --help)", command_path(*at), fmt::join(missing, ", "), command_path(*at));
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  tidy_help(app);
  // Mistyped commands and options, all of them, each with a suggestion (CLI11 stops at the first
  // problem and, for an unknown option, reports a required option instead).
  auto unknown = unknown_words(app, std::vector<std::string>(argv + 1, argv + argc));
  for (const auto& u : unknown) fmt::print(stderr, "{}\n", u);
  if (!unknown.empty()) return kExitUsage;
  if (argc == 1) {
    fmt::print(stderr, "{}\n", app.help());
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RequiredError& e) {
    std::string missing = missing_required(app);
    if (missing.empty()) return app.exit(e), kExitUsage;
    fmt::print(stderr, "{}\n", missing);
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace flavourgraph::cli
