// tests/models: compute model (roofline, masks, exact samples, merge, labels).
// The wave model off the samples: test_compute_waves.cpp; the shipped
// profiles against the examples: test_compute_shipped.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "models/compute_model.hpp"

using namespace ringsim;

namespace {

DeviceProfile roofline_profile() {
  DeviceProfile p;
  p.name = "toy";
  p.card = "Toy Card";
  p.memory_bytes = 80e9;
  p.hbm_bytes_per_s = 1e12;
  p.flops_per_s = {{DType::kBf16, 100e12}, {DType::kFp32, 1000e12}};
  p.launch_overhead_s = 4e-6;
  return p;
}

constexpr long long kGrid[] = {1024, 4096, 16384};

// Calibrated profile: full-mask bf16 d=128 samples with 8/8 heads on a 3x3 grid,
// rate(q, kv) = 100 + 20 log2(q/1024) + 10 log2(kv/1024) TFLOP/s.
double grid_rate(long long q, long long kv) {
  return (100 + 20 * std::log2(q / 1024.0) + 10 * std::log2(kv / 1024.0)) * 1e12;
}

DeviceProfile calibrated_profile() {
  DeviceProfile p = roofline_profile();
  p.measured = true;
  p.calibration["date"] = "2026-11-26";
  const AttentionShape s{8, 8, 128, DType::kBf16};
  for (long long q : kGrid) {
    for (long long kv : kGrid) {
      const double flops = block_flops(s, {q, kv, MaskKind::kFull, false});
      p.attention.push_back({DType::kBf16, 128, 8, 8, MaskKind::kFull, q, kv, flops / grid_rate(q, kv)});
    }
  }
  p.merge.push_back({1024, 8, 128, 10e-6});
  p.merge.push_back({4096, 8, 128, 30e-6});
  return p;
}


}  // namespace

TEST_CASE("models::ComputeModel: roofline matches a hand-computed compute-bound block") {
  const DeviceProfile p = roofline_profile();
  const AttentionShape s{8, 8, 128, DType::kBf16};
  const ComputeModel m(p, s);
  // flops = 4*1024*1024*128*8 = 4.294967296e9 -> 42.94967296 us at 100 TFLOP/s;
  // bytes = 2097152 + 4194304 + 4194304 + 32768 -> 10.5 us: compute-bound; + 4 us launch.
  CHECK(block_flops(s, {1024, 1024, MaskKind::kFull, false}) == 4294967296.0);
  const BlockCost first = m.block_cost({1024, 1024, MaskKind::kFull, false});
  CHECK(first.time_ns == 46950);
  CHECK(first.source == CostSource::kEstimated);
  // merge: (3*1024*8*128*4 + 3*1024*8*4) B = 12681216 B -> 12.681216 us + 4 us launch.
  CHECK(m.block_cost({1024, 1024, MaskKind::kFull, true}).time_ns == 63631);
}

TEST_CASE("models::ComputeModel: roofline matches a hand-computed memory-bound block") {
  const DeviceProfile p = roofline_profile();
  const ComputeModel m(p, {8, 8, 128, DType::kFp32});
  // fp32 bytes = 4194304 + 8388608 + 4194304 + 32768 = 16809984 -> 16.809984 us > 4.29 us compute.
  CHECK(m.block_cost({1024, 1024, MaskKind::kFull, false}).time_ns == 20810);
}

TEST_CASE("models::ComputeModel: diagonal masks cost half the flops") {
  const DeviceProfile p = roofline_profile();
  const AttentionShape s{32, 8, 128, DType::kBf16};
  const ComputeModel m(p, s);
  std::mt19937_64 rng(7);
  for (int seed = 0; seed < 50; ++seed) {
    CAPTURE(seed);
    const long long q = 1024 << (rng() % 6), kv = 1024 << (rng() % 6);
    const double full = block_flops(s, {q, kv, MaskKind::kFull, false});
    CHECK(block_flops(s, {q, kv, MaskKind::kCausalDiagonal, false}) == full / 2);
    CHECK(block_flops(s, {q, kv, MaskKind::kZigzagDiagonal, false}) == full / 2);
    const double t_full = m.block_cost({q, kv, MaskKind::kFull, false}).time_ns - 4000.0;
    const double t_diag = m.block_cost({q, kv, MaskKind::kCausalDiagonal, false}).time_ns - 4000.0;
    CHECK(t_diag <= t_full);
    CHECK(t_diag >= 0.45 * t_full);  // half, unless the memory floor holds it up
  }
}

TEST_CASE("models::ComputeModel: a dtype the profile lacks is an input error") {
  DeviceProfile p = roofline_profile();
  CHECK_THROWS_AS(ComputeModel(p, {8, 8, 128, DType::kFp16}), InputError);
}

TEST_CASE("models::ComputeModel: calibrated times are exact at grid points") {
  const DeviceProfile p = calibrated_profile();
  const AttentionShape s{8, 8, 128, DType::kBf16};
  const ComputeModel m(p, s);
  for (const AttentionSample& a : p.attention) {
    CAPTURE(a.q_tokens);
    CAPTURE(a.kv_tokens);
    const BlockCost c = m.block_cost({a.q_tokens, a.kv_tokens, MaskKind::kFull, false});
    CHECK(c.source == CostSource::kCalibrated);
    CHECK(std::abs(static_cast<double>(c.time_ns) - a.seconds * 1e9) <= 1.0);
  }
}

