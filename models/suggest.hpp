// "Did you mean": the known name closest to a misspelled one, for unknown
// YAML keys (models/scenario_yaml.cpp) and unknown command-line options and
// commands (tools/ringsim/cli.cpp).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringsim {

// Levenshtein distance (insertions, deletions, substitutions).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The closest of `known` if it is within max(2, |word| / 3) edits.
std::optional<std::string> closest_name(std::string_view word, const std::vector<std::string>& known);

}  // namespace ringsim
