// sim::ring_walk (mode kWalk) against the recurrence and the event engine:
// every ring up to 2,048 devices, thousands of random rings, the candidate
// search against every family walk, closed forms at 244,140,625 devices,
// and overflow. The recurrence (sim/recurrence.cpp) is the oracle: it
// evaluates every device-step and shares no code with the walk search.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <random>
#include <string>

#include "models/flow_network.hpp"
#include "sim/recurrence.hpp"
#include "sim/ring_periodic.hpp"
#include "sim/ring_walk.hpp"
#include "sim/simulate.hpp"
#include "sim_fixtures.hpp"

using namespace ringsim;

namespace {

long long pick(std::mt19937_64& rng, long long lo, long long hi) {
  return std::uniform_int_distribution<long long>(lo, hi)(rng);
}

std::vector<TimeNs> full_links(const RingWalkInput& in) {
  std::vector<TimeNs> tx(static_cast<std::size_t>(in.ring_size));
  for (long long d = 0; d + 1 < in.ring_size; ++d) tx[d] = in.link_period_ns[d % in.link_period_ns.size()];
  tx[in.ring_size - 1] = in.wrap_ns;
  return tx;
}

RecurrenceResult recurrence(const RingWalkInput& in) {
  RingCosts costs;
  costs.diagonal_ns = in.diagonal_ns;
  costs.lower_ns = in.lower_ns;
  costs.upper_ns = in.upper_ns;
  return run_recurrence(costs, full_links(in), in.ring_size, in.ring_size, 1, {});
}

// Links as a topology gives them: g - 1 NVLink hops then one InfiniBand hop
// per node; the wrap crosses nodes unless the ring fits in one.
RingWalkInput node_ring(long long ring, long long g, TimeNs intra, TimeNs inter) {
  RingWalkInput in;
  in.ring_size = ring;
  for (long long i = 0; i < g; ++i) in.link_period_ns.push_back(i == g - 1 ? inter : intra);
  in.wrap_ns = ring > g ? inter : intra;
  return in;
}

// Six patterns: seed-like (InfiniBand-bound, contiguous), compute-bound,
// slow NVLink / fast InfiniBand, upper blocks dearer than lower (zigzag
// shapes), random periodic links, non-causal.
RingWalkInput pattern(long long ring, int kind, std::mt19937_64& rng) {
  const long long g = std::array<long long, 4>{1, 2, 4, 8}[pick(rng, 0, 3)];
  RingWalkInput in;
  switch (kind) {
    case 0: in = node_ring(ring, g, 20642, 172777); in.diagonal_ns = 70000; in.lower_ns = 134000; break;
    case 1: in = node_ring(ring, g, pick(rng, 1, 9000), pick(rng, 1, 9000)); in.diagonal_ns = pick(rng, 0, 12000);
            in.lower_ns = 10000; break;
    case 2: in = node_ring(ring, g, 150000, 30000); in.diagonal_ns = pick(rng, 0, 200000);
            in.lower_ns = pick(rng, 50000, 180000); in.upper_ns = pick(rng, 0, in.lower_ns); break;
    case 3: in = node_ring(ring, g, pick(rng, 50000, 70000), pick(rng, 40000, 80000)); in.diagonal_ns = 70000;
            in.lower_ns = 60000; in.upper_ns = 65000; break;
    case 4: in.ring_size = ring;
            for (long long i = 0; i < g; ++i) in.link_period_ns.push_back(pick(rng, 0, 1000));
            in.wrap_ns = pick(rng, 0, 1000); in.diagonal_ns = pick(rng, 0, 1000); in.lower_ns = pick(rng, 0, 1000);
            in.upper_ns = pick(rng, 0, 1000); break;
    default: in = node_ring(ring, g, pick(rng, 0, 1000), pick(rng, 0, 1000));
             in.diagonal_ns = in.lower_ns = in.upper_ns = pick(rng, 0, 1000); break;
  }
  return in;
}

void check_against_recurrence(const RingWalkInput& in) {
  const RecurrenceResult ref = recurrence(in);
  const RingWalkResult walk = ring_walk(in);
  CHECK(walk.makespan_ns == ref.makespan_ns);
  REQUIRE(walk.last_device >= 0);
  REQUIRE(walk.last_device < in.ring_size);
  CHECK(ref.finish_ns[walk.last_device] == ref.makespan_ns);  // the device it names does finish last
}

}  // namespace

