// `ringsim run SCENARIO`: validate everything (scenario, every point,
// options), only then open the outputs and simulate point by point, writing
// each result as it finishes.
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <memory>
#include <sstream>

#include "sim/model_step.hpp"
#include "tools/ringsim/cli_common.hpp"
#include "tools/ringsim/output.hpp"
#include "tools/ringsim/progress.hpp"

namespace ringsim::cli {

namespace {

std::uint64_t total_device_steps(const Scenario& s) {
  std::uint64_t total = 0;
  for (const Point& p : s.points) total += static_cast<std::uint64_t>(p.ring_size) * p.ring_size;
  return total;
}

// The engine writes comma-separated trace objects per point; joins them
// into one JSON array whatever separators it leaves at either end.
void append_trace(std::ostream& trace, const std::string& events, bool& first) {
  auto begin = events.find_first_not_of(" \t\r\n,");
  if (begin == std::string::npos) return;
  auto end = events.find_last_not_of(" \t\r\n,");
  trace << (first ? "" : ",\n") << std::string_view(events).substr(begin, end - begin + 1);
  first = false;
}

}  // namespace

namespace {

// --mode, --threads and --trace, checked before anything is opened.
SimOptions options_from(const Args& a) {
  SimOptions options;
  options.mode = parse_mode(a.last("--mode"));
  options.threads = parse_threads(a.last("--threads"));
  if (a.has("--trace")) {
    if (options.mode != Mode::kAuto && options.mode != Mode::kEvent)
      throw UsageError("--trace records the event engine: use it with --mode event (or auto)");
    options.mode = Mode::kEvent;
  }
  return options;
}

PointResult simulate_or_explain(const Scenario& s, const Point& p, const SimOptions& options,
                                const OutputFile* out_file) {
  try {
    return simulate_model_point(s, p, options);
  } catch (const std::exception& e) {
    std::string kept = out_file ? fmt::format(" (finished points kept in {})", out_file->partial_path()) : "";
    throw std::runtime_error(fmt::format("{}: tokens {}, ring_size {}: {}{}", s.path, p.tokens, p.ring_size,
                                         e.what(), kept));
  }
}

}  // namespace

int run_command(const std::vector<std::string>& args, Io io) {
  Args a = parse_args(args, 1, {{"--format"}, {"--out"}, {"--mode"}, {"--threads"}, {"--trace"}, {"--set"}, {"--quiet", false}});
  if (a.positional.size() != 1) throw UsageError("run needs exactly one SCENARIO file");
  Format format = parse_format(a.last("--format"));
  SimOptions options = options_from(a);
  Scenario s = load_scenario_with_sets(a.positional[0], a.all("--set"));  // validates every point
  with_sets_named(s, [&] {
    check_schedules(s);           // and what each point's schedule needs
    check_mode(s, options.mode);  // and what --mode needs of it
  });

  std::unique_ptr<OutputFile> out_file, trace_file;
  if (auto path = a.last("--out")) out_file = std::make_unique<OutputFile>(*path);
  if (auto path = a.last("--trace")) trace_file = std::make_unique<OutputFile>(*path);
  auto writer = make_writer(format, out_file ? out_file->stream() : io.out, s, options.mode);
  Progress progress(io.err, !a.has("--quiet"), io.err_is_tty, total_device_steps(s), s.points.size());

  bool first_trace = true;
  if (trace_file) trace_file->stream() << "[\n";
  writer->begin();
  for (const Point& p : s.points) {
    std::ostringstream trace;
    options.chrome_trace = trace_file ? &trace : nullptr;
    options.progress = progress.callback();
    PointResult r = simulate_or_explain(s, p, options, out_file.get());
    writer->point(r);
    if (out_file) out_file->keep_partial();
    if (trace_file) append_trace(trace_file->stream(), trace.str(), first_trace);
    progress.point_done(r.device_steps);
  }
  writer->end();
  progress.finish();
  if (trace_file) {
    trace_file->stream() << "\n]\n";
    trace_file->commit();
  }
  if (out_file) out_file->commit();
  return 0;
}

}  // namespace ringsim::cli
