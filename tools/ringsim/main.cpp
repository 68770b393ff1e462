// ringsim: entry point; all logic lives in run_cli (tools/ringsim/cli.cpp).
#include <iostream>

#include "tools/ringsim/cli.hpp"

int main(int argc, char** argv) {
  return ringsim::run_cli(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
