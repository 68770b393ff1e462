// Reads a Chrome/Perfetto trace (sim/trace.hpp) back with nlohmann-json, a
// parser independent of the writer, for tests/sim and tests/tools.
#pragma once
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "models/units.hpp"
#include "sim/trace.hpp"

namespace ringsim::test {

struct TraceSlice {
  int pid = 0;
  long long tid = 0, step = 0, peer = -1;
  std::string name;
  TimeNs start_ns = 0, end_ns = 0;
};

struct TraceFlow {
  int pid = 0;
  long long from_tid = 0, to_tid = 0;
  TimeNs from_ns = 0, to_ns = 0;
};

struct ParsedTrace {
  std::vector<TraceSlice> slices;
  std::vector<TraceFlow> flows;                                // s and f paired by id
  std::map<int, std::string> processes;                        // pid -> process_name
  std::map<std::pair<int, long long>, std::string> threads;    // (pid, tid) -> thread_name
  int unpaired_flow_events = 0;
};

inline TimeNs trace_ns(const nlohmann::json& us) { return std::llround(us.get<double>() * 1000); }

// Throws nlohmann::json::parse_error when the text is not JSON.
inline ParsedTrace parse_trace(const std::string& text) {
  const nlohmann::json doc = nlohmann::json::parse(text);
  ParsedTrace t;
  std::map<std::uint64_t, nlohmann::json> starts;
  for (const nlohmann::json& e : doc.at("traceEvents")) {
    const std::string ph = e.at("ph");
    const std::string name = e.value("name", "");
    if (ph == "M" && name == "process_name") t.processes[e.at("pid")] = e.at("args").at("name");
    if (ph == "M" && name == "thread_name") t.threads[{e.at("pid"), e.at("tid")}] = e.at("args").at("name");
    if (ph == "X") {
      TraceSlice s{e.at("pid"), e.at("tid"), e.at("args").at("step"), e.at("args").value("peer", -1LL), name,
                   trace_ns(e.at("ts")), 0};
      s.end_ns = s.start_ns + trace_ns(e.at("dur"));
      t.slices.push_back(s);
    }
    if (ph == "s") starts[e.at("id")] = e;
    if (ph == "f") {
      auto it = starts.find(e.at("id"));
      if (it == starts.end()) {
        ++t.unpaired_flow_events;
        continue;
      }
      t.flows.push_back({e.at("pid"), it->second.at("tid"), e.at("tid"), trace_ns(it->second.at("ts")),
                         trace_ns(e.at("ts"))});
      starts.erase(it);
    }
  }
  t.unpaired_flow_events += static_cast<int>(starts.size());
  return t;
}

// The compute slices, with the device each belongs to (tid = 2 * device).
inline std::vector<TraceSlice> compute_slices(const ParsedTrace& t) {
  std::vector<TraceSlice> out;
  for (const TraceSlice& s : t.slices)
    if (s.name == "compute") out.push_back(s);
  return out;
}

}  // namespace ringsim::test
