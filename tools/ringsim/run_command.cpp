// `ringsim run SCENARIO`: checks everything first (options, the scenario and
// every point, every point against --mode, the output paths), only then
// opens the outputs and simulates point by point, writing each result whole
// as it finishes. Under mpirun the points are shared among the ranks
// (tools/ringsim/sweep_mpi.hpp).
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <optional>

#include "models/input_error.hpp"
#include "sim/trace.hpp"
#include "tools/ringsim/cli_common.hpp"
#include "tools/ringsim/output.hpp"
#include "tools/ringsim/progress.hpp"
#include "tools/ringsim/run_files.hpp"
#include "tools/ringsim/sweep_mpi.hpp"

namespace ringsim::cli {

namespace {

std::uint64_t total_device_steps(const Scenario& s) {
  std::uint64_t total = 0;
  for (const Point& p : s.points) total += static_cast<std::uint64_t>(p.ring_size) * p.ring_size;
  return total;
}

// --mode, --threads and --trace, checked before anything is read or opened.
SimOptions sim_options(const RunOptions& o) {
  SimOptions options;
  options.mode = o.mode;
  options.threads = o.threads;
  if (o.trace) {
    if (o.mode != Mode::kAuto && o.mode != Mode::kEvent)
      throw UsageError("--trace records the event engine: use it with --mode event (or auto)");
    options.mode = Mode::kEvent;
  }
  if (o.trace_devices && !o.trace) throw UsageError("--trace-devices samples the trace: give --trace FILE too");
  return options;
}

DeviceSample trace_sample(const RunOptions& o) {
  try {
    return DeviceSample::parse(o.trace_devices.value_or(""));
  } catch (const std::invalid_argument& e) {
    throw UsageError(fmt::format("--trace-devices: {}", e.what()));
  }
}

// Every point against the mode asked for, before any output exists.
void check_modes(const Scenario& s, Mode mode) {
  for (std::size_t i = 0; i < s.points.size(); ++i) {
    try {
      check_mode(s, s.points[i], mode);
    } catch (const std::invalid_argument& e) {
      throw InputError("--mode", 0, "", fmt::format("{}: {}: {}", s.path, point_title(s, i), e.what()));
    }
  }
}

std::vector<InputSpec> inputs_of(const Scenario& s) {
  std::vector<InputSpec> inputs{{"the scenario", s.path}};
  if (s.profile.origin != "inline") inputs.push_back({"the scenario's profile", s.profile.origin});
  return inputs;
}

// One process: every point in order, each result written whole when done.
int run_local(const RunOptions& o, const Scenario& s, SimOptions options, const DeviceSample& sample, Io io) {
  RunFiles files(o.out, o.trace, io.out);
  auto writer = make_writer(o.format, files.results(), s, options.mode, o.csv_header);
  std::optional<TraceWriter> trace;
  if (files.trace()) trace.emplace(*files.trace());
  Progress progress(io.err, !o.quiet, io.err_is_tty, total_device_steps(s), s.points.size());
  writer->begin();
  files.flush();
  for (std::size_t i = 0; i < s.points.size(); ++i) {
    std::optional<PointTrace> point_trace;
    if (trace) point_trace.emplace(*trace, point_title(s, i), sample);
    options.trace = point_trace ? &*point_trace : nullptr;
    options.progress = progress.callback();
    const PointResult r = files.simulate(s, i, options);
    writer->point(r, i);
    files.point_written();
    progress.point_done(r.device_steps);
  }
  writer->end();
  if (trace) trace->close();
  progress.finish();
  files.commit();
  return 0;
}

int run_checked(const RunOptions& o, Io io, MpiWorld world) {
  SimOptions options = sim_options(o);
  const DeviceSample sample = trace_sample(o);
  const Scenario s = load_scenario_with_sets(o.scenario, o.sets);  // validates every point
  with_sets_named(s, [&] {
    check_schedules(s);            // and what each point's schedule needs
    check_mode(s, options.mode);   // and what mode walk needs of it (file, line, key)
    check_modes(s, options.mode);  // and what recurrence or folded need of each point
  });
  std::vector<OutputSpec> outputs;
  if (o.out) outputs.push_back({"--out", *o.out});
  if (o.trace) outputs.push_back({"--trace", *o.trace});
  check_outputs(outputs, inputs_of(s));
  if (world.size > 1) {
    if (o.trace) throw UsageError("--trace is written by one process: run it without mpirun");
    return run_sharded(o, s, options, world, io);
  }
  return run_local(o, s, options, sample, io);
}

}  // namespace

int run_command(const RunOptions& o, Io io) {
  const MpiWorld world = mpi_world();
  if (world.rank == 0) return run_checked(o, io, world);
  // The other ranks check the same inputs and fail alike: rank 0 says why.
  try {
    return run_checked(o, io, world);
  } catch (const InputError&) {
    return 2;
  } catch (const UsageError&) {
    return 2;
  }
}

}  // namespace ringsim::cli
