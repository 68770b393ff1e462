// InputError: bad user input (scenario or profile YAML, command-line values).
// what() reads "FILE:LINE: KEY: message"; the CLI prints it and exits 2.
#pragma once
#include <stdexcept>
#include <string>

namespace ringsim {

struct InputError : std::runtime_error {
  // line is 1-based; 0 when unknown (e.g. the file does not exist).
  InputError(std::string file, int line, std::string key, const std::string& message);
  std::string file, key;
  int line;
};

}  // namespace ringsim
