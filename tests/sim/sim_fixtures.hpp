// Scenarios built in code for the sim tests: an H100-like datasheet profile,
// profiles whose samples fix block times by hand (independent oracles), a
// ring in one or several nodes, and a point planned by its schedule. No YAML.
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "models/flow_network.hpp"
#include "models/scenario.hpp"
#include "sim/engine.hpp"
#include "sim/schedule.hpp"

namespace ringsim::test {

// A fixed list of operations per device (tests only: small programs).
class ScriptProgram : public Program {
 public:
  explicit ScriptProgram(std::vector<std::vector<Op>> ops) : ops_(std::move(ops)) {}
  Op next(long long d, ProgramCursor& c) const override {
    const auto& list = ops_[static_cast<std::size_t>(d)];
    return c.phase < static_cast<int>(list.size()) ? list[c.phase++] : Op{};
  }

 private:
  std::vector<std::vector<Op>> ops_;
};

// Jitter of a random distribution (normal or lognormal), sigma 1-30%, seed,
// on compute, transfers or both (the random fault tests).
inline JitterSpec random_jitter(std::mt19937_64& rng) {
  auto pick = [&](long long lo, long long hi) { return std::uniform_int_distribution<long long>(lo, hi)(rng); };
  JitterSpec j;
  j.distribution = static_cast<JitterDistribution>(pick(0, 1));
  j.sigma = static_cast<double>(pick(1, 30)) / 100;
  j.seed = static_cast<std::uint64_t>(pick(0, 1000));
  j.compute = pick(0, 3) != 0;
  j.transfer = !j.compute || pick(0, 1);
  return j;
}

inline DeviceProfile datasheet_profile() {
  DeviceProfile p;
  p.name = "test-h100";
  p.card = "NVIDIA H100 80GB HBM3 (datasheet)";
  p.measured = false;
  p.memory_bytes = 80.0 * (1ull << 30);
  p.hbm_bytes_per_s = 3.35e12;
  p.flops_per_s = {{DType::kBf16, 989e12}, {DType::kFp16, 989e12}, {DType::kFp32, 67e12}};
  p.launch_overhead_s = 4e-6;
  p.reserved_memory_bytes = 1.0 * (1ull << 30);
  p.origin = "inline";
  return p;
}

inline Scenario ring_scenario(long long tokens, long long ring_size, bool causal, Layout layout,
                              int gpus_per_node) {
  Scenario s;
  s.name = "test";
  s.path = "inline";
  s.shape = AttentionShape{8, 8, 64, DType::kFp16};
  s.causal = causal;
  s.layout = layout;
  s.profile = datasheet_profile();
  s.gpus_per_node = gpus_per_node;
  s.intra_node = LinkSpec{450e9, 2000};
  s.inter_node = LinkSpec{50e9, 5000};
  s.points = {Point{tokens, ring_size}};
  return s;
}

// A small scenario of a schedule for walking programs (8 q / 4 kv heads,
// head_dim 16, bf16; 4 GPUs per node).
struct ScheduleCase {
  std::string schedule;
  long long tokens = 0, ring = 1;
  bool causal = false;
  Layout layout = Layout::kContiguous;
  long long cached = 0, ulysses = 0, inner = 0;
  UlyssesPlacement placement = UlyssesPlacement::kInsideNode;
};
inline Scenario schedule_scenario(const ScheduleCase& c) {
  Scenario s = ring_scenario(c.tokens, c.ring, c.causal, c.layout, 4);
  s.shape = AttentionShape{8, 4, 16, DType::kBf16};
  s.schedule = c.schedule;
  s.cached_tokens = c.cached;
  s.ulysses_degree = c.ulysses;
  s.inner_ring = c.inner;
  s.ulysses_placement = c.placement;
  return s;
}

// A random small scenario: ring up to max_ring, 1-8 GPUs per node, random
// links, shape and attention variant (0 non-causal, 1 contiguous, 2 zigzag).
inline Scenario random_scenario(std::mt19937_64& rng, long long max_ring) {
  auto pick = [&](long long lo, long long hi) {
    return std::uniform_int_distribution<long long>(lo, hi)(rng);
  };
  const int gpn_choices[] = {1, 2, 4, 8};
  const long long ring = pick(1, max_ring);
  const long long chunk = 2 * pick(1, 4096);
  const int variant = static_cast<int>(pick(0, 2));
  Scenario s = ring_scenario(chunk * ring, ring, variant != 0,
                             variant == 2 ? Layout::kZigzag : Layout::kContiguous,
                             gpn_choices[pick(0, 3)]);
  const int kv_heads = 1 << pick(0, 3);
  s.shape = AttentionShape{kv_heads << pick(0, 2), kv_heads, 32 << pick(0, 2),
                           static_cast<DType>(pick(0, 2))};
  s.intra_node = LinkSpec{static_cast<double>(pick(10, 900)) * 1e9, pick(0, 5000)};
  s.inter_node = LinkSpec{static_cast<double>(pick(1, 100)) * 1e9 + pick(0, 999), pick(0, 20000)};
  s.profile.launch_overhead_s = static_cast<double>(pick(0, 10)) * 1e-6;
  return s;
}

// Fixes the time of a block shape by a measured sample: the compute model
// returns a sample's own time at its own shape, never below the profile's
// launch overhead (models/block_grid.hpp), so with the overhead lowered to
// at most `seconds` (a power of two, exact in binary) that is the block's
// attention time. Heads: the scenario's. q_heads / kv_heads: a device's
// share (Ulysses), 0: the model's.
inline void set_block_seconds(Scenario& s, long long q, long long kv, MaskKind mask, double seconds, int q_heads = 0,
                              int kv_heads = 0) {
  s.profile.launch_overhead_s = std::min(s.profile.launch_overhead_s, seconds);
  s.profile.attention.push_back(AttentionSample{s.shape.dtype, s.shape.head_dim, q_heads ? q_heads : s.shape.q_heads,
                                                kv_heads ? kv_heads : s.shape.kv_heads, mask, q, kv, seconds});
  s.profile.measured = true;
}
// The same for a block's backward (the profile's backward samples).
inline void set_backward_seconds(Scenario& s, long long q, long long kv, MaskKind mask, double seconds, int q_heads = 0,
                                 int kv_heads = 0) {
  s.profile.launch_overhead_s = std::min(s.profile.launch_overhead_s, seconds);
  s.profile.backward.push_back(AttentionSample{s.shape.dtype, s.shape.head_dim, q_heads ? q_heads : s.shape.q_heads,
                                               kv_heads ? kv_heads : s.shape.kv_heads, mask, q, kv, seconds});
  s.profile.measured = true;
}
// What an elementwise pass of `bytes` costs on a profile without merge
// samples: bytes / hbm_bandwidth + launch, rounded up once.
inline TimeNs stream_oracle_ns(const Scenario& s, double bytes) {
  return static_cast<TimeNs>(std::ceil((bytes / s.profile.hbm_bytes_per_s + s.profile.launch_overhead_s) * 1e9));
}
// Fixes the time of merging q rows into the accumulator (launch overhead
// lowered as above).
inline void set_merge_seconds(Scenario& s, long long q, double seconds, int q_heads = 0) {
  s.profile.launch_overhead_s = std::min(s.profile.launch_overhead_s, seconds);
  s.profile.merge.push_back(MergeSample{q, q_heads ? q_heads : s.shape.q_heads, s.shape.head_dim, seconds});
}
// Block time the simulator must charge: attention (+ merge), rounded up once.
inline TimeNs oracle_ns(double attention_s, double merge_s = 0) {
  return static_cast<TimeNs>(std::ceil((attention_s + merge_s) * 1e9));
}
// latency + bytes / rate, rounded up: one transfer alone on its route.
inline TimeNs oracle_transfer_ns(TimeNs latency_ns, double bytes, double bytes_per_s) {
  return latency_ns + static_cast<TimeNs>(std::ceil(bytes / bytes_per_s * 1e9));
}
// One all-to-all of `messages` concurrent messages per peer (sizes given) in
// one node of P devices, by max-min filling: the (P-1) x messages flows of a
// port share it equally until the smallest messages end, then the rest share it.
inline TimeNs all_to_all_ns(long long ring, std::vector<double> sizes, double bw, TimeNs latency) {
  std::sort(sizes.begin(), sizes.end());
  TimeNs t = 0;
  double sent = 0;  // bytes of each remaining message sent so far
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const double rate = bw / static_cast<double>((ring - 1) * static_cast<long long>(sizes.size() - i));
    const double left = sizes[i] - sent;
    const TimeNs dt = static_cast<TimeNs>(std::ceil(left / rate * 1e9));
    sent += rate * (static_cast<double>(dt) / 1e9);  // what the others sent meanwhile (whole ns, as the engine)
    t += dt;
  }
  return latency + t;
}

