// sim: what a ring step costs beyond its blocks (profile step_overhead,
// link_under_compute) and transports capping messages, against closed forms
// of a uniform non-causal pass-kv ring of P devices, one per GPU:
//   compute-bound (transfers shorter than the steps):
//     makespan = C0 + (P - 1) C1,   C0 = A + O, C1 = A + M + O
//   transfer-bound (every step's transfer outlasts its compute):
//     makespan = (P - 1) X + C1,    X = latency + ceil(bytes / rate)
// with A, M the block's attention and merge (fixed by samples), O the step
// overhead, and rate the link's, times the link factor beside compute, or
// the transport's cap. Every mode that takes the point must give it.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>

#include "models/transport.hpp"
#include "sim/simulate.hpp"
#include "sim_fixtures.hpp"

using namespace ringsim;
using namespace ringsim::test;

namespace {

constexpr long long kRing = 4;

// Non-causal pass-kv, kRing devices of `chunk` tokens, 8 heads d64 fp16, one
// node; block attention attention_s and merge merge_s (powers of two).
Scenario uniform_ring(long long chunk, double attention_s, double merge_s, LinkSpec intra) {
  Scenario s = ring_scenario(chunk * kRing, kRing, false, Layout::kContiguous, 8);
  s.intra_node = intra;
  set_block_seconds(s, chunk, chunk, MaskKind::kFull, attention_s);
  set_merge_seconds(s, chunk, merge_s);
  return s;
}

StepOverheadSample overhead_sample(const Scenario& s, StepTransport t, long long chunk, double seconds) {
  return {t, 1, kv_block_bytes(s, chunk), s.shape.dtype, s.shape.head_dim, s.shape.q_heads, s.shape.kv_heads,
          MaskKind::kFull, chunk, chunk, seconds};
}

LinkUnderComputeSample factor_sample(const Scenario& s, long long chunk, double factor) {
  return {StepTransport::kNccl, kv_block_bytes(s, chunk), s.shape.dtype, s.shape.head_dim, s.shape.q_heads,
          s.shape.kv_heads, MaskKind::kFull, chunk, chunk, factor};
}

PointResult run(const Scenario& s, Mode mode) {
  SimOptions o;
  o.mode = mode;
  return simulate_point(s, s.points[0], o);
}

}  // namespace

TEST_CASE("sim::step overhead: every ring step pays the profile's NCCL overhead, in every mode") {
  constexpr long long kChunk = 1024;
  const double a = std::ldexp(1.0, -12), m = std::ldexp(1.0, -16), o = std::ldexp(1.0, -17);
  Scenario s = uniform_ring(kChunk, a, m, LinkSpec{450e9, 2000});  // 2 MiB in 6.7 us: compute-bound
  const TimeNs o_ns = static_cast<TimeNs>(std::ceil(o * 1e9));     // 7630
  const TimeNs bare = oracle_ns(a) + (kRing - 1) * oracle_ns(a, m);
  CHECK(run(s, Mode::kEvent).makespan_ns == bare);
  // The ring spans cards: the NCCL sample applies, not the copy one (ranks sharing a card).
  s.profile.step_overhead = {overhead_sample(s, StepTransport::kNccl, kChunk, o),
                             overhead_sample(s, StepTransport::kCopy, kChunk, 16 * o)};
  const TimeNs expected = (oracle_ns(a) + o_ns) + (kRing - 1) * (oracle_ns(a, m) + o_ns);
  for (Mode mode : {Mode::kEvent, Mode::kRecurrence, Mode::kAuto}) {
    CAPTURE(mode_name(mode));
    CHECK(run(s, mode).makespan_ns == expected);
  }
  // The overhead was measured beside the step's transfer: it holds the
  // transfer's slowdown of the block, so such a step takes no interference share.
  s.profile.link_compute_share = 0.5;
  for (Mode mode : {Mode::kEvent, Mode::kAuto}) {
    CAPTURE(mode_name(mode));
    CHECK(run(s, mode).makespan_ns == expected);
  }
  // One device (no ring step): nothing is charged.
  Scenario one = s;
  one.points = {Point{kChunk, 1}};
  CHECK(run(one, Mode::kEvent).makespan_ns == oracle_ns(a));
}

TEST_CASE("sim::link factor: a transfer beside a running block moves at its factor of the link's rate") {
  constexpr long long kChunk = 4096;  // 8 MiB of K/V per step
  const double a = std::ldexp(1.0, -16), m = std::ldexp(1.0, -20);
  Scenario s = uniform_ring(kChunk, a, m, LinkSpec{100e9, 0});
  const double bytes = kv_block_bytes(s, kChunk);
  REQUIRE(bytes == 8.0 * 1024 * 1024);
  const TimeNs alone = oracle_transfer_ns(0, bytes, 100e9);  // 83887 ns, longer than a step's compute
  REQUIRE(alone > oracle_ns(a, m));
  CHECK(run(s, Mode::kEvent).makespan_ns == (kRing - 1) * alone + oracle_ns(a, m));
  s.profile.link_under_compute = {factor_sample(s, kChunk, 0.5)};
  const TimeNs beside = oracle_transfer_ns(0, bytes, 50e9);  // 167773 ns
  for (Mode mode : {Mode::kEvent, Mode::kAuto}) {  // auto must take the event engine
    CAPTURE(mode_name(mode));
    const PointResult r = run(s, mode);
    CHECK(r.mode == Mode::kEvent);
    CHECK(r.makespan_ns == (kRing - 1) * beside + oracle_ns(a, m));
  }
}

TEST_CASE("sim::transports: a link's transport caps every ring message, in every mode") {
  constexpr long long kChunk = 4096;
  const double a = std::ldexp(1.0, -16), m = std::ldexp(1.0, -20);
  auto t = std::make_shared<TransportProfile>();
  t->name = "test-40";
  t->bandwidth_bytes_per_s = 40e9;  // latency 0: the cap is the bandwidth
  Scenario s = uniform_ring(kChunk, a, m, LinkSpec{100e9, 0, t});
  const TimeNs capped = oracle_transfer_ns(0, kv_block_bytes(s, kChunk), 40e9);  // 209716 ns
  for (Mode mode : {Mode::kEvent, Mode::kRecurrence, Mode::kAuto}) {
    CAPTURE(mode_name(mode));
    CHECK(run(s, mode).makespan_ns == (kRing - 1) * capped + oracle_ns(a, m));
  }
}
