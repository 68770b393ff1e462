// --set KEY=VALUE: changes to a scenario given on the command line, applied
// to the parsed YAML before anything reads it, so every value goes through
// the same checks as the file's. KEY is a key path as errors name it
// ("parallel.tensor", "cluster.device", "sweep[2].ring_size"); missing maps
// on the way are created; VALUE is YAML ("8", "h100-sxm", "[{ring_size: 8}]").
// An error about a key that came from the command line names it there:
//   command line (--set parallel.tensor=3): parallel.tensor: 3 does not divide ...
// and the file and line otherwise, as always.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "models/input_error.hpp"

namespace YAML { class Node; }

namespace ringsim {

struct Override {
  std::string key, value;  // "parallel.tensor", "8"
  std::string text() const { return key + "=" + value; }
};

// "KEY=VALUE" -> Override; throws InputError naming the command line.
Override parse_override(const std::string& text);
// Applies each override in order to `root` (a scenario's top-level map).
void apply_overrides(YAML::Node& root, const std::vector<Override>& overrides);
// `e` re-aimed at the command line when its key is (inside) an override's key.
std::optional<InputError> from_command_line(const InputError& e, const std::vector<Override>& overrides);

}  // namespace ringsim