TEST_CASE("models::ComputeModel: the roofline runs at the profile's attention efficiency") {
  DeviceProfile p = roofline_profile();
  p.attention_efficiency = 0.25;
  const AttentionShape s{8, 8, 128, DType::kBf16};
  // 4.294967296e9 flops at 25 TFLOP/s = 171.80 us, still compute-bound (10.5 us of bytes), + 4 us launch.
  const BlockCost c = ComputeModel(p, s).block_cost({1024, 1024, MaskKind::kFull, false});
  CHECK(c.time_ns == ceil_ns(4294967296.0 / 25e12 + 4e-6));
  CHECK(c.source == CostSource::kEstimated);
  CHECK(c.reason.find("roofline at 25%") != std::string::npos);
}

TEST_CASE("models::ComputeModel: calibrated merge interpolates in elements; outside its samples it is estimated") {
  const DeviceProfile p = calibrated_profile();  // merges: 1024 x 8 x 128 -> 10 us, 4096 x 8 x 128 -> 30 us
  const AttentionShape s{8, 8, 128, DType::kBf16};
  const ComputeModel m(p, s);
  const auto merge_ns = [&](long long q) {
    return m.block_cost({q, 4096, MaskKind::kFull, true}).time_ns - m.block_cost({q, 4096, MaskKind::kFull, false}).time_ns;
  };
  CHECK(std::abs(merge_ns(1024) - 10000) <= 1);
  CHECK(std::abs(merge_ns(2560) - 20000) <= 1);  // halfway in elements
  CHECK(std::abs(merge_ns(4096) - 30000) <= 1);
  CHECK(std::abs(merge_ns(8192) - 60000) <= 1);  // proportional above: the merge streams memory
  // Below: down the line through both samples (10 us + 20 us per 3072 tokens):
  // fixed part 10 - 20 / 3 = 3.33 us, within [launch 4 us, 10 us] -> kept at 4 us.
  CHECK(std::abs(merge_ns(512) - (4000 + 6000 * 512 / 1024)) <= 1);
  CHECK(m.block_cost({4096, 4096, MaskKind::kFull, true}).source == CostSource::kCalibrated);
  // A steeper pair of merges (10 us, then 14 us at twice the elements): the
  // line meets zero elements at 6 us, above the launch floor, and is kept.
  DeviceProfile steep = p;
  steep.merge = {{1024, 8, 128, 10e-6}, {2048, 8, 128, 14e-6}};
  const ComputeModel ms(steep, s);
  CHECK(ms.block_cost({512, 4096, MaskKind::kFull, true}).time_ns -
            ms.block_cost({512, 4096, MaskKind::kFull, false}).time_ns == doctest::Approx(8000).epsilon(1e-3));
  const BlockCost above = m.block_cost({8192, 4096, MaskKind::kFull, true});
  CHECK(above.source == CostSource::kEstimated);
  CHECK(above.reason.find("merge") != std::string::npos);
  CHECK(m.block_cost({8192, 4096, MaskKind::kFull, false}).source == CostSource::kCalibrated);  // attention inside
  CHECK(m.block_cost({32768, 4096, MaskKind::kFull, false}).source == CostSource::kEstimated);  // and outside
}

TEST_CASE("models::ComputeModel: a roofline merge makes a calibrated block estimated") {
  DeviceProfile p = calibrated_profile();
  p.merge.clear();
  const ComputeModel m(p, {8, 8, 128, DType::kBf16});
  CHECK(m.block_cost({4096, 4096, MaskKind::kFull, false}).source == CostSource::kCalibrated);
  const BlockCost c = m.block_cost({4096, 4096, MaskKind::kFull, true});
  CHECK(c.source == CostSource::kEstimated);
  CHECK(c.reason == "no merge samples in profile toy: roofline merge");
}

TEST_CASE("models::ComputeModel: a mask without samples falls back to the roofline, labelled with the reason") {
  const DeviceProfile p = calibrated_profile();
  const AttentionShape s{8, 8, 128, DType::kBf16};
  const BlockCost c = ComputeModel(p, s).block_cost({1024, 1024, MaskKind::kCausalDiagonal, false});
  CHECK(c.source == CostSource::kEstimated);
  CHECK(c.time_ns == ceil_ns(4294967296.0 / 2 / 100e12 + 4e-6));
  CHECK(c.reason.find("no bf16 d128 causal samples in profile toy") == 0);
}

TEST_CASE("models::ComputeModel: describe names the card, the kernel or the roofline") {
  DeviceProfile cal = calibrated_profile();
  const ComputeModel m(cal, {8, 8, 128, DType::kBf16});
  CHECK(m.describe(CostSource::kCalibrated) == "calibrated on Toy Card (profile toy, 2026-11-26)");
  CHECK(m.describe(CostSource::kEstimated).find("estimated (profile toy: off its sampled grid") == 0);
  cal.kernel = "ringsim-fused-fa2";
  CHECK(ComputeModel(cal, {8, 8, 128, DType::kBf16}).describe(CostSource::kCalibrated) ==
        "calibrated on Toy Card (profile toy, kernel ringsim-fused-fa2, 2026-11-26)");
  const DeviceProfile sheet = roofline_profile();
  CHECK(ComputeModel(sheet, {8, 8, 128, DType::kBf16}).describe(CostSource::kEstimated) ==
        "estimated (roofline from profile toy, datasheet rates)");
}
