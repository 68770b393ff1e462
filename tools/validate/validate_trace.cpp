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

std::string slice(const char* name, int pid, int tid, const ring::Slice& s, int step) {
  return fmt::format(R"({{"name":"{}","ph":"X","pid":{},"tid":{},"ts":{:.3f},"dur":{:.3f},"args":{{"step":{}}}}})",
                     name, pid, tid, s.start_ms * 1e3, (s.end_ms - s.start_ms) * 1e3, step);
}

}  // namespace

void write_trace(const std::string& path, const ring::RingTimeline& t, const ring::RingConfig& cfg,
                 const std::string& card, const std::string& sim_events) {
  std::vector<std::string> events{
      meta(10, fmt::format("measured compute on {} (rank = tid)", card), 0),
      meta(11, fmt::format("measured transfers on {} (sender = tid)", card), 1),
      meta(0, fmt::format("simulated compute, profile calibrated on {}", card), 2),
      meta(1, "simulated transfers (sender = tid)", 3)};
  for (int d = 0; d < cfg.ring_size; ++d) {
    for (int s = 0; s < cfg.ring_size; ++s) {
      if (t.compute[d][s].start_ms >= 0) events.push_back(slice("compute", 10, d, t.compute[d][s], s));
      if (t.transfer[d][s].start_ms >= 0) events.push_back(slice("kv", 11, d, t.transfer[d][s], s));
    }
  }
  std::ofstream f(path);
  if (!f) throw std::runtime_error("cannot write trace " + path);
  f << "{\"traceEvents\":[\n";
  for (std::size_t i = 0; i < events.size(); ++i) f << (i ? ",\n" : "") << events[i];
  if (!sim_events.empty()) f << ",\n" << sim_events;
  f << "\n]}\n";
  if (!f) throw std::runtime_error("cannot write trace " + path);
}

}  // namespace ringsim::validate
