// InputError: see input_error.hpp.
#include "models/input_error.hpp"

#include <fmt/format.h>

#include <utility>

namespace ringsim {

namespace {
std::string compose(const std::string& file, int line, const std::string& key,
                    const std::string& message) {
  std::string where = line > 0 ? fmt::format("{}:{}", file, line) : file;
  return key.empty() ? fmt::format("{}: {}", where, message)
                     : fmt::format("{}: {}: {}", where, key, message);
}
}  // namespace

InputError::InputError(std::string file_, int line_, std::string key_, const std::string& message)
    : std::runtime_error(compose(file_, line_, key_, message)),
      file(std::move(file_)), key(std::move(key_)), line(line_) {}

}  // namespace ringsim
