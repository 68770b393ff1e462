// sim: the backward pass and training (attention.pass), every schedule.
// Independent oracles: closed forms of contention-free non-causal rings
// (block times fixed by hand through profile samples, elementwise passes
// and transfers computed by hand from the bytes each one moves), the FLOP
// convention (2.5x the forward's, identical over schedules), the roofline
// ratio, buffer tables sized by hand, and the event engine for the fast paths.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

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

Scenario with(Scenario s, const std::string& schedule, Pass pass) {
  s.schedule = schedule;
  s.pass = pass;
  if (schedule == "ulysses") s.layout = Layout::kContiguous;
  return s;
}

// One node of P GPUs (ring routes on NVLink, pairwise disjoint), 8 q / 2 kv
// heads, d 64, bf16, no launch overhead; block times fixed by hand.
Scenario one_node(long long chunk, long long ring) {
  Scenario s = test::ring_scenario(chunk * ring, ring, false, Layout::kContiguous, static_cast<int>(ring));
  s.inter_node = LinkSpec{s.intra_node.bytes_per_s / 2, s.intra_node.latency_ns + 1000};
  s.shape = AttentionShape{8, 2, 64, DType::kBf16};
  s.profile.launch_overhead_s = 0;
  return s;
}

TimeNs hop(const Scenario& s, double bytes) { return test::oracle_transfer_ns(s.intra_node.latency_ns, bytes, s.intra_node.bytes_per_s); }

// A gradient ring of P devices, all alike: the D pass, step 0 (inputs
// only), steps 1..P-2 (inputs and accumulator, then the add), step P-1
// (accumulator, add), the return hop.
TimeNs grad_ring_ns(long long ring, TimeNs pre, TimeNs block, TimeNs add, TimeNs x_in, TimeNs x_both, TimeNs x_acc) {
  if (ring == 1) return pre + block;
  return pre + std::max(block, x_in) + (ring - 2) * (std::max(block, x_both) + add) + std::max(block, x_acc) + add + x_acc;
}

}  // namespace

TEST_CASE("sim::training: pass-kv and pass-q backward rings follow their closed forms") {
  const long long c = 1024;
  const double h = 8, kvh = 2, d = 64;
  for (long long ring : {1LL, 2LL, 3LL, 5LL}) {
    CAPTURE(ring);
    Scenario s = one_node(c, ring);
    test::set_backward_seconds(s, c, c, MaskKind::kFull, 0x1p-11);
    const TimeNs b = test::oracle_ns(0x1p-11);
    const double q_rows = c * h * d * 2, lse = c * h * 4;  // bytes of Q (or O, dO) and of LSE (or D)
    const TimeNs delta = test::stream_oracle_ns(s, 2 * q_rows + lse);
    // pass-kv: K/V and fp32 dK/dV travel.
    const double kv = 2 * c * kvh * d * 2, dkv = 2 * c * kvh * d * 4;
    const TimeNs kv_ns = grad_ring_ns(ring, delta, b, test::stream_oracle_ns(s, 3 * dkv), hop(s, kv), hop(s, kv + dkv),
                                      hop(s, dkv));
    // pass-q: the bundle Q, dO, LSE, D travels (packed by three copies), fp32 dQ behind it.
    const double bundle = 2 * q_rows + 2 * lse, dq = c * h * d * 4;
    const TimeNs pack = delta + 2 * test::stream_oracle_ns(s, 2 * q_rows) + test::stream_oracle_ns(s, 2 * lse);
    const TimeNs q_ns = grad_ring_ns(ring, pack, b, test::stream_oracle_ns(s, 3 * dq), hop(s, bundle),
                                     hop(s, bundle + dq), hop(s, dq));
    for (Mode mode : {Mode::kEvent, Mode::kAuto}) {
      CAPTURE(mode_name(mode));
      const PointResult kv_r = run(with(s, "pass-kv", Pass::kBackward), mode);
      CHECK(kv_r.makespan_ns == kv_ns);
      CHECK(kv_r.backward_ns == kv_ns);
      CHECK(kv_r.max_compute_ns == delta + ring * b + (ring - 1) * test::stream_oracle_ns(s, 3 * dkv));
      CHECK(run(with(s, "pass-q", Pass::kBackward), mode).makespan_ns == q_ns);
    }
    CHECK(run(with(s, "pass-kv", Pass::kBackward), Mode::kAuto).mode != Mode::kEvent);  // the fast path ran
  }
}

