// `ringsim plan SCENARIO`: validate everything, then plan (sim/planner.hpp)
// and write the table, CSV or JSON (tools/ringsim/plan_output.hpp).
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <memory>

#include "tools/ringsim/cli_common.hpp"
#include "tools/ringsim/plan_output.hpp"

namespace ringsim::cli {

int plan_command(const std::vector<std::string>& args, Io io) {
  Args a = parse_args(args, 1, {{"--format"}, {"--out"}, {"--mode"}, {"--threads"}, {"--set"}, {"--schedules"}, {"--quiet", false}});
  if (a.positional.size() != 1) throw UsageError("plan needs exactly one SCENARIO file");
  const Format format = parse_format(a.last("--format"));
  PlanOptions options;
  options.sim.mode = parse_mode(a.last("--mode"));
  options.sim.threads = parse_threads(a.last("--threads"));
  const Scenario s = load_scenario_with_sets(a.positional[0], a.all("--set"));
  with_sets_named(s, [&] { check_schedules(s); });  // the scenario's own points must run too
  if (auto list = a.last("--schedules")) {
    for (std::size_t at = 0; at <= list->size();) {
      const std::size_t comma = std::min(list->find(',', at), list->size());
      const std::string name = list->substr(at, comma - at);
      if (!find_schedule(name)) throw UsageError(fmt::format("--schedules: unknown schedule '{}'", name));
      options.schedules.push_back(name);
      at = comma + 1;
    }
  }
  const bool quiet = a.has("--quiet");
  options.progress = [&](std::size_t done, std::size_t all) {
    if (!quiet) fmt::print(io.err, "plan: {} of {} GPU counts\n", done, all);
  };
  std::unique_ptr<OutputFile> out_file;
  if (auto path = a.last("--out")) out_file = std::make_unique<OutputFile>(*path);
  const PlanResult plan = plan_scenario(s, options);
  write_plan(out_file ? out_file->stream() : io.out, format, s, plan);
  if (out_file) out_file->commit();
  return 0;
}

}  // namespace ringsim::cli
