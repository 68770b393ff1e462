// Scenarios built in code for the sim tests: an H100-like datasheet profile
// and a ring in one or several nodes. No YAML involved.
#pragma once
#include <random>
#include <utility>
#include <vector>

#include "models/scenario.hpp"
#include "sim/engine.hpp"

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

}  // namespace ringsim::test
