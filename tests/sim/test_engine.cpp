// sim::Engine: rendezvous, shared links, determinism, compute and memory of
// the ring program.
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "models/flow_network.hpp"
#include "sim/engine.hpp"
#include "sim/simulate.hpp"
#include "sim/trace.hpp"
#include "sim_fixtures.hpp"
#include "trace_reader.hpp"

using namespace ringsim;
using ringsim::test::ScriptProgram;
using ringsim::test::device_compute;

namespace {


Op send(long long to, std::uint64_t tag, double bytes) {
  Op op;
  op.kind = Op::kSend;
  op.peer = to;
  op.tag = tag;
  op.bytes = bytes;
  return op;
}
Op recv(long long from, std::uint64_t tag) {
  Op op;
  op.kind = Op::kRecv;
  op.peer = from;
  op.tag = tag;
  return op;
}
Op wait_all() {
  Op op;
  op.kind = Op::kWaitAll;
  return op;
}
Op compute(TimeNs ns) {
  Op op;
  op.kind = Op::kCompute;
  op.duration_ns = ns;
  return op;
}

ClusterSpec one_node(long long gpus) {
  return ClusterSpec{gpus, 8, LinkSpec{1e9, 1000}, LinkSpec{1e8, 5000}};
}

}  // namespace

TEST_CASE("sim::Engine: a transfer starts when both sides have posted") {
  Topology topo(one_node(2));
  const double bytes = 1e6;  // 1 ms at 1 GB/s
  ScriptProgram prog({{send(1, 0, bytes), wait_all()}, {compute(5000), wait_all(), recv(0, 0), wait_all()}});
  EngineResult r = Engine(topo, prog, 2, {}).run();
  CHECK(r.finish_ns[1] == 5000 + 1000 + transfer_time_ns(bytes, 1e9));
  CHECK(r.finish_ns[0] == r.finish_ns[1]);
}

TEST_CASE("sim::Engine: a shared link halves each flow's rate") {
  Topology topo(one_node(3));
  const double bytes = 1e6;
  // Device 0 sends to 1 and 2 at once: both flows leave through 0's one port.
  ScriptProgram shared({{send(1, 0, bytes), send(2, 0, bytes), wait_all()},
                        {recv(0, 0), wait_all()},
                        {recv(0, 0), wait_all()}});
  EngineResult r = Engine(topo, shared, 3, {}).run();
  CHECK(r.finish_ns[1] == 1000 + transfer_time_ns(bytes, 0.5e9));
  CHECK(r.finish_ns[2] == r.finish_ns[1]);
  // Two flows on disjoint links (0->1, 2->0) keep the full rate.
  ScriptProgram disjoint({{send(1, 0, bytes), recv(2, 0), wait_all()},
                          {recv(0, 0), wait_all()},
                          {send(0, 0, bytes), wait_all()}});
  EngineResult d = Engine(topo, disjoint, 3, {}).run();
  CHECK(d.finish_ns[0] == 1000 + transfer_time_ns(bytes, 1e9));
  CHECK(d.finish_ns[1] == d.finish_ns[0]);
}

TEST_CASE("sim::Engine: thousands of messages between two ranks match by tag in any order and share the copy link") {
  // Two ranks on one GPU: 3000 sends 0 -> 1 posted in tag order, the
  // receives in reverse order; every copy starts at the copy latency and they
  // share the copy link equally, so all end at once (closed form).
  const int n = 3000;
  const double bytes = 1e6, copy_bytes_per_s = 1e12;
  ClusterSpec spec = one_node(1);
  spec.copy_link = LinkSpec{copy_bytes_per_s, 700};
  Topology topo(spec);
  std::vector<std::vector<Op>> ops(2);
  for (int i = 0; i < n; ++i) ops[0].push_back(send(1, static_cast<std::uint64_t>(i), bytes));
  for (int i = n - 1; i >= 0; --i) ops[1].push_back(recv(0, static_cast<std::uint64_t>(i)));
  ops[0].push_back(wait_all());
  ops[1].push_back(wait_all());
  ScriptProgram prog(ops);
  EngineOptions eo;
  eo.ranks_per_gpu = 2;
  EngineResult r = Engine(topo, prog, 2, eo).run();
  const TimeNs end = 700 + transfer_time_ns(bytes, copy_bytes_per_s / n);
  CHECK(r.finish_ns == std::vector<TimeNs>{end, end});
  // The same post twice is an error, also past the short list.
  ops[0].push_back(send(1, 5, bytes));
  CHECK_THROWS_AS(Engine(topo, ScriptProgram(ops), 2, eo).run(), std::logic_error);
}

