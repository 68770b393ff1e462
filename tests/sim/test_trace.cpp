// sim/trace: the Chrome/Perfetto writer and the engine's trace of a point,
// read back with nlohmann-json (tests/sim/trace_reader.hpp). Oracles: the
// engine's own finish times (each device finishes when its last compute or
// transfer ends) and the ring's transfer count, P (P - 1).
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "sim/simulate.hpp"
#include "sim/trace.hpp"
#include "sim_fixtures.hpp"
#include "trace_reader.hpp"

using namespace ringsim;

namespace {

struct Traced {
  PointResult result;
  test::ParsedTrace trace;
};

Traced traced_run(const Scenario& s, const std::string& sample) {
  std::ostringstream text;
  TraceWriter writer(text);
  PointTrace point(writer, "point 1 of 1", DeviceSample::parse(sample));
  SimOptions o;
  o.mode = Mode::kEvent;
  o.keep_finish_times = true;
  o.trace = &point;
  Traced t{simulate_point(s, s.points[0], o), {}};
  writer.close();
  t.trace = test::parse_trace(text.str());
  return t;
}

}  // namespace

TEST_CASE("sim::DeviceSample: ranges and single devices, inclusive") {
  const DeviceSample s = DeviceSample::parse("1024,0-15,20-20");
  for (long long d : {0LL, 7LL, 15LL, 20LL, 1024LL}) CHECK(s.contains(d));
  for (long long d : {16LL, 19LL, 21LL, 1023LL, 1025LL}) CHECK_FALSE(s.contains(d));
  CHECK(DeviceSample::parse("").all());
  CHECK(DeviceSample::parse("").contains(262143));
  for (const char* bad : {"a", "3-1", "1,", ",1", "-", "1--2", "1-", "-3", "0x10", "1,,2", "5 "}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(DeviceSample::parse(bad), std::invalid_argument);
  }
}

TEST_CASE("sim::TraceWriter: names with quotes, backslashes and line breaks stay valid JSON") {
  std::ostringstream text;
  TraceWriter w(text);
  const std::string name = "a \"card\" \\ with\na line break\t";
  const int pid = w.add_process(name);
  w.name_thread(pid, 3, name);
  w.slice(pid, 3, name, 1500, 2750, 7);
  w.close();
  const test::ParsedTrace t = test::parse_trace(text.str());
  CHECK(t.processes.at(pid) == name);
  CHECK(t.threads.at({pid, 3}) == name);
  REQUIRE(t.slices.size() == 1);
  CHECK(t.slices[0].start_ns == 1500);
  CHECK(t.slices[0].end_ns == 2750);
  CHECK(t.slices[0].step == 7);
}

TEST_CASE("sim::PointTrace: every device finishes when its last compute or transfer in the trace ends") {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Scenario s = test::random_scenario(rng, 12);
    const long long ring = s.points[0].ring_size;
    const Traced t = traced_run(s, "");
    REQUIRE(t.trace.processes.size() == 1);
    std::map<long long, TimeNs> last_end;
    int transfers = 0;
    for (const test::TraceSlice& sl : t.trace.slices) {
      if (sl.name == "compute") {
        last_end[sl.tid / 2] = std::max(last_end[sl.tid / 2], sl.end_ns);
      } else {
        REQUIRE(sl.name == "transfer");
        ++transfers;
        CHECK(sl.tid % 2 == 1);  // on the sender's send thread
        last_end[sl.tid / 2] = std::max(last_end[sl.tid / 2], sl.end_ns);
        last_end[sl.peer] = std::max(last_end[sl.peer], sl.end_ns);
      }
    }
    CHECK(transfers == ring * (ring - 1));
    for (long long d = 0; d < ring; ++d) {
      CAPTURE(d);
      CHECK(last_end[d] == t.result.finish_ns[d]);
      CHECK(t.trace.threads.at({1, PointTrace::compute_tid(d)}) == "device " + std::to_string(d));
    }
    CHECK(t.trace.flows.size() == static_cast<std::size_t>(transfers));
    CHECK(t.trace.unpaired_flow_events == 0);
  }
}

TEST_CASE("sim::PointTrace: a device sample keeps only its devices, and arrows only between them") {
  Scenario s = test::ring_scenario(16 * 2048, 16, true, Layout::kZigzag, 4);
  const Traced t = traced_run(s, "0-2,9");
  const std::set<long long> sample{0, 1, 2, 9};
  std::set<long long> seen;
  for (const test::TraceSlice& sl : t.trace.slices) seen.insert(sl.tid / 2);
  CHECK(seen == sample);
  for (const auto& [key, name] : t.trace.threads) CHECK(sample.count(key.second / 2) == 1);
  // Sends 0->1 and 1->2 stay drawn with arrows; 2->3 and 9->10 keep their slices only.
  int kv_in_sample = 0, flows_checked = 0;
  for (const test::TraceSlice& sl : t.trace.slices)
    if (sl.name == "transfer" && sample.count(sl.peer)) ++kv_in_sample;
  CHECK(kv_in_sample == 2 * 15);  // 0->1 and 1->2, one per step after the first
  CHECK(t.trace.flows.size() == static_cast<std::size_t>(kv_in_sample));
  for (const test::TraceFlow& f : t.trace.flows) {
    CHECK(f.from_tid % 2 == 1);
    CHECK(f.to_tid % 2 == 0);
    CHECK(sample.count(f.to_tid / 2) == 1);
    // The arrow leaves from inside a send slice of its sender.
    const bool inside = std::any_of(t.trace.slices.begin(), t.trace.slices.end(), [&](const test::TraceSlice& sl) {
      return sl.tid == f.from_tid && sl.start_ns <= f.from_ns && f.from_ns <= sl.end_ns;
    });
    CHECK(inside);
    ++flows_checked;
  }
  CHECK(flows_checked > 0);
}

TEST_CASE("sim::trace: a training point draws its forward, then its backward the forward's makespan later") {
  // Oracle: the two passes traced as points of their own.
  Scenario s = test::ring_scenario(4096, 4, true, Layout::kZigzag, 2);
  auto slices = [](const test::ParsedTrace& t, TimeNs offset_ns) {
    std::vector<std::tuple<long long, std::string, TimeNs, TimeNs, long long>> out;
    for (const test::TraceSlice& sl : t.slices)
      out.emplace_back(sl.tid, sl.name, sl.start_ns + offset_ns, sl.end_ns + offset_ns, sl.step);
    std::sort(out.begin(), out.end());
    return out;
  };
  s.pass = Pass::kForward;
  const Traced forward = traced_run(s, "");
  s.pass = Pass::kBackward;
  const Traced backward = traced_run(s, "");
  s.pass = Pass::kTraining;
  const Traced training = traced_run(s, "");
  REQUIRE(training.result.forward_ns == forward.result.makespan_ns);
  auto expected = slices(forward.trace, 0);
  for (auto& sl : slices(backward.trace, forward.result.makespan_ns)) expected.push_back(sl);
  std::sort(expected.begin(), expected.end());
  CHECK(slices(training.trace, 0) == expected);
  CHECK(training.trace.processes.size() == 1);
  CHECK(training.trace.flows.size() == forward.trace.flows.size() + backward.trace.flows.size());
}