TEST_CASE("sim::training: all-gather backward is the gather, the blocks, then the reduce-scatter") {
  const long long c = 1024;
  const double h = 8, kvh = 2, d = 64;
  for (long long ring : {1LL, 2LL, 3LL, 5LL}) {
    CAPTURE(ring);
    Scenario s = one_node(c, ring);
    test::set_backward_seconds(s, c, c * ring, MaskKind::kFull, 0x1p-10);  // q = chunk against the whole sequence
    const double kv = 2 * c * kvh * d * 2, dkv = 2 * c * kvh * d * 4;
    const TimeNs pre = test::stream_oracle_ns(s, 2 * c * h * d * 2 + c * h * 4) + test::stream_oracle_ns(s, ring * dkv) +
                       test::stream_oracle_ns(s, 2 * kv);  // D pass, zeroed dK/dV, own K/V into its slot
    const TimeNs expected = pre + (ring - 1) * hop(s, kv) + test::oracle_ns(0x1p-10) +
                            (ring - 1) * (hop(s, dkv) + test::stream_oracle_ns(s, 3 * dkv));
    CHECK(run(with(s, "all-gather", Pass::kBackward)).makespan_ns == expected);
  }
}

TEST_CASE("sim::training: a training point is its forward, then its backward from every device together") {
  const long long c = 1024;
  for (long long ring : {1LL, 2LL, 4LL}) {
    CAPTURE(ring);
    Scenario s = one_node(c, ring);
    test::set_block_seconds(s, c, c, MaskKind::kFull, 0x1p-12);
    test::set_backward_seconds(s, c, c, MaskKind::kFull, 0x1p-11);
    // Forward pass-kv: the first block writes, later ones merge (roofline merge: 3 fp32 passes over out and lse).
    const double merge_s = (3.0 * c * 8 * 64 * 4 + 3.0 * c * 8 * 4) / s.profile.hbm_bytes_per_s;
    const TimeNs c0 = test::oracle_ns(0x1p-12), c1 = test::oracle_ns(0x1p-12, merge_s);
    const TimeNs x = hop(s, 2.0 * c * 2 * 64 * 2);
    const TimeNs fwd = ring == 1 ? c0 : std::max(c0, x) + (ring - 2) * std::max(c1, x) + c1;
    const PointResult f = run(with(s, "pass-kv", Pass::kForward));
    const PointResult b = run(with(s, "pass-kv", Pass::kBackward));
    CHECK(f.makespan_ns == fwd);
    for (Mode mode : {Mode::kEvent, Mode::kAuto}) {
      const PointResult t = run(with(s, "pass-kv", Pass::kTraining), mode);
      CHECK(t.forward_ns == fwd);
      CHECK(t.backward_ns == b.makespan_ns);
      CHECK(t.makespan_ns == fwd + b.makespan_ns);
      CHECK(t.total_flops == doctest::Approx(3.5 * f.total_flops).epsilon(1e-12));
      CHECK(t.finish_ns.size() == static_cast<std::size_t>(ring));
      CHECK(*std::max_element(t.finish_ns.begin(), t.finish_ns.end()) == t.makespan_ns);
    }
  }
}

TEST_CASE("sim::training: backward FLOPs are 2.5x the forward's and the same for every schedule") {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    CAPTURE(seed);
    const long long ring = 1LL << (seed % 4), chunk = 256LL << (seed % 3);
    const bool causal = seed % 2 == 0;
    const Layout layouts[] = {Layout::kContiguous, Layout::kZigzag, Layout::kStriped};
    Scenario base = test::ring_scenario(chunk * ring, ring, causal, layouts[seed % 3], 4);
    base.shape = AttentionShape{16, 4, 64, DType::kBf16};
    if (seed % 3 == 1) base.documents.lengths = {chunk * ring / 4, chunk * ring / 2, chunk * ring / 4};
    const double t = static_cast<double>(chunk * ring), dh = 64.0 * 16;
    double forward = (causal ? 2.0 : 4.0) * t * t * dh;
    if (!base.documents.empty()) {
      double pairs = 0;
      for (long long n : base.documents.lengths) pairs += causal ? static_cast<double>(n) * (n + 1) / 2 : double(n) * n;
      forward = 4.0 * pairs * dh;
    }
    for (const std::string& name : kSchedules) {
      CAPTURE(name);
      CHECK(run(with(base, name, Pass::kBackward)).total_flops == doctest::Approx(2.5 * forward).epsilon(1e-12));
      CHECK(run(with(base, name, Pass::kTraining), Mode::kAuto).total_flops ==
            doctest::Approx(3.5 * forward).epsilon(1e-12));
    }
  }
}

TEST_CASE("sim::training: on a roofline device with an ideal network the backward takes 2.5x the forward (2%)") {
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    Scenario base = test::ring_scenario(4 * 131072, 4, causal, Layout::kZigzag, 4);
    base.shape = AttentionShape{8, 8, 128, DType::kBf16};
    base.intra_node = base.inter_node = LinkSpec{1e18, 0};
    for (const std::string& name : kSchedules) {
      CAPTURE(name);
      const PointResult r = run(with(base, name, Pass::kTraining), Mode::kAuto);
      CHECK(static_cast<double>(r.backward_ns) / static_cast<double>(r.forward_ns) == doctest::Approx(2.5).epsilon(0.02));
      CHECK(r.compute_source == CostSource::kEstimated);  // no backward samples: the forward's rate, estimated
    }
  }
}

