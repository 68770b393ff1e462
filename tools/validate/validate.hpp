// `ringsim validate`: checks simulated results against small real runs of
// the same ring on this machine's 1-2 GPUs (see validate_main.cpp).
#pragma once

namespace ringsim {

// argv[0] is the command name ("validate" or "ringsim-validate"); the rest
// are its arguments. Returns 0 when every point ran and its output passed,
// 1 when a check failed, 2 on bad input or when no GPU is present.
int validate_main(int argc, char** argv);

}  // namespace ringsim
