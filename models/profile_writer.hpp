// Writing a device profile as YAML (the format of profile.hpp), with
// YAML::Emitter: what `ringsim calibrate` writes after a run, read back by
// load_profile (tests/models/test_profile_writer.cpp checks the round trip).
// Comment lines come first (what was measured, how); every key the profile
// sets follows; samples are one flow map per line. Quantities carry units
// ("79.18 GiB", "3.35 TB/s", "3.14 us"); times keep 6 significant digits.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "models/profile.hpp"

namespace ringsim {

void write_profile_yaml(std::ostream& out, const DeviceProfile& profile, const std::vector<std::string>& comments);

}  // namespace ringsim
