// Small text helpers (text.h).
#include "flavourgraph/text.h"

#include <algorithm>

namespace flavourgraph {
namespace {

/// Optimal string alignment: insertions, deletions, substitutions and swaps of neighbours.
size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

std::optional<std::string> nearest_word(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_d = std::max<size_t>(2, word.size() / 3);
  bool best_prefix = false;
  for (const auto& c : candidates) {
    size_t d = distance(word, c);
    bool prefix = word.size() >= 3 && c.size() > word.size() && c.compare(0, word.size(), word) == 0;
    if (d <= best_d && !(best_prefix && !prefix) && (!best || d < best_d || prefix)) {
      best = c;
      best_d = d;
      best_prefix = prefix;
    }
  }
  return best;
}

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  size_t a = s.find_first_not_of(kSpace);
  if (a == std::string_view::npos) return {};
  return std::string(s.substr(a, s.find_last_not_of(kSpace) - a + 1));
}

}  // namespace flavourgraph
