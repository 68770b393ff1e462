// tests/models: shared helpers of the profile tests.
#pragma once
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "models/profile.hpp"

namespace ringsim::test {

// The smallest valid profile.
inline const char* const kMinimalProfile =
    "name: test\n"
    "memory: \"16 GiB\"\n"
    "hbm_bandwidth: \"1 TB/s\"\n"
    "tflops: 100\n";

// The InputError profile_from_yaml throws for `yaml` (read as "p.yaml"); a
// test failure if it throws none.
inline InputError profile_error(const std::string& yaml, const std::string& prefix = "") {
  try {
    profile_from_yaml(YAML::Load(yaml), "p.yaml", prefix);
  } catch (const InputError& e) {
    return e;
  }
  FAIL("no InputError for:\n" << yaml);
  return InputError("", 0, "", "");
}

}  // namespace ringsim::test
