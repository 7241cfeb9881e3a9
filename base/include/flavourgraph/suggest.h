#pragma once
/// "Did you mean": the known word nearest a mistyped one, for config keys, commands, options
/// and variable names alike.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flavourgraph {

/// The candidate nearest `word` by edit distance (a swap of neighbours counts as one edit), when
/// within max(2, length/3) edits; a candidate `word` begins (at least 3 characters: a word cut
/// short) is preferred. nullopt when none is near.
std::optional<std::string> nearest_word(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace flavourgraph