// The K/V block of `rows` tokens (keys and values), by hand.
inline double kv_block_bytes(const Scenario& s, long long rows) {
  return 2.0 * static_cast<double>(rows) * s.shape.kv_heads * s.shape.head_dim * (s.shape.dtype == DType::kFp32 ? 4 : 2);
}

// A point planned by its schedule, with what the plan refers to kept alive.
struct Planned {
  PointAttention attention;
  CostContext costs;
  std::optional<DocumentMask> documents;
  std::unique_ptr<Plan> plan;
};
inline std::unique_ptr<Planned> plan_point(const Scenario& s, const Point& p, Pass pass = Pass::kForward) {
  const Schedule& schedule = checked_schedule(s, p);
  auto out = std::unique_ptr<Planned>(new Planned{attention_of(s, p), CostContext(s.profile, s.shape), std::nullopt, nullptr});
  if (out->attention.documents) out->documents.emplace(document_lengths(*out->attention.documents, p.tokens));
  out->plan = schedule.plan(PlanInput{s, p, out->attention, out->costs, out->documents ? &*out->documents : nullptr,
                                      ranks_per_gpu(s, p), pass});
  return out;
}
// Per-device compute of a point in the event engine.
inline std::vector<TimeNs> device_compute(const Scenario& s) {
  const Point& p = s.points[0];
  auto planned = plan_point(s, p);
  Topology topo(cluster_for(s, p));
  EngineOptions eo;
  eo.ranks_per_gpu = ranks_per_gpu(s, p);
  return Engine(topo, planned->plan->program(), p.ring_size, eo).run().compute_ns;
}

}  // namespace ringsim::test
