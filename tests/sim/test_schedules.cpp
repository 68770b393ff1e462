// sim/schedules: properties every schedule shares, checked over the registry
// (SimGrid-style plug-ins: a new schedule is tested by registering it):
// identical total FLOPs, closed forms where nothing contends (hand-set block
// times, hand-computed transfers), all schedules within 3% on a roofline
// device with an ideal network, and the buffer tables sized by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sim/simulate.hpp"
#include "sim_fixtures.hpp"

using namespace ringsim;

namespace {

const std::vector<std::string> kSchedules = {"all-gather", "double-ring", "pass-kv", "pass-q", "ulysses", "usp"};

PointResult run(const Scenario& s, Mode mode = Mode::kEvent) {
  SimOptions o;
  o.mode = mode;
  o.keep_finish_times = true;
  o.threads = 1;
  return simulate_point(s, s.points[0], o);
}

// The scenario with `schedule` (ulysses: contiguous layout, which it requires).
Scenario with(Scenario s, const std::string& schedule) {
  s.schedule = schedule;
  if (schedule == "ulysses") s.layout = Layout::kContiguous;
  return s;
}

// One node of P GPUs, both links fast and alike: routes stay on NVLink.
Scenario one_node(long long chunk, long long ring, bool causal, Layout layout) {
  Scenario s = test::ring_scenario(chunk * ring, ring, causal, layout, static_cast<int>(ring));
  s.inter_node = LinkSpec{s.intra_node.bytes_per_s / 2, s.intra_node.latency_ns + 1000};
  return s;
}

}  // namespace

TEST_CASE("sim::schedules: every schedule is registered, with a description") {
  std::vector<std::string> names;
  for (const ScheduleInfo* info : registered_schedules()) {
    names.push_back(info->name);
    CHECK_FALSE(info->description.empty());
    CHECK(find_schedule(info->name) == info);
  }
  CHECK(names == kSchedules);  // sorted by name
  CHECK(find_schedule("pass-kv2") == nullptr);
}

TEST_CASE("sim::schedules: total FLOPs are the same for every schedule and match 4 T (T + C) d h") {
  // Causal: the diagonal blocks count half, so the total is 2 T^2 d h + 4 T C d h.
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    const long long ring = 1LL << (seed % 4), chunk = 256LL << (seed % 3);
    const bool causal = seed % 2 == 0;
    const Layout layouts[] = {Layout::kContiguous, Layout::kZigzag, Layout::kStriped};
    Scenario base = test::ring_scenario(chunk * ring, ring, causal, layouts[seed % 3], 4);
    base.shape = AttentionShape{16, 4, 64, DType::kBf16};
    const double t = static_cast<double>(chunk * ring), dh = 64.0 * 16;
    for (const std::string& name : kSchedules) {
      CAPTURE(name);
      const double expected = (causal ? 2.0 : 4.0) * t * t * dh;
      for (Mode mode : {Mode::kEvent, Mode::kAuto}) {
        CHECK(run(with(base, name), mode).total_flops == doctest::Approx(expected).epsilon(1e-12));
      }
    }
    // A cached prefix, on the schedules that hold one.
    base.cached_tokens = 128 * ring;
    for (const std::string& name : {"pass-kv", "pass-q", "all-gather", "double-ring"}) {
      CAPTURE(name);
      const double c = static_cast<double>(base.cached_tokens);
      const double expected = (causal ? 2.0 : 4.0) * t * t * dh + 4.0 * t * c * dh;
      CHECK(run(with(base, name)).total_flops == doctest::Approx(expected).epsilon(1e-12));
    }
  }
}

TEST_CASE("sim::schedules: packed documents give every schedule the document mask's exact pair count") {
  // Oracle: causal pairs inside documents, n (n + 1) / 2 each, times 4 d h.
  Scenario base = test::ring_scenario(4096, 4, true, Layout::kZigzag, 4);
  base.shape = AttentionShape{8, 8, 64, DType::kFp16};
  base.documents.lengths = {1000, 24, 2048, 1, 1023};
  double pairs = 0;
  for (long long n : base.documents.lengths) pairs += static_cast<double>(n) * (n + 1) / 2;
  for (const std::string& name : kSchedules) {
    CAPTURE(name);
    const PointResult r = run(with(base, name));
    CHECK(r.total_flops == doctest::Approx(4.0 * pairs * 64 * 8).epsilon(1e-12));
  }
}

