#pragma once
/// The command line's manners: help that reads cleanly (placeholders, not parser types; every
/// default said once), mistyped commands and options named with a suggestion, and every
/// missing required option reported at once.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flavourgraph::cli {

/// Parses argv into `app` (its help tidied first): nullopt when a command is to run, else the
/// exit status (help or the version printed: 0; a usage error, said on stderr: 2).
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

/// Gives `app` and its subcommands a help formatter without CLI11's type noise
/// (`UINT:INT in [1 - 1024]=4` becomes `N`, with "(default: 4)" in the description; a choice
/// shows its members, `v3|v2`).
void tidy_help(CLI::App& app);

/// The words of argv that are neither a command nor an option of the command they follow, each
/// with a suggestion when one is close ("unknown command 'bild' (did you mean 'build'?)"). Empty
/// when every word is known, or when help or the version is asked for (CLI11 answers those).
std::vector<std::string> unknown_words(CLI::App& app, const std::vector<std::string>& args);

/// After CLI11's RequiredError: every required option the innermost parsed command lacks, e.g.
/// "flavourgraph render: missing --deployments, --report, --values-dir".
std::string missing_required(CLI::App& app);

}  // namespace flavourgraph::cli
