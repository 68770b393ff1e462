// Suggestions for misspelled names; see suggest.hpp.
#include "models/suggest.hpp"

#include <algorithm>

namespace ringsim {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

std::optional<std::string> closest_name(std::string_view word, const std::vector<std::string>& known) {
  auto best = std::min_element(known.begin(), known.end(), [&](const auto& x, const auto& y) {
    return edit_distance(word, x) < edit_distance(word, y);
  });
  if (best == known.end() || edit_distance(word, *best) > std::max<std::size_t>(2, word.size() / 3))
    return std::nullopt;
  return *best;
}

}  // namespace ringsim