TEST_CASE("sim::schedules: pass-q without contention follows its closed form") {
  // P = 2, non-causal, block times by hand: a = attention (no merge: the own
  // block writes the accumulator, the other a partial), m = one merge.
  //   T = max(a, x_q) + a + x_partial + m
  Scenario s = one_node(4096, 2, false, Layout::kContiguous);
  s.schedule = "pass-q";
  test::set_block_seconds(s, 4096, 4096, MaskKind::kFull, 0x1p-11);
  test::set_merge_seconds(s, 4096, 0x1p-15);
  const TimeNs a = test::oracle_ns(0x1p-11), m = test::oracle_ns(0x1p-11, 0x1p-15) - a;
  const double q_bytes = 4096.0 * 8 * 64 * 2, partial = 4096.0 * 8 * (64 * 2 + 4);
  const TimeNs xq = test::oracle_transfer_ns(2000, q_bytes, 450e9), xp = test::oracle_transfer_ns(2000, partial, 450e9);
  for (Mode mode : {Mode::kEvent, Mode::kRecurrence, Mode::kAuto}) {
    CAPTURE(mode_name(mode));
    const PointResult r = run(s, mode);
    CHECK(r.makespan_ns == std::max(a, xq) + a + xp + m);
    CHECK(r.max_compute_ns == 2 * a + m);
  }
}

TEST_CASE("sim::schedules: all-gather is the gather's P-1 ring steps, then the local attention") {
  for (long long ring : {1LL, 2LL, 3LL, 5LL}) {
    CAPTURE(ring);
    const long long c = 2048;
    Scenario s = one_node(c, ring, false, Layout::kContiguous);
    s.schedule = "all-gather";
    test::set_block_seconds(s, c, c * ring, MaskKind::kFull, 0x1p-10);  // q = chunk against the whole sequence
    const TimeNs x = test::oracle_transfer_ns(2000, test::kv_block_bytes(s, c), 450e9);
    const PointResult r = run(s);
    CHECK(r.makespan_ns == (ring - 1) * x + test::oracle_ns(0x1p-10));
    CHECK(r.slowest_exposed_comm_ns == (ring - 1) * x);
  }
}

TEST_CASE("sim::schedules: ulysses is two all-to-alls and one attention over the whole sequence") {
  // One node; every device posts its sends to the P-1 others at once (q and
  // K/V as two messages each), so each port carries them at equal shares.
  for (long long ring : {2LL, 4LL, 8LL}) {
    CAPTURE(ring);
    const long long c = 1024, t = c * ring;
    Scenario s = one_node(c, ring, false, Layout::kContiguous);
    s.schedule = "ulysses";
    s.shape = AttentionShape{8, 2, 64, DType::kBf16};
    const int heads = static_cast<int>(8 / ring), kv_heads = ring <= 2 ? static_cast<int>(2 / ring) : 1;  // replicated
    test::set_block_seconds(s, t, t, MaskKind::kFull, 0x1p-9, heads, kv_heads);
    const double rows = static_cast<double>(c);
    const double out_bytes = rows * heads * 64 * 2;
    const double q_in = rows * heads * 64 * 2, kv_in = 2 * rows * kv_heads * 64 * 2;
    const TimeNs x_in = test::all_to_all_ns(ring, {q_in, kv_in}, 450e9, 2000), x_out = test::all_to_all_ns(ring, {out_bytes}, 450e9, 2000);
    const PointResult r = run(s);
    CHECK(r.makespan_ns == x_in + test::oracle_ns(0x1p-9) + x_out);
    CHECK(r.schedule_detail == fmt::format("degree {}", ring));
  }
}

