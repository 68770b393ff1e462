// sim: the exact fast paths against the event engine, widened to what the
// first sweep never drew (ranks sharing a GPU, transfers slowing compute,
// multi-node routes, every layout, a cached prefix, pass-q's tail), and the
// mode-choice fixes: a tight overflow bound, honest "folded" labels, ring
// routes that share a link, and reserved memory counted once per GPU.
#include <doctest/doctest.h>

#include <random>
#include <string>

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

void check_same(const PointResult& a, const PointResult& b) {
  CHECK(a.makespan_ns == b.makespan_ns);
  CHECK(a.finish_ns == b.finish_ns);
  CHECK(a.slowest_device == b.slowest_device);
  CHECK(a.slowest_compute_ns == b.slowest_compute_ns);
  CHECK(a.max_compute_ns == b.max_compute_ns);
  CHECK(a.mean_compute_ns == doctest::Approx(b.mean_compute_ns).epsilon(1e-12));
  CHECK(a.total_flops == doctest::Approx(b.total_flops).epsilon(1e-12));
  CHECK(a.memory.peak_bytes == doctest::Approx(b.memory.peak_bytes).epsilon(1e-12));
  CHECK(a.compute_source == b.compute_source);
}

// A random point of a schedule that lowers, with what the first sweep lacked.
struct Drawn {
  Scenario scenario;
  bool shared = false, interference = false;
};
Drawn draw(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](long long lo, long long hi) { return std::uniform_int_distribution<long long>(lo, hi)(rng); };
  Drawn d{test::random_scenario(rng, 24)};
  Scenario& s = d.scenario;
  s.schedule = pick(0, 1) ? "pass-q" : "pass-kv";
  if (s.causal) s.layout = static_cast<Layout>(pick(0, 2));
  const long long ring = s.points[0].ring_size;
  if (pick(0, 3) == 0) s.cached_tokens = ring * pick(1, 512);
  const long long rpg_choices[] = {1, 2, 4};
  const long long rpg = rpg_choices[pick(0, 2)];
  if (ring % rpg == 0 && rpg > 1 && pick(0, 1)) {
    s.ranks_per_gpu = static_cast<int>(rpg);
    s.profile.copy_bytes_per_s = static_cast<double>(pick(1, 3000)) * 1e9;
    s.profile.copy_latency_s = static_cast<double>(pick(0, 8000)) * 1e-9;
    d.shared = true;
  }
  if (pick(0, 2) == 0) {
    s.profile.link_compute_share = static_cast<double>(pick(5, 60)) / 100;
    s.profile.copy_compute_share = static_cast<double>(pick(0, 60)) / 100;
    d.interference = true;
  }
  return d;
}

}  // namespace

TEST_CASE("sim::modes: auto equals the event engine on random points of every kind") {
  int fast = 0, interfered = 0, shared = 0;
  for (std::uint64_t seed = 1; seed <= 240; ++seed) {
    CAPTURE(seed);
    const Drawn d = draw(seed);
    const Scenario& s = d.scenario;
    CAPTURE(s.schedule);
    CAPTURE(s.points[0].ring_size);
    CAPTURE(s.gpus_per_node);
    CAPTURE(s.ranks_per_gpu);
    CAPTURE(s.causal);
    CAPTURE(layout_name(s.layout));
    CAPTURE(s.cached_tokens);
    CAPTURE(d.interference);
    const PointResult event = run(s, Mode::kEvent);
    const PointResult automatic = run(s, Mode::kAuto);
    check_same(automatic, event);
    if (d.shared || d.interference) {
      CHECK(automatic.mode == Mode::kEvent);
      interfered += d.interference;
      shared += d.shared;
      continue;
    }
    ++fast;
    for (Mode mode : {Mode::kRecurrence, Mode::kFolded}) {
      const std::string mode_str = mode_name(mode);
      CAPTURE(mode_str);
      check_same(run(s, mode), event);
    }
  }
  CHECK(fast > 60);  // the draw covers each kind
  CHECK(interfered > 40);
  CHECK(shared > 20);
}

