// `ringsim plan` output: the planner's rows (sim/planner.hpp) as a table, CSV
// or JSON, with the same header facts and labels as `run`. One row per GPU
// count: the fastest candidate that fits (schedule, layout, tensor degree,
// ring and chunk), its time, memory per GPU and exposed communication, or,
// when none fits, the candidate that overflows least and what overflows.
#pragma once
#include <ostream>

#include "sim/planner.hpp"
#include "tools/ringsim/cli_common.hpp"

namespace ringsim::cli {

void write_plan(std::ostream& out, Format format, const Scenario& s, const PlanResult& plan);

}  // namespace ringsim::cli
