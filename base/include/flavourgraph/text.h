#pragma once
/// Small text helpers: "did you mean" (the known word nearest a mistyped one, for config keys,
/// commands, options and variable names alike), ASCII lower case, trimming.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flavourgraph {

/// The candidate nearest `word` by edit distance (a swap of neighbours counts as one edit), when
/// within max(2, length/3) edits; a candidate `word` begins (at least 3 characters: a word cut
/// short) is preferred. nullopt when none is near.
std::optional<std::string> nearest_word(std::string_view word, const std::vector<std::string>& candidates);

/// `s` with A-Z as a-z (HTTP header names, URL schemes; no locale).
std::string ascii_lower(std::string s);

/// `s` without spaces, tabs, CR and LF at either end (a header line, a list item).
std::string trim(std::string_view s);

}  // namespace flavourgraph
