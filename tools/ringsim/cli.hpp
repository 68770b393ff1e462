// The ringsim command line as a library function, so tests drive it directly.
//
//   ringsim run SCENARIO [--format table|csv|json] [--out FILE] [--mode M] [--threads N] [--trace FILE] [--quiet]
//   ringsim report SCENARIO [--claims CSV] [--device PROFILE]... [--format F] [--out FILE]
//   ringsim profiles
//   ringsim calibrate ... | ringsim validate ...   (CUDA builds only)
//
// Exit codes: 0 success, 2 bad input or usage (the message names file, line
// and key), 1 a failure while simulating (e.g. simulated time past 292 years).
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

namespace ringsim {

// `args` are the command-line words after the program name. Progress goes to
// `err` only when `err` is std::cerr (so tests see none unless a run is long).
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace ringsim
