// `ringsim calibrate --check FILE`: flags a profile's attention samples that
// break FLOPs monotonicity (models/sample_check.hpp) and rewrites the file,
// keeping its leading comments. No GPU work.
#pragma once
#include <string>

namespace ringsim::calibrate {

// 0: rewritten; 2: the profile cannot be read or written (message printed).
int check_profile(const std::string& path);

}  // namespace ringsim::calibrate
