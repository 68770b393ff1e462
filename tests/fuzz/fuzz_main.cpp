// ringsim-fuzz: the offline scenario fuzzer (the CI runs a bounded campaign
// through tests/fuzz/test_fuzz.cpp). Failing cases stay in WORK/case-N.
//
//   ./build/tests/fuzz/ringsim-fuzz --cases 5000 --jobs 2 --timeout 20
//   ./build-asan/tests/fuzz/ringsim-fuzz --cases 2000 --seed 7   (against the sanitizer build's ringsim)
#include <CLI/CLI.hpp>
#include <iostream>

#include "tests/fuzz/campaign.hpp"

int main(int argc, char** argv) {
  ringsim::fuzz::CampaignOptions o;
  o.runner.ringsim = RINGSIM_EXE;
  o.runner.work_dir = RINGSIM_FUZZ_WORK_DIR;
  o.runner.case_timeout_s = 20;
  o.scenario_dir = RINGSIM_SCENARIO_DIR;
  o.profile_dir = RINGSIM_PROFILE_SOURCE_DIR;
  o.cases = 1000;
  o.jobs = 2;
  CLI::App app{"Runs mutated shipped scenarios through ringsim and checks every run", "ringsim-fuzz"};
  app.add_option("-n,--cases", o.cases, "Cases to run")->capture_default_str();
  app.add_option("-s,--seed", o.seed, "Seed: case i is the same for a seed, whatever --jobs")->capture_default_str();
  app.add_option("-j,--jobs", o.jobs, "Cases run at once")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("-t,--timeout", o.runner.case_timeout_s, "Seconds a case may run (then: slow if it printed "
                 "progress, a hang if not)")->capture_default_str();
  app.add_option("--budget", o.budget_s, "Start no case after this many seconds");
  app.add_option("--ringsim", o.runner.ringsim, "The binary under test")->capture_default_str();
  app.add_option("--work", o.runner.work_dir, "Folder for the cases (failing ones stay)")->capture_default_str();
  app.add_flag("-v,--verbose", o.verbose, "A line per case");
  app.footer("Examples:\n  ringsim-fuzz --cases 5000 --jobs 2\n  ringsim-fuzz --seed 7 --ringsim build-asan/tools/ringsim/ringsim");
  CLI11_PARSE(app, argc, argv);
  const ringsim::fuzz::Summary s = ringsim::fuzz::run_campaign(o, std::cerr);
  ringsim::fuzz::print_summary(s, std::cout);
  return s.failed == 0 ? 0 : 1;
}
