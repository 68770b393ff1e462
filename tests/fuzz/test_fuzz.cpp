// The scenario fuzzer in CI: a bounded campaign (RINGSIM_FUZZ_CASES cases,
// default 120, none started after RINGSIM_FUZZ_SECONDS, default 25 s; a
// case may run RINGSIM_FUZZ_CASE_SECONDS, default 4, 12 sanitized) over every shipped
// scenario against the ringsim binary of this build (the sanitizer build's,
// there). The offline runner is ringsim-fuzz (tests/fuzz/fuzz_main.cpp).
#include <doctest/doctest.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "tests/fuzz/campaign.hpp"

namespace {

#ifdef RINGSIM_FUZZ_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

double env_number(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atof(v) : fallback;
}

}  // namespace

TEST_CASE("fuzz: mutated shipped scenarios never crash, hang, corrupt or destroy, and bad input names its place") {
  ringsim::fuzz::CampaignOptions o;
  o.runner.ringsim = RINGSIM_EXE;
  o.runner.work_dir = RINGSIM_FUZZ_WORK_DIR;
  // A sanitized ringsim runs 3-10x slower: a 262,144-device setup alone can
  // pass 4 s before its first progress line.
  o.runner.case_timeout_s = env_number("RINGSIM_FUZZ_CASE_SECONDS", kSanitized ? 12 : 4);
  o.scenario_dir = RINGSIM_SCENARIO_DIR;
  o.profile_dir = RINGSIM_PROFILE_SOURCE_DIR;
  o.cases = static_cast<std::uint64_t>(env_number("RINGSIM_FUZZ_CASES", 120));
  o.seed = static_cast<std::uint64_t>(env_number("RINGSIM_FUZZ_SEED", 20261127));
  o.budget_s = env_number("RINGSIM_FUZZ_SECONDS", 25);
  o.jobs = 2;
  const ringsim::fuzz::Summary s = ringsim::fuzz::run_campaign(o, std::cout);
  std::ostringstream summary;
  ringsim::fuzz::print_summary(s, summary);
  MESSAGE(summary.str());
  CHECK(s.failed == 0);
  CHECK(s.run >= 20);  // the budget left room for a real campaign
}
