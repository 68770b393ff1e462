// sim::simulate_point: the closed form, and the three modes agreeing to the
// nanosecond on random scenarios.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <string>

#include "models/flow_network.hpp"
#include "sim/recurrence.hpp"
#include "sim/simulate.hpp"
#include "sim_fixtures.hpp"

using namespace ringsim;

namespace {
PointResult run(const Scenario& s, Mode mode) {
  SimOptions o;
  o.mode = mode;
  o.keep_finish_times = true;
  o.threads = 2;
  return simulate_point(s, s.points[0], o);
}
}  // namespace

TEST_CASE("sim::simulate_point: identical devices in one node follow the closed form") {
  // Block times are set by hand through profile samples (attention 2^-a s,
  // merge 2^-b s, exact in binary), transfers computed by hand: the oracle
  // shares nothing with the compute or network model. A device's first
  // block writes the accumulator (no merge): c0; the others merge: c.
  //   T = max(c0, x) + (P - 2) max(c, x) + c     (P >= 2),   T = c0 (P = 1)
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Scenario s = test::random_scenario(rng, 64);
    s.causal = false;
    const long long ring = s.points[0].ring_size, c = s.points[0].chunk_tokens();
    s.gpus_per_node = static_cast<int>(ring);  // all GPUs in one node
    s.inter_node = LinkSpec{s.intra_node.bytes_per_s / 2, s.intra_node.latency_ns + 1000};  // stay on NVLink
    const double attention_s = std::ldexp(1.0, -static_cast<int>(8 + seed % 10));
    const double merge_s = std::ldexp(1.0, -static_cast<int>(12 + seed % 6));
    test::set_block_seconds(s, c, c, MaskKind::kFull, attention_s);
    test::set_merge_seconds(s, c, merge_s);
    CAPTURE(ring);
    const TimeNs c0 = test::oracle_ns(attention_s), c1 = test::oracle_ns(attention_s, merge_s);
    const TimeNs x = test::oracle_transfer_ns(s.intra_node.latency_ns, test::kv_block_bytes(s, c), s.intra_node.bytes_per_s);
    const TimeNs expected = ring == 1 ? c0 : std::max(c0, x) + (ring - 2) * std::max(c1, x) + c1;
    const TimeNs compute = c0 + (ring - 1) * c1;
    for (Mode mode : {Mode::kEvent, Mode::kRecurrence, Mode::kFolded, Mode::kAuto}) {
      const std::string mode_str = mode_name(mode);
      CAPTURE(mode_str);
      PointResult r = run(s, mode);
      CHECK(r.makespan_ns == expected);
      CHECK(r.slowest_device == 0);
      CHECK(r.slowest_compute_ns == compute);
      CHECK(r.max_compute_ns == compute);
      CHECK(r.mean_compute_ns == doctest::Approx(static_cast<double>(compute)));
      CHECK(r.slowest_exposed_comm_ns == expected - compute);
      CHECK(r.device_steps == static_cast<std::uint64_t>(ring * ring));
      CHECK(r.compute_source == CostSource::kCalibrated);
      CHECK(r.total_flops == doctest::Approx(4.0 * ring * ring * c * c * s.shape.head_dim * s.shape.q_heads));
    }
  }
}

TEST_CASE("sim::simulate_point: event, recurrence and folded agree to the nanosecond") {
  for (std::uint64_t seed = 100; seed < 400; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Scenario s = test::random_scenario(rng, 48);
    CAPTURE(s.points[0].ring_size);
    CAPTURE(s.gpus_per_node);
    CAPTURE(s.causal);
    CAPTURE(layout_name(s.layout));
    PointResult ev = run(s, Mode::kEvent);
    CHECK(ev.mode == Mode::kEvent);
    for (Mode mode : {Mode::kRecurrence, Mode::kFolded, Mode::kAuto}) {
      const std::string mode_str = mode_name(mode);
      CAPTURE(mode_str);
      PointResult r = run(s, mode);
      CHECK(r.makespan_ns == ev.makespan_ns);
      CHECK(r.finish_ns == ev.finish_ns);
      CHECK(r.slowest_device == ev.slowest_device);
      CHECK(r.slowest_compute_ns == ev.slowest_compute_ns);
      CHECK(r.memory.peak_bytes == ev.memory.peak_bytes);
      CHECK(r.compute_source == ev.compute_source);
    }
  }
}