TEST_CASE("sim::ring_walk: equals the recurrence on every ring up to 2,048 devices") {
  std::mt19937_64 rng(2048);
  for (long long ring = 1; ring <= 2048; ++ring) {
    const int kind = static_cast<int>(ring % 6);
    CAPTURE(ring);
    CAPTURE(kind);
    check_against_recurrence(pattern(ring, kind, rng));
  }
}

TEST_CASE("sim::ring_walk: equals the recurrence on every 7th ring from 2,049 to 4,096 devices") {
  std::mt19937_64 rng(4096);
  for (long long ring = 2049; ring <= 4096; ring += 7) {
    const int kind = static_cast<int>(ring % 6);
    CAPTURE(ring);
    CAPTURE(kind);
    check_against_recurrence(pattern(ring, kind, rng));
  }
}

TEST_CASE("sim::ring_walk: equals the recurrence on random rings, links and costs") {
  for (std::uint64_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937_64 rng(seed);
    const long long ring = seed % 10 == 0 ? pick(rng, 400, 3000) : pick(rng, 1, 300);
    CAPTURE(seed);
    CAPTURE(ring);
    check_against_recurrence(pattern(ring, static_cast<int>(pick(rng, 0, 5)), rng));
  }
}

TEST_CASE("sim::ring_walk: the candidate search finds the best of every family walk") {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    const RingWalkInput in = pattern(pick(rng, 200, 900), static_cast<int>(seed % 6), rng);
    CAPTURE(seed);
    CAPTURE(in.ring_size);
    const RingWalkResult all = ring_walk_all_forms(in), fast = ring_walk(in);
    CHECK(fast.makespan_ns == all.makespan_ns);
    CHECK(fast.walks < all.walks);
  }
}

TEST_CASE("sim::ring_walk: 244,140,625 devices follow the closed forms") {
  const long long ring = 244'140'625;  // the seed's trillion-token ring: last node holds 1 GPU
  SUBCASE("transfers dominate: every step at the InfiniBand time, the last block on device P-1") {
    RingWalkInput in = node_ring(ring, 8, 20642, 172777);
    in.diagonal_ns = 70000;
    in.lower_ns = 134000;
    const RingWalkResult w = ring_walk(in);
    CHECK(w.makespan_ns == (ring - 1) * 172777LL + 134000);
    CHECK(w.bound_tight);
    CHECK(w.walks < 200000);
  }
  SUBCASE("compute dominates: device P-1 computes every block, its diagonal first") {
    RingWalkInput in = node_ring(ring, 8, 2000, 9000);
    in.diagonal_ns = 15000;  // above every link: step 0 weighs the same everywhere
    in.lower_ns = 30000;
    const RingWalkResult w = ring_walk(in);
    CHECK(w.makespan_ns == 15000 + (ring - 1) * 30000LL);
    CHECK(w.last_device == ring - 1);
  }
  SUBCASE("non-causal, every hop alike: (P-1) max(c, tx) + c") {
    RingWalkInput in = node_ring(ring, 1, 5000, 5000);
    in.diagonal_ns = in.lower_ns = in.upper_ns = 7000;
    CHECK(ring_walk(in).makespan_ns == (ring - 1) * 7000LL + 7000);
  }
}

TEST_CASE("sim::ring_walk: a makespan past 292 years is an error, not a wrapped time") {
  RingWalkInput in = node_ring(2'000'000'000, 8, 1000, 5'000'000'000LL);  // 5 s per InfiniBand hop
  in.lower_ns = 1000;
  CHECK_THROWS_AS(ring_walk(in), TimeOverflow);
  in.link_period_ns.back() = in.wrap_ns = 4'000'000'000LL;  // 2e9 * 4 s = 254 years: fits
  CHECK(ring_walk(in).makespan_ns == 1'999'999'999LL * 4'000'000'000LL + 1000);
  in.link_period_ns.clear();
  CHECK_THROWS_AS(ring_walk(in), std::invalid_argument);
}

