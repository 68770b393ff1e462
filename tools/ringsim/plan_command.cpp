// `ringsim plan SCENARIO`: validate everything, then plan (sim/planner.hpp)
// and write the table, CSV or JSON (tools/ringsim/plan_output.hpp).
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <optional>

#include "sim/planner.hpp"
#include "tools/ringsim/cli_common.hpp"
#include "tools/ringsim/output_file.hpp"
#include "tools/ringsim/plan_output.hpp"

namespace ringsim::cli {

int plan_command(const PlanCommandOptions& o, Io io) {
  PlanOptions options;
  options.sim.mode = o.mode;
  options.sim.threads = o.threads;
  const Scenario s = load_scenario_with_sets(o.scenario, o.sets);
  with_sets_named(s, [&] { check_schedules(s); });  // the scenario's own points must run too
  for (const std::string& name : o.schedules) {
    if (!find_schedule(name)) throw UsageError(fmt::format("--schedules: unknown schedule '{}'", name));
    options.schedules.push_back(name);
  }
  options.progress = [&](std::size_t done, std::size_t all) {
    if (!o.quiet) fmt::print(io.err, "plan: {} of {} GPU counts\n", done, all);
  };
  std::optional<OutputFile> out_file;
  if (o.out) out_file.emplace(*o.out);  // checked (and created) before planning
  const PlanResult plan = plan_scenario(s, options);
  write_plan(out_file ? out_file->stream() : io.out, o.format, s, plan);
  if (out_file) out_file->commit();
  return 0;
}

}  // namespace ringsim::cli