TEST_CASE("sim::schedules: usp inside one node is an all-to-all, a pass-kv ring over the groups, an all-to-all") {
  const long long c = 1024, ring = 8, u = 2, r_deg = ring / u, part = c * u;
  Scenario s = one_node(c, ring, false, Layout::kContiguous);
  s.schedule = "usp";
  s.ulysses_degree = u;
  s.shape = AttentionShape{8, 8, 64, DType::kBf16};
  const int heads = 4;
  test::set_block_seconds(s, part, part, MaskKind::kFull, 0x1p-11, heads, heads);
  test::set_merge_seconds(s, part, 0x1p-15, heads);
  const TimeNs c0 = test::oracle_ns(0x1p-11), c1 = test::oracle_ns(0x1p-11, 0x1p-15);
  const double rows = static_cast<double>(c);
  const TimeNs x_in = test::all_to_all_ns(2, {rows * heads * 128, 2 * rows * heads * 128}, 450e9, 2000);  // one peer
  const TimeNs x_out = test::oracle_transfer_ns(2000, rows * heads * 128, 450e9);
  const TimeNs x = test::oracle_transfer_ns(2000, 2.0 * part * heads * 128, 450e9);
  const TimeNs ring_ns = std::max(c0, x) + (r_deg - 2) * std::max(c1, x) + c1;
  CHECK(run(s).makespan_ns == x_in + ring_ns + x_out);
  CHECK(run(s).schedule_detail == "ulysses 2 x ring 4");
}

TEST_CASE("sim::schedules: double-ring steps take the longest of compute, inner hop and outer piece") {
  // Two nodes of I = 4; all devices alike, so every step starts together.
  const long long c = 2048, inner = 4, outer = 2, ring = inner * outer;
  Scenario s = test::ring_scenario(c * ring, ring, false, Layout::kContiguous, static_cast<int>(inner));
  s.schedule = "double-ring";
  test::set_block_seconds(s, c, c, MaskKind::kFull, 0x1p-14);
  test::set_merge_seconds(s, c, 0x1p-18);
  const TimeNs c0 = test::oracle_ns(0x1p-14), c1 = test::oracle_ns(0x1p-14, 0x1p-18);
  const double bytes = test::kv_block_bytes(s, c);
  const TimeNs x_in = test::oracle_transfer_ns(s.intra_node.latency_ns, bytes, s.intra_node.bytes_per_s);
  const TimeNs x_out = test::oracle_transfer_ns(s.inter_node.latency_ns, bytes / inner, s.inter_node.bytes_per_s);
  TimeNs expected = 0;
  for (long long step = 0; step < ring; ++step) {
    const long long k = step / inner, j = step % inner;
    TimeNs t = step == 0 ? c0 : c1;
    if (j < inner - 1) t = std::max(t, x_in);
    if (k < outer - 1) t = std::max(t, x_out);
    expected += t;
  }
  CHECK(run(s).makespan_ns == expected);
  CHECK(run(s).schedule_detail == "inner 4 x outer 2");
}

TEST_CASE("sim::schedules: on a roofline device with an ideal network every schedule is within 3%") {
  // Large blocks (compute-bound: the merges cost ~1% of a 128K-token block),
  // bandwidth 1e18 B/s and no latency: only compute remains, the same FLOPs.
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    Scenario base = test::ring_scenario(4 * 131072, 4, causal, Layout::kZigzag, 4);
    base.shape = AttentionShape{8, 8, 128, DType::kBf16};
    base.intra_node = base.inter_node = LinkSpec{1e18, 0};
    std::map<std::string, double> seconds;
    for (const std::string& name : kSchedules) seconds[name] = to_seconds(run(with(base, name), Mode::kAuto).makespan_ns);
    const auto [lo, hi] = std::minmax_element(seconds.begin(), seconds.end(),
                                              [](const auto& a, const auto& b) { return a.second < b.second; });
    CAPTURE(lo->first);
    CAPTURE(hi->first);
    CHECK(hi->second / lo->second < 1.03);
  }
}