TEST_CASE("sim::ring_link_classes: a small cluster gives the full ring's link times") {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    std::mt19937_64 rng(seed);
    Scenario s = test::random_scenario(rng, 8);
    s.gpus_per_node = static_cast<int>(pick(rng, 1, 12));
    const long long ring = pick(rng, 3 * s.gpus_per_node + 1, 3000);
    const ClusterSpec spec = cluster_for(s, Point{ring, ring});
    CAPTURE(seed);
    CAPTURE(ring);
    const RingLinkPeriod full = ring_link_period(spec, ring, 8e6), small = ring_link_classes(spec, ring, 8e6);
    CHECK(small.period_ns == full.period_ns);
    CHECK(small.wrap_ns == full.wrap_ns);
    CHECK(small.disjoint);
  }
}

TEST_CASE("sim::simulate_point: mode walk matches the event engine and the recurrence") {
  auto run = [](const Scenario& s, Mode mode) {
    SimOptions o;
    o.mode = mode;
    o.keep_finish_times = mode != Mode::kWalk;
    return simulate_point(s, s.points[0], o);
  };
  for (std::uint64_t seed = 500; seed < 620; ++seed) {
    std::mt19937_64 rng(seed);
    const bool event = seed < 560;  // the event engine on small rings, the recurrence on larger ones
    const Scenario s = test::random_scenario(rng, event ? 40 : 700);
    CAPTURE(seed);
    CAPTURE(s.points[0].ring_size);
    const PointResult ref = run(s, event ? Mode::kEvent : Mode::kRecurrence), walk = run(s, Mode::kWalk);
    CHECK(walk.mode == Mode::kWalk);
    CHECK(walk.makespan_ns == ref.makespan_ns);
    CHECK(ref.finish_ns[walk.slowest_device] == ref.makespan_ns);
    CHECK(walk.memory.peak_bytes == ref.memory.peak_bytes);
  }
}

TEST_CASE("sim::simulate_point: mode walk matches the event engine on every ring up to 64 devices") {
  for (long long ring = 1; ring <= 64; ++ring) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(ring));
    Scenario s = test::random_scenario(rng, 1);
    const long long parts = s.causal && s.layout == Layout::kZigzag ? 2 * ring : ring;
    s.points[0] = Point{parts * (1 + rng() % 2048), ring};
    CAPTURE(ring);
    CAPTURE(s.gpus_per_node);
    SimOptions event, walk;
    event.mode = Mode::kEvent;
    event.keep_finish_times = true;
    walk.mode = Mode::kWalk;
    const PointResult ref = simulate_point(s, s.points[0], event), r = simulate_point(s, s.points[0], walk);
    CHECK(r.makespan_ns == ref.makespan_ns);
    CHECK(ref.finish_ns[r.slowest_device] == ref.makespan_ns);
    if (r.slowest_device == ref.slowest_device) CHECK(r.slowest_compute_ns == ref.slowest_compute_ns);
  }
}

TEST_CASE("sim::simulate_point: the trillion-token ring runs in mode walk, other modes refuse it") {
  Scenario s = test::ring_scenario(1'000'000'000'000LL, 244'140'625, true, Layout::kContiguous, 8);
  const PointResult r = simulate_point(s, s.points[0], SimOptions{});
  CHECK(r.mode == Mode::kWalk);
  CHECK_FALSE(r.slowest_is_lowest_index);
  // 8 MiB per hop: InfiniBand (5 us + 8 MiB at 50 GB/s) outlasts a datasheet block.
  const TimeNs inter = 5000 + transfer_time_ns(test::kv_block_bytes(s, s.points[0].tokens / 244'140'625), 50e9);
  CHECK(r.makespan_ns >= (244'140'625LL - 1) * inter);
  for (Mode mode : {Mode::kEvent, Mode::kRecurrence, Mode::kFolded}) {
    SimOptions o;
    o.mode = mode;
    CHECK_THROWS_AS(simulate_point(s, s.points[0], o), std::invalid_argument);
  }
}

