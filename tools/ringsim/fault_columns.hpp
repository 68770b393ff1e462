// Output of a point with faults (sim/simulate.hpp FaultStats): the same
// named figures for CSV columns (after the usual ones, only when the scenario
// has faults), a JSON object and a table line. Time figures carry the row's
// label, like its time.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "sim/simulate.hpp"

namespace ringsim::cli {

// (name, value as a JSON number) for every fault figure of the point, in a
// fixed order; names end in _seconds for times.
std::vector<std::pair<std::string, std::string>> fault_columns(const PointResult& r);
// The names alone (CSV header).
std::vector<std::string> fault_column_names();
// One line under the table row.
std::string fault_table_line(const PointResult& r);

}  // namespace ringsim::cli