TEST_CASE("sim::Engine: progress is reported while no device has passed a wait yet") {
  // 70,000 ranks on one GPU each send to the next and wait: ~70,000 events
  // before the first WAIT_ALL passes (the copies all end together). Progress
  // comes every 2^16 events too, not only every 2^16 waits.
  const long long n = 70000;
  ClusterSpec spec = one_node(1);
  spec.copy_link = LinkSpec{1e12, 1000};
  Topology topo(spec);
  std::vector<std::vector<Op>> ops(static_cast<std::size_t>(n));
  for (long long d = 0; d < n; ++d) ops[d] = {send((d + 1) % n, 0, 1e6), recv((d + n - 1) % n, 0), wait_all()};
  ScriptProgram prog(std::move(ops));
  EngineOptions eo;
  eo.ranks_per_gpu = n;
  std::vector<std::uint64_t> waits_at_call;
  eo.progress = [&](std::uint64_t done, std::uint64_t) { waits_at_call.push_back(done); };
  eo.total_waits = static_cast<std::uint64_t>(n);
  EngineResult r = Engine(topo, prog, n, eo).run();
  REQUIRE(!waits_at_call.empty());
  CHECK(waits_at_call.front() == 0);
  CHECK(r.finish_ns[0] == 1000 + transfer_time_ns(1e6, 1e12 / static_cast<double>(n)));
}

TEST_CASE("sim::Engine: the same input gives the same event log") {
  for (int variant = 0; variant < 3; ++variant) {
    CAPTURE(variant);
    Scenario s = test::ring_scenario(16 * 2048, 16, variant != 0,
                                     variant == 2 ? Layout::kZigzag : Layout::kContiguous, 4);
    std::vector<std::string> log1, log2;
    std::ostringstream trace1, trace2;
    SimOptions o;
    o.mode = Mode::kEvent;
    o.record_events = true;
    auto run = [&](std::vector<std::string>& log, std::ostringstream& trace) {
      TraceWriter writer(trace);
      PointTrace point(writer, "point", DeviceSample{});
      o.event_log = &log;
      o.trace = &point;
      PointResult r = simulate_point(s, s.points[0], o);
      writer.close();
      return r;
    };
    PointResult r1 = run(log1, trace1);
    PointResult r2 = run(log2, trace2);
    CHECK(log1.size() == r1.events);
    CHECK(log1 == log2);
    CHECK(trace1.str() == trace2.str());
    CHECK_FALSE(test::compute_slices(test::parse_trace(trace1.str())).empty());
    CHECK(r1.makespan_ns == r2.makespan_ns);
  }
}

TEST_CASE("sim::pass-kv: each step posts send, recv, compute and wait; every buffer is freed once") {
  for (long long ring : {1LL, 2LL, 3LL, 7LL}) {
    for (long long rpg : {1LL, 2LL}) {  // 2: masked blocks keep their slot in the GPU's stream
      CAPTURE(ring);
      CAPTURE(rpg);
      Scenario s = test::ring_scenario(ring * 1024, ring, true, Layout::kContiguous, 8);  // upper blocks masked
      const PointAttention att = attention_of(s, s.points[0]);
      const CostContext costs(s.profile, s.shape);
      const auto plan = find_schedule("pass-kv")->schedule->plan(PlanInput{s, s.points[0], att, costs, nullptr, rpg});
      const Program& program = plan->program();
      const BufferTable& table = *program.buffer_table();
      for (long long d = 0; d < ring; ++d) {
        CAPTURE(d);
        ProgramCursor cursor;
        std::vector<int> allocs(static_cast<std::size_t>(table.size())), frees(allocs.size());
        long long sends = 0, recvs = 0, computes = 0, waits = 0;
        for (Op op = program.next(d, cursor); op.kind != Op::kDone; op = program.next(d, cursor)) {
          if (op.kind == Op::kAlloc) ++allocs.at(static_cast<std::size_t>(op.buffer));
          if (op.kind == Op::kFree) ++frees.at(static_cast<std::size_t>(op.buffer));
          sends += op.kind == Op::kSend;
          recvs += op.kind == Op::kRecv;
          computes += op.kind == Op::kCompute;
          waits += op.kind == Op::kWaitAll;
        }
        CHECK(allocs == frees);
        for (BufferId b = 0; b < table.size(); ++b) {
          CAPTURE(table.name(b));
          const bool recv = table.name(b) == "recv_kv0" || table.name(b) == "recv_kv1";
          CHECK(allocs[static_cast<std::size_t>(b)] == (ring == 1 && recv ? 0 : 1));  // a ring of 1 receives nothing
        }
        CHECK(sends == ring - 1);
        CHECK(recvs == ring - 1);
        CHECK(waits == ring);
        CHECK(computes == (rpg > 1 ? ring : d + 1));  // device d: diagonal and d lower blocks
      }
    }
  }
}

