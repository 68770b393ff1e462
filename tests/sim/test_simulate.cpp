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
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Scenario s = test::random_scenario(rng, 64);
    s.causal = false;
    const long long ring = s.points[0].ring_size;
    s.gpus_per_node = static_cast<int>(ring);  // all GPUs in one node
    s.inter_node = LinkSpec{s.intra_node.bytes_per_s / 2, s.intra_node.latency_ns + 1000};  // stay on NVLink
    CAPTURE(ring);
    const TimeNs t_compute =
        ComputeModel(s.profile, s.shape)
            .block_cost(BlockShape{s.points[0].chunk_tokens(), s.points[0].chunk_tokens(), MaskKind::kFull, true})
            .time_ns;
    const TimeNs t_transfer =
        s.intra_node.latency_ns +
        transfer_time_ns(ring_transfer_bytes(s.shape, s.points[0].tokens, ring), s.intra_node.bytes_per_s);
    const TimeNs expected = (ring - 1) * std::max(t_compute, t_transfer) + t_compute;
    for (Mode mode : {Mode::kEvent, Mode::kRecurrence, Mode::kFolded, Mode::kAuto}) {
      const std::string mode_str = mode_name(mode);
      CAPTURE(mode_str);
      PointResult r = run(s, mode);
      CHECK(r.makespan_ns == expected);
      CHECK(r.slowest_device == 0);
      CHECK(r.slowest_compute_ns == ring * t_compute);
      CHECK(r.slowest_exposed_comm_ns == expected - ring * t_compute);
      CHECK(r.device_steps == static_cast<std::uint64_t>(ring * ring));
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
  RingCosts uniform{100, 100, 100, CostSource::kEstimated};
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
  RingCosts causal{50, 100, 0, CostSource::kEstimated};
  CHECK(fold_period(causal, tx(6, 8), 6) == 6);
}

TEST_CASE("sim::run_recurrence: times past 292 years throw TimeOverflow") {
  RingCosts huge{TimeNs{1} << 60, TimeNs{1} << 60, TimeNs{1} << 60, CostSource::kEstimated};
  std::vector<TimeNs> tx(16, 1);
  CHECK_THROWS_AS(run_recurrence(huge, tx, 16, 16, 1, {}), TimeOverflow);
  RingCosts fine{TimeNs{1} << 40, TimeNs{1} << 40, 0, CostSource::kEstimated};
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
  RingCosts costs{700, 1000, 0, CostSource::kEstimated};
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