TEST_CASE("sim::training: the backward rings' fast paths give the event engine's times to the nanosecond") {
  int fast = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Scenario s = test::random_scenario(rng, 24);
    s.schedule = seed % 2 ? "pass-kv" : "pass-q";
    s.pass = seed % 3 ? Pass::kBackward : Pass::kTraining;
    s.grad_dtype = seed % 5 == 0 ? DType::kBf16 : DType::kFp32;
    if (seed % 7 == 0) s.layout = Layout::kStriped;
    CAPTURE(s.schedule);
    const PointResult event = run(s, Mode::kEvent), fast_r = run(s, Mode::kAuto);
    fast += fast_r.mode != Mode::kEvent || fast_r.backward_mode != Mode::kEvent;
    CHECK(fast_r.makespan_ns == event.makespan_ns);
    CHECK(fast_r.finish_ns == event.finish_ns);
    CHECK(fast_r.max_compute_ns == event.max_compute_ns);
    CHECK(fast_r.mean_compute_ns == doctest::Approx(event.mean_compute_ns));
    CHECK(fast_r.total_flops == doctest::Approx(event.total_flops).epsilon(1e-12));
    CHECK(fast_r.memory.peak_bytes == event.memory.peak_bytes);
  }
  CHECK(fast > 30);  // most points ran a fast path
}

TEST_CASE("sim::training: each schedule's backward buffers, sized by hand; training holds the larger peak") {
  // 2 devices, chunk c = 1024, 8 q / 2 kv heads, d 64, bf16, fp32 gradients:
  // a Q row is 1 KiB, a K/V row 512 B, an LSE row 32 B, an fp32 dQ row 2 KiB, an fp32 dK/dV row 1 KiB.
  const double c = 1024, q = c * 1024, kv = c * 512, lse = c * 32, dq = c * 2048, dkv = c * 1024;
  Scenario s = test::ring_scenario(2048, 2, true, Layout::kZigzag, 8);
  s.shape = AttentionShape{8, 2, 64, DType::kBf16};
  using Table = std::vector<std::pair<std::string, double>>;
  const Table saved = {{"saved_q", q}, {"saved_kv", kv}, {"saved_out", q}, {"saved_lse", lse}, {"grad_out", q}};
  const auto plus = [&](Table t, const Table& more) { t.insert(t.end(), more.begin(), more.end()); return t; };
  const std::map<std::string, Table> tables = {
      {"pass-kv", plus(saved, {{"delta", lse}, {"dq_acc", dq}, {"recv_kv_grad0", kv + dkv}, {"recv_kv_grad1", kv + dkv},
                               {"dkv_block", dkv}, {"grad_kv", dkv}})},
      {"pass-q", plus(saved, {{"q_bundle", 2 * q + 2 * lse}, {"dkv_acc", dkv}, {"recv_q_grad0", 2 * q + 2 * lse + dq},
                              {"recv_q_grad1", 2 * q + 2 * lse + dq}, {"dq_block", dq}, {"grad_q", dq}})},
      {"all-gather", plus(saved, {{"delta", lse}, {"gathered_kv", 2 * kv}, {"dq_acc", dq}, {"gathered_dkv", 2 * dkv},
                                  {"recv_dkv", dkv}})},
      {"double-ring", plus(saved, {{"delta", lse}, {"dq_acc", dq}, {"inner_kv_grad0", kv + dkv},
                                   {"inner_kv_grad1", kv + dkv}, {"dkv_block", dkv}, {"grad_kv", dkv}})},
      // Ulysses over 2: 4 q heads and 1 kv head over all 2048 tokens; member rows 1024.
      {"ulysses", {{"saved_q_heads", 2 * q / 2}, {"saved_kv_heads", 2 * kv / 2}, {"saved_out_heads", q},
                   {"saved_lse_heads", lse}, {"grad_out_heads", q}, {"grad_out", q}, {"delta", lse}, {"dq_acc", dq},
                   {"grad_kv_heads", dkv}, {"grad_q", dq}, {"grad_kv", dkv}}},
  };
  for (const auto& [name, want] : tables) {
    CAPTURE(name);
    const auto planned = test::plan_point(with(s, name, Pass::kBackward), s.points[0], Pass::kBackward);
    const BufferTable& t = *planned->plan->program().buffer_table();
    REQUIRE(t.size() == static_cast<BufferId>(want.size()));
    double total = s.profile.reserved_memory_bytes;
    for (BufferId i = 0; i < t.size(); ++i) {
      CHECK(t.name(i) == want[static_cast<std::size_t>(i)].first);
      CHECK(t.bytes(i) == want[static_cast<std::size_t>(i)].second);
      total += want[static_cast<std::size_t>(i)].second;
    }
    const PointResult b = run(with(s, name, Pass::kBackward)), f = run(with(s, name, Pass::kForward));
    CHECK(b.memory.peak_bytes == doctest::Approx(total));  // every buffer lives at once
    CHECK(run(with(s, name, Pass::kTraining)).memory.peak_bytes == std::max(b.memory.peak_bytes, f.memory.peak_bytes));
  }
  // bf16 gradients halve what travels: pass-kv's slots carry K/V and a bf16 dK/dV.
  s.grad_dtype = DType::kBf16;
  const auto planned = test::plan_point(with(s, "pass-kv", Pass::kBackward), s.points[0], Pass::kBackward);
  const BufferTable& t = *planned->plan->program().buffer_table();
  CHECK(t.bytes(t.find("recv_kv_grad0")) == kv + dkv / 2);
  CHECK(t.bytes(t.find("grad_kv")) == dkv / 2);
  CHECK(t.bytes(t.find("dq_acc")) == dq);  // stays fp32 at home
}

