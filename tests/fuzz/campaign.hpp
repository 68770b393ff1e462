// A fuzz campaign: cases made from a seed (case i is the same for a seed
// whatever the job count), run on `jobs` threads until `cases` are done or
// the time budget is spent, tallied. Shared by the CI test (test_fuzz.cpp,
// bounded) and the offline runner (ringsim-fuzz, fuzz_main.cpp).
#pragma once
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "tests/fuzz/run_case.hpp"

namespace ringsim::fuzz {

struct CampaignOptions {
  RunnerOptions runner;
  std::string scenario_dir, profile_dir;
  std::uint64_t cases = 100, seed = 1;
  double budget_s = 1e9;  // no new case starts after this
  int jobs = 1;
  bool verbose = false;  // a line per case
};

struct Summary {
  std::uint64_t run = 0, passed = 0, failed = 0, slow = 0, known = 0;
  std::map<int, std::uint64_t> by_exit;  // exit code -> cases
  std::vector<std::string> failures, slows, knowns;
  double seconds = 0;
};

Summary run_campaign(const CampaignOptions& o, std::ostream& log);
void print_summary(const Summary& s, std::ostream& out);

}  // namespace ringsim::fuzz
