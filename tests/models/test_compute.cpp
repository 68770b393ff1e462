// tests/models: compute model (roofline, masks, calibrated interpolation).
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

double rate_of(const ComputeModel& m, const AttentionShape& s, const BlockShape& b) {
  return block_flops(s, b) / to_seconds(m.block_cost(b).time_ns);
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

TEST_CASE("models::ComputeModel: calibrated rate is bilinear in log tokens and clamped at the edges") {
  const DeviceProfile p = calibrated_profile();
  const AttentionShape s{8, 8, 128, DType::kBf16};
  const ComputeModel m(p, s);
  // grid_rate is linear in (log q, log kv), so bilinear interpolation reproduces it.
  for (long long q : {1024LL, 2048LL, 3000LL, 8192LL, 16384LL}) {
    for (long long kv : {1024LL, 1500LL, 2048LL, 6000LL, 16384LL}) {
      CAPTURE(q);
      CAPTURE(kv);
      CHECK(rate_of(m, s, {q, kv, MaskKind::kFull, false}) == doctest::Approx(grid_rate(q, kv)).epsilon(1e-4));
    }
  }
  // Beyond the grid the edge rate is kept.
  CHECK(rate_of(m, s, {512, 512, MaskKind::kFull, false}) == doctest::Approx(grid_rate(1024, 1024)).epsilon(1e-4));
  CHECK(rate_of(m, s, {65536, 65536, MaskKind::kFull, false}) ==
        doctest::Approx(grid_rate(16384, 16384)).epsilon(1e-4));
}

TEST_CASE("models::ComputeModel: calibrated time grows monotonically between grid points") {
  const AttentionShape s{8, 8, 128, DType::kBf16};
  for (int seed = 0; seed < 20; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> rate(50e12, 80e12);
    DeviceProfile p = roofline_profile();
    for (long long q : kGrid) {
      for (long long kv : kGrid) {
        const double r = rate(rng) * (1 + 0.2 * std::log2(q / 1024.0) / 4);  // measured, noisy
        p.attention.push_back({DType::kBf16, 128, 8, 8, MaskKind::kFull, q, kv,
                               block_flops(s, {q, kv, MaskKind::kFull, false}) / r});
      }
    }
    const ComputeModel m(p, s);
    TimeNs last = 0;
    for (long long kv = 1024; kv <= 16384; kv += 256) {
      const TimeNs t = m.block_cost({4096, kv, MaskKind::kFull, false}).time_ns;
      CHECK(t >= last);
      last = t;
    }
  }
}

TEST_CASE("models::ComputeModel: calibrated time scales linearly with heads, preferring the same GQA ratio") {
  DeviceProfile p = calibrated_profile();
  const AttentionShape base{8, 8, 128, DType::kBf16};
  const BlockShape b{4096, 4096, MaskKind::kFull, false};
  const TimeNs t8 = ComputeModel(p, base).block_cost(b).time_ns;
  CHECK(ComputeModel(p, {16, 16, 128, DType::kBf16}).block_cost(b).time_ns == doctest::Approx(2.0 * t8).epsilon(1e-6));
  CHECK(ComputeModel(p, {32, 8, 128, DType::kBf16}).block_cost(b).time_ns == doctest::Approx(4.0 * t8).epsilon(1e-6));
  // Add a GQA (32/8) sample at twice the rate: a 16/4 shape (same ratio) uses it.
  const AttentionShape gqa{32, 8, 128, DType::kBf16};
  p.attention.push_back({DType::kBf16, 128, 32, 8, MaskKind::kFull, 4096, 4096,
                         block_flops(gqa, b) / (2 * grid_rate(4096, 4096))});
  const ComputeModel m16(p, {16, 4, 128, DType::kBf16});
  CHECK(rate_of(m16, {16, 4, 128, DType::kBf16}, b) == doctest::Approx(2 * grid_rate(4096, 4096)).epsilon(1e-4));
}

TEST_CASE("models::ComputeModel: calibrated merge interpolates in elements, falls back to roofline elsewhere") {
  const DeviceProfile p = calibrated_profile();
  const AttentionShape s{8, 8, 128, DType::kBf16};
  const ComputeModel m(p, s);
  const auto merge_ns = [&](long long q) {
    return m.block_cost({q, 4096, MaskKind::kFull, true}).time_ns - m.block_cost({q, 4096, MaskKind::kFull, false}).time_ns;
  };
  CHECK(std::abs(merge_ns(1024) - 10000) <= 1);
  CHECK(std::abs(merge_ns(2560) - 20000) <= 1);  // halfway in elements
  CHECK(std::abs(merge_ns(4096) - 30000) <= 1);
  CHECK(std::abs(merge_ns(8192) - 60000) <= 1);  // proportional beyond the range
  CHECK(std::abs(merge_ns(512) - 5000) <= 1);
  // No causal samples: estimated, with the roofline merge.
  const BlockCost c = m.block_cost({1024, 1024, MaskKind::kCausalDiagonal, true});
  CHECK(c.source == CostSource::kEstimated);
  CHECK(c.time_ns == ceil_ns(4294967296.0 / 2 / 100e12 + 4e-6 + 12681216.0 / 1e12 + 4e-6));
}

TEST_CASE("models::ComputeModel: describe names the card or the roofline") {
  const DeviceProfile cal = calibrated_profile();
  const ComputeModel m(cal, {8, 8, 128, DType::kBf16});
  CHECK(m.describe(CostSource::kCalibrated) == "calibrated on Toy Card (profile toy, 2026-11-26)");
  CHECK(m.describe(CostSource::kEstimated) == "estimated (roofline from profile toy, measured rates)");
  const DeviceProfile sheet = roofline_profile();
  CHECK(ComputeModel(sheet, {8, 8, 128, DType::kBf16}).describe(CostSource::kEstimated) ==
        "estimated (roofline from profile toy, datasheet rates)");
}