TEST_CASE("sim::schedules: each schedule's buffers, sized by hand") {
  // 2 devices, chunk c = 1024, 8 q / 2 kv heads, d 64, bf16: a q row is
  // 8 x 64 x 2 = 1 KiB, a K/V row 2 x 2 x 64 x 2 = 512 B.
  const double c = 1024, kib = 1024;
  Scenario s = test::ring_scenario(2048, 2, true, Layout::kZigzag, 8);
  s.shape = AttentionShape{8, 2, 64, DType::kBf16};
  const double q = c * kib, kv = c * 512, acc = c * 8 * 64 * 4, stats = c * 8 * 8, ws = c * 8 * 65 * 4;
  const double partial = c * 8 * (64 * 2 + 4);
  const std::map<std::string, std::vector<std::pair<std::string, double>>> tables = {
      {"pass-kv", {{"q_chunk", q}, {"own_kv", kv}, {"out_acc", acc}, {"softmax_stats", stats}, {"workspace", ws},
                   {"recv_kv0", kv}, {"recv_kv1", kv}}},
      {"pass-q", {{"q_chunk", q}, {"own_kv", kv}, {"out_acc", acc}, {"softmax_stats", stats}, {"partials", partial},
                  {"recv_q0", q}, {"recv_q1", q}, {"recv_partials", partial}}},
      {"all-gather", {{"q_chunk", q}, {"gathered_kv", 2 * kv}, {"out_acc", acc}, {"softmax_stats", stats},
                      {"workspace", ws}}},
      {"double-ring", {{"q_chunk", q}, {"own_kv", kv}, {"out_acc", acc}, {"softmax_stats", stats}, {"workspace", ws},
                       {"inner_kv0", kv}, {"inner_kv1", kv}}},
      // Ulysses over 2: each device computes 4 q heads and 1 kv head over all 2048 tokens.
      {"ulysses", {{"q_chunk", q}, {"kv_chunk", kv}, {"q_heads", 2048 * 4 * 128.0}, {"kv_heads", 2048 * 256.0},
                   {"out_acc", 2048 * 4 * 256.0}, {"softmax_stats", 2048 * 4 * 8.0}, {"workspace", 2048 * 4 * 65 * 4.0},
                   {"out_heads", 2048 * 4 * 128.0}, {"out_chunk", q}}},
  };
  for (const auto& [name, want] : tables) {
    CAPTURE(name);
    const auto planned = test::plan_point(with(s, name), s.points[0]);
    const BufferTable& t = *planned->plan->program().buffer_table();
    REQUIRE(t.size() == static_cast<BufferId>(want.size()));
    double total = s.profile.reserved_memory_bytes;
    for (BufferId i = 0; i < t.size(); ++i) {
      CHECK(t.name(i) == want[i].first);
      CHECK(t.bytes(i) == want[i].second);
      total += want[i].second;
    }
    CHECK(run(with(s, name)).memory.peak_bytes == doctest::Approx(total));  // every buffer lives at once
  }
}

TEST_CASE("sim::schedules: a block beyond the profile's calibrated grid makes its row estimated") {
  Scenario s = one_node(1024, 2, false, Layout::kContiguous);  // 8 q heads
  test::set_block_seconds(s, 1024, 1024, MaskKind::kFull, 0x1p-12);
  test::set_block_seconds(s, 2048, 2048, MaskKind::kFull, 0x1p-10);
  test::set_merge_seconds(s, 1024, 0x1p-16);
  CHECK(run(s).compute_source == CostSource::kCalibrated);  // 1024 x 1024 blocks, 8 heads: sampled
  s.points[0] = Point{2 * 4096, 2};  // 4096 x 4096: past the largest sample
  CHECK(run(s).compute_source == CostSource::kEstimated);
  s.points[0] = Point{2 * 1024, 2};
  s.schedule = "ulysses";  // 2048 x 2048 blocks, but 4 heads per device: no sample has 4
  CHECK(run(s).compute_source == CostSource::kEstimated);
}