TEST_CASE("sim::modes: a point whose old overflow bound did not fit runs in auto, exactly") {
  // Four identical devices, 1.9e18 ns a block (60 years): the makespan
  // 4 x 1.9e18 = 7.6e18 fits in int64 (9.22e18); the old bound
  // (P + 1) (c + tx) = 9.5e18 did not, so auto refused what the engine runs.
  Scenario s = test::ring_scenario(4 * 2048, 4, false, Layout::kContiguous, 8);
  const long long c = 2048;
  const double block_flops = 4.0 * c * c * s.shape.head_dim * s.shape.q_heads;
  s.profile.flops_per_s[s.shape.dtype] = block_flops / 1.9e9;
  s.profile.launch_overhead_s = 0;
  const PointResult event = run(s, Mode::kEvent);
  CHECK(event.makespan_ns > 7'000'000'000'000'000'000LL);
  const PointResult automatic = run(s, Mode::kAuto);
  CHECK(automatic.mode != Mode::kEvent);  // the tight bound admits the fast path
  check_same(automatic, event);
  // Past int64 it still throws, in every mode.
  s.profile.flops_per_s[s.shape.dtype] = block_flops / 2.4e9;
  CHECK_THROWS_AS(run(s, Mode::kAuto), TimeOverflow);
  CHECK_THROWS_AS(run(s, Mode::kEvent), TimeOverflow);
}

TEST_CASE("sim::modes: --mode folded says recurrence when nothing folds") {
  Scenario s = test::ring_scenario(64 * 4096, 64, true, Layout::kContiguous, 8);  // causal: no period
  CHECK(run(s, Mode::kFolded).mode == Mode::kRecurrence);
  s.causal = false;
  CHECK(run(s, Mode::kFolded).mode == Mode::kFolded);
}

TEST_CASE("sim::ring_links: ranks of one GPU share its copy link, and the link is named") {
  ClusterSpec spec{1, 8, LinkSpec{450e9, 2000}, LinkSpec{50e9, 5000}, LinkSpec{1e12, 1000}};
  const Topology topo(spec);
  const RingLinks three = ring_links(topo, 3, 1e6, 3);  // 0->1 and 1->2 on GPU 0's copy link
  CHECK_FALSE(three.disjoint);
  CHECK(three.why == "link 4 carries both 0->1 and 1->2");
  ClusterSpec two_gpus = spec;
  two_gpus.gpus = 2;
  const RingLinks pairs = ring_links(Topology(two_gpus), 4, 1e6, 2);  // 0->1 copy, 1->2 NVLink, 2->3 copy, 3->0
  CHECK(pairs.disjoint);
  CHECK(pairs.tx_ns[0] == 1000 + 1000);  // copy link: 1 MB at 1 TB/s
  CHECK(pairs.tx_ns[1] == test::oracle_transfer_ns(2000, 1e6, 450e9));
}

TEST_CASE("sim::memory: ranks sharing a GPU add their buffers; the reserved memory counts once") {
  const long long c = 4096;
  Scenario s = test::ring_scenario(4 * c, 4, false, Layout::kContiguous, 8);
  s.ranks_per_gpu = 2;
  s.profile.copy_bytes_per_s = 2e12;
  // pass-kv buffers of one rank (8 heads, d 64, fp16), by hand.
  const double q = c * 8.0 * 64 * 2, rank = q + 3 * (2 * q) + c * 8.0 * 64 * 4 + c * 8.0 * 8 + c * 8.0 * 65 * 4;
  const double reserved = s.profile.reserved_memory_bytes;
  const PointResult r = run(s, Mode::kEvent);
  CHECK(r.memory.peak_bytes == doctest::Approx(reserved + 2 * rank).epsilon(1e-12));
  CHECK(r.memory.capacity_bytes == s.profile.memory_bytes);  // the whole GPU
  s.profile.memory_bytes = reserved + 1.5 * rank;
  const PointResult over = run(s, Mode::kEvent);
  CHECK_FALSE(over.memory.fits);
  CHECK(over.memory.reason.find("own_kv 2 x ") != std::string::npos);
  CHECK(over.memory.reason.find("reserved 1 GiB") != std::string::npos);
}

TEST_CASE("sim::schedules: the peak buffers a plan states are those its program's allocations reach") {
  for (const char* name : {"pass-kv", "pass-q", "all-gather", "ulysses", "usp", "double-ring"}) {
    for (long long ring : {1LL, 2LL, 4LL}) {
      CAPTURE(name);
      CAPTURE(ring);
      Scenario s = test::ring_scenario(1024 * ring, ring, false, Layout::kContiguous, 4);
      s.schedule = name;
      const auto planned = test::plan_point(s, s.points[0]);
      const auto stated = planned->plan->peak_counts();
      if (!stated) continue;
      const BufferTable& t = *planned->plan->program().buffer_table();
      DeviceMemory replay(&t, 0);
      ProgramCursor c;
      for (Op op = planned->plan->program().next(0, c); op.kind != Op::kDone; op = planned->plan->program().next(0, c)) {
        if (op.kind == Op::kAlloc) replay.alloc(op.buffer);
        if (op.kind == Op::kFree) replay.free(op.buffer);
      }
      CHECK(replay.peak_counts() == *stated);
    }
  }
}
