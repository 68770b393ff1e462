// sim: interference per block shape. A transfer in flight takes the running
// compute's own share (its block shape's, Op::copy_share / link_share), so
// two blocks of different shapes beside one transfer slow down differently.
// Hand-computed timelines at the engine and at the ring level.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "models/flow_network.hpp"
#include "sim/engine.hpp"
#include "sim/simulate.hpp"
#include "sim_fixtures.hpp"

using namespace ringsim;
using ringsim::test::ScriptProgram;

namespace {


Op op(Op::Kind kind, long long peer = 0, double bytes = 0) {
  Op o;
  o.kind = kind;
  o.peer = peer;
  o.bytes = bytes;
  return o;
}
Op compute(TimeNs ns, double link_share) {
  Op o = op(Op::kCompute);
  o.duration_ns = ns;
  o.link_share = link_share;
  return o;
}

InterferenceSample link_sample(const Scenario& s, MaskKind mask, long long q, long long kv, double bytes,
                               double share) {
  return InterferenceSample{TransferKind::kLink, s.shape.dtype, s.shape.head_dim, s.shape.q_heads,
                            s.shape.kv_heads, mask, q, kv, bytes, share};
}

TimeNs simulated_ns(const Scenario& s) {
  SimOptions o;
  o.mode = Mode::kEvent;
  return simulate_point(s, s.points[0], o).makespan_ns;
}

}  // namespace

TEST_CASE("sim::Engine: two blocks beside one transfer each lose their own share") {
  // GPU 0 runs a block of share 0.25, GPU 1 one of share 0.5; one transfer
  // 0 -> 1 (latency 1 us, 2000 B at 1 GB/s: in flight [1000, 3000) ns)
  // touches both. Each GPU is one end: rate 0.75 and 0.5 while it flows.
  //   GPU 0: 1000 + 2000 x 0.75 = 2500 ns done at 3000, 1500 left -> 4500
  //   GPU 1: 1000 + 2000 x 0.5  = 2000 ns done at 3000, 2000 left -> 5000
  Topology topo(ClusterSpec{2, 8, LinkSpec{1e9, 1000}, LinkSpec{1e8, 5000}});
  ScriptProgram prog({{op(Op::kSend, 1, 2000), compute(4000, 0.25), op(Op::kWaitAll)},
                      {op(Op::kRecv, 0), compute(4000, 0.5), op(Op::kWaitAll)}});
  EngineOptions eo;
  eo.block_shares = true;
  EngineResult r = Engine(topo, prog, 2, eo).run();
  CHECK(r.finish_ns[0] == 4500);
  CHECK(r.finish_ns[1] == 5000);
  // Ops without shares take the scalar: 0.5 on both GPUs -> both end at 5000.
  ScriptProgram plain({{op(Op::kSend, 1, 2000), compute(4000, -1), op(Op::kWaitAll)},
                       {op(Op::kRecv, 0), compute(4000, -1), op(Op::kWaitAll)}});
  EngineOptions scalar;
  scalar.link_compute_share = 0.5;
  EngineResult p = Engine(topo, plain, 2, scalar).run();
  CHECK(p.finish_ns[0] == 5000);
  CHECK(p.finish_ns[1] == 5000);
  // Without interference the transfer is hidden.
  CHECK(Engine(topo, prog, 2, {}).run().finish_ns[1] == 4000);
}

TEST_CASE("sim::Engine: a share just below 1 stalls the compute for the transfer, without overflow") {
  // Issue 14: a rate of 1 - share ~ 2e-16 put the compute's end past 2^63 ns
  // (an undefined double-to-int64 cast; the run died with "event scheduled
  // before now"). Such an end is taken as a stall until the transfer ends:
  // GPU 0 computes 1000 ns, stalls over [1000, 3000), then runs 3000 ns more.
  Topology topo(ClusterSpec{2, 8, LinkSpec{1e9, 1000}, LinkSpec{1e8, 5000}});
  const double share = 1.0 - 0x1p-52;
  ScriptProgram prog({{op(Op::kSend, 1, 2000), compute(4000, share), op(Op::kWaitAll)},
                      {op(Op::kRecv, 0), op(Op::kWaitAll)}});
  EngineOptions eo;
  eo.block_shares = true;
  EngineResult r = Engine(topo, prog, 2, eo).run();
  CHECK(r.finish_ns[0] == 6000);
  CHECK(r.finish_ns[1] == 3000);
  // A compute that alone lasts past 2^63 ns is refused with TimeOverflow.
  ScriptProgram endless({{compute(kTimeNever, 0.0), op(Op::kWaitAll)}, {op(Op::kWaitAll)}});
  CHECK_THROWS_AS(Engine(topo, endless, 2, eo).run(), TimeOverflow);
}

