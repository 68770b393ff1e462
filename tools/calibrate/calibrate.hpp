// ringsim calibrate: times the chunk kernels on the local GPU and writes a
// measured device profile (models/profile.hpp format). `ringsim calibrate` and
// the standalone `ringsim-calibrate` both call calibrate_main.
#pragma once

namespace ringsim {

// Flags: --out FILE (default: stdout), --name NAME, --grid full|quick, --help.
// Returns 0 on success, 2 on bad flags, 1 on a CUDA failure.
int calibrate_main(int argc, char** argv);

}  // namespace ringsim