TEST_CASE("sim::pass-kv: causal contiguous computes about half of non-causal") {
  const long long ring = 16, tokens = ring * 16384;  // large blocks: compute-bound
  auto total = [](const std::vector<TimeNs>& v) {
    double t = 0;
    for (TimeNs x : v) t += static_cast<double>(x);
    return t;
  };
  double full = total(device_compute(test::ring_scenario(tokens, ring, false, Layout::kContiguous, 8)));
  double causal = total(device_compute(test::ring_scenario(tokens, ring, true, Layout::kContiguous, 8)));
  double zigzag = total(device_compute(test::ring_scenario(tokens, ring, true, Layout::kZigzag, 8)));
  CHECK(causal / full > 0.45);
  CHECK(causal / full < 0.6);
  CHECK(zigzag / full > 0.45);
  CHECK(zigzag / full < 0.6);
}

TEST_CASE("sim::pass-kv: zigzag balances compute across devices, contiguous does not") {
  const long long ring = 16, tokens = ring * 16384;
  auto spread = [](const std::vector<TimeNs>& v) {
    auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    return static_cast<double>(*hi) / static_cast<double>(*lo);
  };
  CHECK(spread(device_compute(test::ring_scenario(tokens, ring, true, Layout::kZigzag, 8))) < 1.05);
  CHECK(spread(device_compute(test::ring_scenario(tokens, ring, true, Layout::kContiguous, 8))) > 4.0);
}

TEST_CASE("sim::simulate_point: pass-kv's memory peak is every buffer, sized by hand") {
  for (long long ring : {1LL, 2LL, 5LL}) {
    CAPTURE(ring);
    const long long c = 8192;
    Scenario s = test::ring_scenario(ring * c, ring, true, Layout::kZigzag, 8);  // 8 q/kv heads, d 64, fp16
    // q 8192 x 8 x 64 x 2; K/V twice that; fp32 accumulator; max and sum; block output + lse.
    const double q = c * 8.0 * 64 * 2, kv = 2 * q, acc = c * 8.0 * 64 * 4, stats = c * 8.0 * 8,
                 workspace = c * 8.0 * 65 * 4, reserved = 1.0 * (1ull << 30);
    const double expected = reserved + q + kv + acc + stats + workspace + (ring > 1 ? 2 * kv : 0);
    for (Mode mode : {Mode::kEvent, Mode::kRecurrence, Mode::kFolded}) {
      const std::string mode_str = mode_name(mode);
      CAPTURE(mode_str);
      SimOptions o;
      o.mode = mode;
      PointResult r = simulate_point(s, s.points[0], o);
      CHECK(r.memory.peak_bytes == doctest::Approx(expected).epsilon(1e-12));
      CHECK(r.memory.capacity_bytes == s.profile.memory_bytes);
      CHECK(r.memory.fits);
    }
    s.profile.memory_bytes = expected / 2;
    SimOptions o;
    o.mode = Mode::kEvent;
    const PointResult over = simulate_point(s, s.points[0], o);
    CHECK_FALSE(over.memory.fits);
    CHECK(over.memory.reason.find(ring > 1 ? "recv_kv0" : "own_kv") != std::string::npos);
  }
}
