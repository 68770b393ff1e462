// ringsim-calibrate: standalone entry point of the calibration tool.
#include "tools/calibrate/calibrate.hpp"

int main(int argc, char** argv) { return ringsim::calibrate_main(argc, argv); }
