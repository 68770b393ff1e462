// ringsim-validate: the standalone form of `ringsim validate` (same options).
#include "tools/validate/validate.hpp"

int main(int argc, char** argv) { return ringsim::validate_main(argc, argv); }
