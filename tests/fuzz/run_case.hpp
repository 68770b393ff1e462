// One fuzz case through the real ringsim binary, judged by what every run
// must do whatever its input: exit 0, 1 or 2; never die of a signal, print
// a sanitizer report, or go silent (a run past the time limit must have
// printed progress); never change its input; leave behind only a valid
// output (exit 0), nothing (exit 2), or partial files it names (exit 1);
// name file, line and key on exit 2 and file and point on exit 1; reject
// what is clearly invalid and accept the unmutated controls.
#pragma once
#include <string>

#include "tests/fuzz/mutate.hpp"

namespace ringsim::fuzz {

struct RunnerOptions {
  std::string ringsim;         // the binary under test
  std::string work_dir;        // each case gets a folder here
  double case_timeout_s = 5;   // then killed: slow if it printed progress, a hang if not
};

enum class Outcome { kPass, kFail, kSlow, kKnown };

struct Verdict {
  Outcome outcome = Outcome::kPass;
  std::string why;  // for anything but a pass
  int exit_code = -1;
  double seconds = 0;
};

Verdict run_case(const FuzzCase& c, const RunnerOptions& o, std::uint64_t index);

}  // namespace ringsim::fuzz
