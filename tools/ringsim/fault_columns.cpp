// Fault figures of a point for the writers; see fault_columns.hpp.
#include "tools/ringsim/fault_columns.hpp"

#include <fmt/format.h>

#include "tools/ringsim/output.hpp"

namespace ringsim::cli {
namespace {

double seconds(TimeNs t) { return to_seconds(t); }

// The slowdown the first straggler alone explains, as a share of the median's.
double straggler_share(const FaultStats& f) {
  const double extra = static_cast<double>(f.median_ns - f.fault_free_ns);
  if (f.one_straggler_ns < 0 || extra <= 0) return NAN;
  return static_cast<double>(f.one_straggler_ns - f.fault_free_ns) / extra;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> fault_columns(const PointResult& r) {
  std::vector<std::pair<std::string, std::string>> c;
  const bool has = r.faults.has_value();
  const FaultStats f = has ? *r.faults : FaultStats{};
  const auto add = [&](const char* name, double v) { c.emplace_back(name, has ? json_number(v) : "null"); };
  add("fault_repeats", f.repeats);
  add("fault_free_seconds", seconds(f.fault_free_ns));
  add("median_seconds", seconds(f.median_ns));
  add("p90_seconds", seconds(f.p90_ns));
  add("p99_seconds", seconds(f.p99_ns));
  add("max_seconds", seconds(f.max_ns));
  add("step_median_seconds", seconds(f.median_ns) / f.steps);
  add("step_p90_seconds", seconds(f.p90_ns) / f.steps);
  add("step_p99_seconds", seconds(f.p99_ns) / f.steps);
  add("step_max_seconds", seconds(f.max_ns) / f.steps);
  add("fault_slowdown", f.fault_free_ns > 0 ? static_cast<double>(f.median_ns) / static_cast<double>(f.fault_free_ns) : NAN);
  add("critical_repeat", f.critical_repeat);
  add("critical_device", static_cast<double>(f.critical_device));
  const bool block = f.critical_block.has_value();  // sim/critical_block.hpp; null where not computed
  add("critical_block_device", block ? static_cast<double>(f.critical_block->device) : NAN);
  add("critical_block_step", block ? static_cast<double>(f.critical_block->step) : NAN);
  add("critical_block_extra_seconds", block ? seconds(f.critical_block->extra_ns) : NAN);
  add("one_straggler_device", f.one_straggler_device >= 0 ? static_cast<double>(f.one_straggler_device) : NAN);
  add("one_straggler_seconds", f.one_straggler_ns >= 0 ? seconds(f.one_straggler_ns) : NAN);
  add("one_straggler_share", straggler_share(f));
  return c;
}

std::vector<std::string> fault_column_names() {
  std::vector<std::string> names;
  for (const auto& [name, value] : fault_columns(PointResult{})) names.push_back(name);
  return names;
}

std::string fault_table_line(const PointResult& r) {
  if (!r.faults) return {};
  const FaultStats& f = *r.faults;
  std::string line = fmt::format(
      "{:>14}   faults, {} repeat{}: median {} (row), p90 {}, p99 {}, max {}; fault-free {} (x{:.3f}); "
      "step median {}; last to finish: device {} in repeat {}",
      "^", f.repeats, f.repeats == 1 ? "" : "s", format_seconds(seconds(f.median_ns)), format_seconds(seconds(f.p90_ns)),
      format_seconds(seconds(f.p99_ns)), format_seconds(seconds(f.max_ns)), format_seconds(seconds(f.fault_free_ns)),
      f.fault_free_ns > 0 ? static_cast<double>(f.median_ns) / static_cast<double>(f.fault_free_ns) : 0.0,
      format_seconds(seconds(f.median_ns) / f.steps), f.critical_device, f.critical_repeat);
  if (f.critical_block)
    line += fmt::format("; critical block: device {} step {} (+{})", f.critical_block->device, f.critical_block->step,
                        format_seconds(seconds(f.critical_block->extra_ns)));
  if (f.one_straggler_ns >= 0)
    line += fmt::format("; straggler {} alone: {} ({:.0f}% of the slowdown)", f.one_straggler_device,
                        format_seconds(seconds(f.one_straggler_ns)), 100 * straggler_share(f));
  return line + "\n";
}

}  // namespace ringsim::cli