TEST_CASE("sim::interference: a causal ring's diagonal and full blocks take their own shares") {
  // Causal contiguous, P = 2 on two GPUs: step 0 computes the diagonal on
  // both while the K/V transfer (x) runs; step 1 computes one full block on
  // device 1, no transfer. A diagonal share of 0.5 (two ends per GPU) stalls
  // step 0 for the whole transfer; the full block's share never applies.
  Scenario s = test::ring_scenario(16384, 2, true, Layout::kContiguous, 8);
  const long long c = 8192;
  // Block times by hand (profile samples): the diagonal is each device's first block (no merge).
  test::set_block_seconds(s, c, c, MaskKind::kCausalDiagonal, 0x1p-12);
  test::set_block_seconds(s, c, c, MaskKind::kFull, 0x1p-11);
  test::set_merge_seconds(s, c, 0x1p-16);
  const TimeNs cd = test::oracle_ns(0x1p-12), cf = test::oracle_ns(0x1p-11, 0x1p-16);
  const double bytes = test::kv_block_bytes(s, c);
  const TimeNs x = test::oracle_transfer_ns(0, bytes, s.intra_node.bytes_per_s);
  REQUIRE(cd > s.intra_node.latency_ns + x);
  CHECK(simulated_ns(s) == cd + cf);  // no interference: the transfer is hidden
  s.profile.interference = {link_sample(s, MaskKind::kCausalDiagonal, c, c, bytes, 0.5),
                            link_sample(s, MaskKind::kFull, c, c, bytes, 0.9)};
  CHECK(simulated_ns(s) == cd + x + cf);
  // Only a full-block sample: the diagonal falls back to the scalar (0 here).
  s.profile.interference = {link_sample(s, MaskKind::kFull, c, c, bytes, 0.9)};
  CHECK(simulated_ns(s) == cd + cf);
  s.profile.link_compute_share = 0.5;
  CHECK(simulated_ns(s) == cd + x + cf);
}

TEST_CASE("sim::pass-kv lowering: shares are looked up once per block shape at the ring's message size") {
  // Zigzag P = 2: diagonal 2c x 2c, lower 2c x c, upper c x 2c (c = 2048).
  Scenario s = test::ring_scenario(8192, 2, true, Layout::kZigzag, 8);
  const double bytes = test::kv_block_bytes(s, 4096);
  s.profile.interference = {link_sample(s, MaskKind::kZigzagDiagonal, 4096, 4096, bytes, 0.3),
                            link_sample(s, MaskKind::kFull, 4096, 2048, bytes, 0.6),
                            link_sample(s, MaskKind::kFull, 2048, 4096, bytes, 0.8),
                            link_sample(s, MaskKind::kFull, 4096, 2048, 64 * bytes, 0.1)};
  const auto planned = test::plan_point(s, s.points[0]);
  const RingCosts costs = planned->plan->lower()->costs;
  CHECK(costs.diagonal_share.link == doctest::Approx(0.3));
  CHECK(costs.lower_share.link == doctest::Approx(0.6));   // the sample at this message size
  CHECK(costs.upper_share.link == doctest::Approx(0.8));
  CHECK(costs.share(1, 1).link == doctest::Approx(0.6));  // device 1, step 1: lower
  CHECK(costs.share(0, 1).link == doctest::Approx(0.8));  // device 0, step 1: upper
  CHECK(costs.diagonal_share.copy == 0);                  // no copy sample, scalar 0
  // Between measured shapes: linear in log q, log kv (here halfway in log q).
  s.profile.interference = {link_sample(s, MaskKind::kFull, 2048, 2048, bytes, 0.2),
                            link_sample(s, MaskKind::kFull, 8192, 2048, bytes, 0.6)};
  CHECK(ComputeModel(s.profile, s.shape).transfer_share(BlockShape{4096, 2048, MaskKind::kFull, true},
                                                        TransferKind::kLink, bytes) == doctest::Approx(0.4));
}
