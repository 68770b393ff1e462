// Validation traces: see validate_trace.hpp.
#include "tools/validate/validate_trace.hpp"

#include <fmt/format.h>

#include <fstream>
#include <stdexcept>
#include <vector>

namespace ringsim::validate {

namespace {

std::string meta(int pid, const std::string& name, int sort) {
  return fmt::format(
      R"({{"name":"process_name","ph":"M","pid":{},"args":{{"name":"{}"}}}},)"
      R"({{"name":"process_sort_index","ph":"M","pid":{},"args":{{"sort_index":{}}}}})",
      pid, name, pid, sort);
}

std::string slice(const ring::TimedOp& op, int pid) {
  const char* name = op.kind == ring::TimedOp::kTransfer ? "transfer" : op.kind == ring::TimedOp::kCast ? "cast" : "compute";
  return fmt::format(R"({{"name":"{}","ph":"X","pid":{},"tid":{},"ts":{:.3f},"dur":{:.3f},"args":{{"step":{},"peer":{}}}}})",
                     name, pid, op.device, op.start_ms * 1e3, (op.end_ms - op.start_ms) * 1e3, op.label, op.peer);
}

}  // namespace

void write_trace(const std::string& path, const ring::RingTimeline& t, const std::string& card,
                 const std::string& sim_events) {
  std::vector<std::string> events{
      meta(10, fmt::format("measured compute on {} (rank = tid)", card), 0),
      meta(11, fmt::format("measured transfers on {} (sender = tid)", card), 1),
      meta(0, fmt::format("simulated compute, profile calibrated on {}", card), 2),
      meta(1, "simulated transfers (sender = tid)", 3)};
  for (const ring::TimedOp& op : t.ops)
    if (!op.empty) events.push_back(slice(op, op.kind == ring::TimedOp::kTransfer ? 11 : 10));
  std::ofstream f(path);
  if (!f) throw std::runtime_error("cannot write trace " + path);
  f << "{\"traceEvents\":[\n";
  for (std::size_t i = 0; i < events.size(); ++i) f << (i ? ",\n" : "") << events[i];
  if (!sim_events.empty()) f << ",\n" << sim_events;
  f << "\n]}\n";
  if (!f) throw std::runtime_error("cannot write trace " + path);
}

}  // namespace ringsim::validate