TEST_CASE("sim::simulate_point: auto folds non-causal rings and not causal ones") {
  Scenario s = test::ring_scenario(64 * 4096, 64, false, Layout::kContiguous, 8);
  CHECK(run(s, Mode::kAuto).mode == Mode::kFolded);
  s.causal = true;
  CHECK(run(s, Mode::kAuto).mode == Mode::kRecurrence);
  s.layout = Layout::kZigzag;
  CHECK(run(s, Mode::kAuto).mode == Mode::kRecurrence);
}

TEST_CASE("sim::fold_period: periods follow the nodes") {
  RingCosts uniform{100, 100, 100, CostSource::kEstimated, {}, {}, {}};
  auto tx = [](long long ring, int gpn) {
    std::vector<TimeNs> v(ring, 10);
    for (long long d = 0; d < ring; ++d) {
      if (d / gpn != ((d + 1) % ring) / gpn) v[d] = 99;  // crosses a node boundary
    }
    return v;
  };
  CHECK(fold_period(uniform, tx(64, 8), 64) == 8);
  CHECK(fold_period(uniform, tx(6, 8), 6) == 1);   // one node: homogeneous
  CHECK(fold_period(uniform, tx(12, 8), 12) == 12);  // partial last node: none
  RingCosts causal{50, 100, 0, CostSource::kEstimated, {}, {}, {}};
  CHECK(fold_period(causal, tx(6, 8), 6) == 6);
}

TEST_CASE("sim::run_recurrence: times past 292 years throw TimeOverflow") {
  RingCosts huge{TimeNs{1} << 60, TimeNs{1} << 60, TimeNs{1} << 60, CostSource::kEstimated, {}, {}, {}};
  std::vector<TimeNs> tx(16, 1);
  CHECK_THROWS_AS(run_recurrence(huge, tx, 16, 16, 1, {}), TimeOverflow);
  RingCosts fine{TimeNs{1} << 40, TimeNs{1} << 40, 0, CostSource::kEstimated, {}, {}, {}};
  CHECK_NOTHROW(run_recurrence(fine, tx, 16, 16, 1, {}));
}

TEST_CASE("sim::simulate_point: a ring that does not divide the tokens is rejected") {
  Scenario s = test::ring_scenario(1000, 3, false, Layout::kContiguous, 8);
  CHECK_THROWS_AS(simulate_point(s, s.points[0], SimOptions{}), std::invalid_argument);
  Scenario z = test::ring_scenario(6, 3, true, Layout::kZigzag, 8);  // needs 2P chunks
  z.points[0].tokens = 9;
  CHECK_THROWS_AS(simulate_point(z, z.points[0], SimOptions{}), std::invalid_argument);
}

TEST_CASE("sim::run_recurrence: threads give the same finish times as one thread") {
  const long long ring = 40000;  // above the per-thread minimum: 2 threads really run
  RingCosts costs{700, 1000, 0, CostSource::kEstimated, {}, {}, {}};
  std::mt19937_64 rng(7);
  std::vector<TimeNs> tx(ring);
  for (auto& t : tx) t = 500 + static_cast<TimeNs>(rng() % 1000);
  const long long steps = ring;
  std::uint64_t calls = 0;
  RecurrenceResult one = run_recurrence(costs, tx, ring, steps, 1, {});
  RecurrenceResult two = run_recurrence(costs, tx, ring, steps, 2, [&](std::uint64_t, std::uint64_t) { ++calls; });
  CHECK(two.threads == 2);
  CHECK(one.finish_ns == two.finish_ns);
  CHECK(calls > 100);
}