TEST_CASE("sim::simulate_point: mode walk and rings above 262,144 devices run pass-kv only; others name their key") {
  // Every registered schedule on a small ring: pass-kv's walk equals the
  // event engine, every other schedule is refused at attention.schedule
  // (each leaves a tail or has no ring to lower).
  for (const ScheduleInfo* info : registered_schedules()) {
    CAPTURE(info->name);
    Scenario s = test::ring_scenario(8 * 4096, 8, true, Layout::kContiguous, 4);
    s.schedule = info->name;
    SimOptions walk, event;
    walk.mode = Mode::kWalk;
    event.mode = Mode::kEvent;
    if (info->name == "pass-kv") {
      CHECK_NOTHROW(check_mode(s, Mode::kWalk));
      const PointResult r = simulate_point(s, s.points[0], walk);
      CHECK(r.mode == Mode::kWalk);
      CHECK(r.makespan_ns == simulate_point(s, s.points[0], event).makespan_ns);
      continue;
    }
    REQUIRE_NOTHROW(simulate_point(s, s.points[0], event));  // the point itself runs
    for (const auto& attempt : {std::function<void()>([&] { simulate_point(s, s.points[0], walk); }),
                                std::function<void()>([&] { check_mode(s, Mode::kWalk); })}) {
      try {
        attempt();
        FAIL("mode walk ran schedule " << info->name);
      } catch (const InputError& e) {
        CHECK(e.key == "attention.schedule");
        CHECK(std::string(e.what()).find("mode walk") != std::string::npos);
      }
    }
    // Above kMaxFullRing every mode refuses before planning (a program of
    // 2^19 devices would be built otherwise).
    Scenario huge = test::ring_scenario(4096LL << 19, 1LL << 19, false, Layout::kContiguous, 8);
    huge.schedule = info->name;
    CHECK_THROWS_AS(check_schedules(huge), InputError);
    CHECK_THROWS_AS(simulate_point(huge, huge.points[0], SimOptions{}), InputError);
  }
}

TEST_CASE("sim::simulate_point: pass-kv with packed documents has no periodic path, named at sequence.documents") {
  Scenario s = test::ring_scenario(8 * 4096, 8, false, Layout::kContiguous, 4);
  s.documents.lengths = {4 * 4096, 4 * 4096};
  SimOptions walk;
  walk.mode = Mode::kWalk;
  try {
    simulate_point(s, s.points[0], walk);
    FAIL("mode walk ran packed documents");
  } catch (const InputError& e) {
    CHECK(e.key == "sequence.documents");
  }
  SimOptions event;
  event.mode = Mode::kEvent;
  CHECK_NOTHROW(simulate_point(s, s.points[0], event));
}

TEST_CASE("sim::simulate_point: the periodic path states compute, flops and memory in closed form") {
  // A ring of 2^20 + 8 devices (above kMaxFullRing), causal contiguous: the
  // walk's figures against hand sums over the plan's three block classes.
  const long long ring = (1LL << 20) + 8, c = 4096;
  Scenario s = test::ring_scenario(c * ring, ring, true, Layout::kContiguous, 8);
  test::set_block_seconds(s, c, c, MaskKind::kCausalDiagonal, 0x1p-15);
  test::set_block_seconds(s, c, c, MaskKind::kFull, 0x1p-14);
  test::set_merge_seconds(s, c, 0x1p-18);
  const PointResult r = simulate_point(s, s.points[0], SimOptions{});
  CHECK(r.mode == Mode::kWalk);
  const TimeNs diagonal = test::oracle_ns(0x1p-15), lower = test::oracle_ns(0x1p-14, 0x1p-18);
  CHECK(r.max_compute_ns == diagonal + (ring - 1) * lower);  // the last device: every block below it
  CHECK(r.mean_compute_ns == doctest::Approx(static_cast<double>(diagonal) + (ring - 1) * lower / 2.0));
  const double block_flops = 4.0 * c * c * s.shape.head_dim * s.shape.q_heads;
  CHECK(r.total_flops == doctest::Approx(ring * block_flops / 2 + ring * (ring - 1) / 2.0 * block_flops));
  // q, own K/V, fp32 accumulator, stats, workspace, two received K/V, reserve.
  const double q = c * 8.0 * 64 * 2, kv = test::kv_block_bytes(s, c);
  const double acc = c * 8.0 * 64 * 4, stats = c * 8.0 * 8, workspace = c * 8.0 * 65 * 4;
  CHECK(r.memory.peak_bytes == doctest::Approx(q + 3 * kv + acc + stats + workspace + s.profile.reserved_memory_bytes));
  CHECK(r.compute_source == CostSource::kCalibrated);
}