TEST_CASE("sim::training: a backward that does not fit names the saved tensors and gradient buffers") {
  Scenario s = test::ring_scenario(4 * 65536, 4, true, Layout::kZigzag, 4);
  s.shape = AttentionShape{32, 8, 128, DType::kBf16};
  s.profile.memory_bytes = 1.5 * (1ull << 30);
  const PointResult r = run(with(s, "pass-kv", Pass::kTraining), Mode::kAuto);
  CHECK_FALSE(r.memory.fits);
  for (const char* name : {"saved_q", "saved_kv", "saved_out", "saved_lse", "grad_out", "dq_acc", "recv_kv_grad0",
                           "dkv_block", "grad_kv"})
    CHECK(r.memory.reason.find(name) != std::string::npos);
}

TEST_CASE("sim::training: ulysses backward is an all-to-all of dO, the D pass and blocks, an all-to-all of dQ and dK/dV") {
  // One node; every device posts its sends to the P-1 others at once, so each
  // port carries them at equal shares (max-min, test::all_to_all_ns).
  for (long long ring : {2LL, 4LL, 8LL}) {
    CAPTURE(ring);
    const long long c = 1024, t = c * ring;
    Scenario s = one_node(c, ring);
    s.schedule = "ulysses";
    s.pass = Pass::kBackward;
    const int heads = static_cast<int>(8 / ring), kvh = ring <= 2 ? static_cast<int>(2 / ring) : 1;
    const long long replicas = ring > 2 ? ring / 2 : 1;  // kv heads replicated past 2
    test::set_backward_seconds(s, t, t, MaskKind::kFull, 0x1p-9, heads, kvh);
    const double rows = static_cast<double>(c), dkv_row = 2.0 * 2 * 64 * 4;  // fp32 dK/dV of both kv heads
    const TimeNs x_in = test::all_to_all_ns(ring, {rows * heads * 64 * 2}, 450e9, 2000);
    const TimeNs x_out = test::all_to_all_ns(ring, {rows * heads * 64 * 4, 2 * rows * kvh * 64 * 4}, 450e9, 2000);
    const TimeNs delta = test::stream_oracle_ns(s, 2.0 * t * heads * 64 * 2 + 1.0 * t * heads * 4);
    // Replicas: our own rows copied into our slot (read and written), then the slots summed.
    const TimeNs sum = replicas > 1 ? test::stream_oracle_ns(s, 2.0 * rows * 2 * kvh * 64 * 4) +
                                          test::stream_oracle_ns(s, (replicas + 1) * rows * dkv_row)
                                    : 0;
    CHECK(run(s).makespan_ns == x_in + delta + test::oracle_ns(0x1p-9) + x_out + sum);
  }
}

TEST_CASE("sim::training: a double ring with one inner ring of every device is the pass-kv backward") {
  for (long long ring : {2LL, 4LL}) {
    CAPTURE(ring);
    for (bool causal : {false, true}) {
      Scenario s = one_node(2048, ring);
      s.intra_node.bytes_per_s = 20e9;  // slow enough that every hop's bytes show in the time
      s.causal = causal;
      s.layout = Layout::kZigzag;
      s.inner_ring = ring;
      const PointResult dr = run(with(s, "double-ring", Pass::kBackward)), kv = run(with(s, "pass-kv", Pass::kBackward));
      CHECK(dr.makespan_ns == kv.makespan_ns);
      CHECK(dr.max_compute_ns == kv.max_compute_ns);
      CHECK(dr.memory.peak_bytes == kv.memory.peak_bytes);
    }
  }
}
