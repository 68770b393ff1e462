// tests/models: the compute model's (CTAs, keys) plane and its pricing off
// the samples (models/block_grid.hpp), on a synthetic card whose block time
// is a closed form: t = a + b * CTAs * keys, CTAs = ceil(q / 128) * heads.
// Each expectation is computed here from that closed form and the documented
// rules, not read back from the model.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "models/compute_model.hpp"

using namespace ringsim;

namespace {

constexpr double kFixedS = 8e-6;         // a: the kernel's fixed part
constexpr double kPerCtaKeyS = 2e-10;    // b: per CTA and key
constexpr double kLaunchS = 3e-6;
constexpr int kSms = 16, kCtasPerSm = 2;  // a wave: 32 CTAs
constexpr int kBlockM = 128, kBlockN = 64;

double ctas(long long q, int heads) { return std::ceil(double(q) / kBlockM) * heads; }
double closed_form(long long q, long long kv, int heads) { return kFixedS + kPerCtaKeyS * ctas(q, heads) * kv; }

// 8 heads, q and kv in 512..4096: CTAs 32..256 (1 to 8 waves), keys 512..4096.
DeviceProfile wave_profile(int heads = 8) {
  DeviceProfile p;
  p.name = "waves";
  p.card = "Wave Card";
  p.measured = true;
  p.memory_bytes = 80e9;
  p.hbm_bytes_per_s = 1e12;
  p.flops_per_s = {{DType::kBf16, 1000e12}};
  p.launch_overhead_s = kLaunchS;
  p.sm_count = kSms;
  p.tile = {kBlockM, kBlockN, kCtasPerSm};
  for (long long q = 512; q <= 4096; q *= 2)
    for (long long kv = 512; kv <= 4096; kv *= 2)
      p.attention.push_back({DType::kBf16, 128, heads, heads, MaskKind::kFull, q, kv, closed_form(q, kv, heads)});
  return p;
}

double seconds(const DeviceProfile& p, int heads, long long q, long long kv) {
  return to_seconds(ComputeModel(p, {heads, heads, 128, DType::kBf16}).block_cost({q, kv, MaskKind::kFull, false}).time_ns);
}

BlockCost cost(const DeviceProfile& p, int heads, long long q, long long kv) {
  return ComputeModel(p, {heads, heads, 128, DType::kBf16}).block_cost({q, kv, MaskKind::kFull, false});
}

}  // namespace

TEST_CASE("models::ComputeModel: inside the samples, time is bilinear in (CTAs, keys)") {
  const DeviceProfile p = wave_profile();
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200; ++i) {
    const long long q = 512 + static_cast<long long>(rng() % 3585), kv = 512 + static_cast<long long>(rng() % 3585);
    CAPTURE(q);
    CAPTURE(kv);
    const BlockCost c = cost(p, 8, q, kv);
    CHECK(c.source == CostSource::kCalibrated);
    CHECK(c.reason.empty());
    CHECK(to_seconds(c.time_ns) == doctest::Approx(closed_form(q, kv, 8)).epsilon(1e-6));
  }
}

TEST_CASE("models::ComputeModel: heads trade for CTAs; equal CTAs and keys cost the same") {
  const DeviceProfile p = wave_profile();  // 8-head samples only
  // 16 heads at q = 1024 launch the 128 CTAs of 8 heads at q = 2048; 1 head at
  // q = 4096 the 32 CTAs of 8 heads at q = 512. Not 2x and 1/8 of the 8-head time.
  for (long long kv : {512LL, 1500LL, 4096LL}) {
    CAPTURE(kv);
    CHECK(cost(p, 16, 1024, kv).source == CostSource::kCalibrated);
    CHECK(seconds(p, 16, 1024, kv) == doctest::Approx(closed_form(2048, kv, 8)).epsilon(1e-6));
    CHECK(seconds(p, 1, 4096, kv) == doctest::Approx(closed_form(512, kv, 8)).epsilon(1e-6));
    CHECK(seconds(p, 32, 512, kv) == doctest::Approx(closed_form(2048, kv, 8)).epsilon(1e-6));
  }
}

TEST_CASE("models::ComputeModel: more CTAs than sampled scale by whole waves, fewer within one wave do not") {
  const DeviceProfile p = wave_profile();
  for (long long kv : {512LL, 4096LL}) {
    CAPTURE(kv);
    // 8 heads at q = 16384: 1024 CTAs = 32 waves; the nearest sample, 256 CTAs, is 8 waves.
    const BlockCost big = cost(p, 8, 16384, kv);
    CHECK(big.source == CostSource::kEstimated);
    CHECK(big.reason.find("outside the sampled grid") != std::string::npos);
    CHECK(to_seconds(big.time_ns) == doctest::Approx(closed_form(4096, kv, 8) * 32 / 8).epsilon(1e-6));
    // 8 heads at q = 4200: 264 CTAs, 9 waves (8.25 rounded up) against 8.
    CHECK(seconds(p, 8, 4200, kv) == doctest::Approx(closed_form(4096, kv, 8) * 9 / 8).epsilon(1e-6));
    // One head at q = 128: 1 CTA, the same wave as the 32-CTA sample: the same time.
    CHECK(seconds(p, 1, 128, kv) == doctest::Approx(closed_form(512, kv, 8)).epsilon(1e-6));
  }
}

TEST_CASE("models::ComputeModel: keys beyond the samples follow the fixed part plus a time per key tile") {
  const DeviceProfile p = wave_profile();
  // Along a column the samples lie on a + b' * keys, so a is the closed form's
  // fixed part and both directions stay on the line (keys multiples of 64).
  for (long long kv : {64LL, 128LL, 256LL, 8192LL, 65536LL}) {
    CAPTURE(kv);
    const BlockCost c = cost(p, 8, 2048, kv);
    CHECK(c.source == CostSource::kEstimated);
    CHECK(to_seconds(c.time_ns) == doctest::Approx(closed_form(2048, kv, 8)).epsilon(1e-6));
  }
  // Keys count in tiles of block_n: 65 keys take the two tiles of 128.
  CHECK(seconds(p, 8, 2048, 65) == doctest::Approx(closed_form(2048, 128, 8)).epsilon(1e-6));
}

TEST_CASE("models::ComputeModel: below the samples the fixed part is kept between the launch floor and the sample") {
  DeviceProfile p = wave_profile();
  // Samples through the origin (no fixed part): the line would reach 0 s at 0
  // keys; the launch overhead holds it up.
  for (AttentionSample& a : p.attention) a.seconds -= kFixedS;
  const double edge = kPerCtaKeyS * ctas(2048, 8) * 512;  // the 512-key sample
  for (long long kv : {64LL, 256LL}) {
    CAPTURE(kv);
    CHECK(seconds(p, 8, 2048, kv) == doctest::Approx(kLaunchS + (edge - kLaunchS) * kv / 512).epsilon(1e-6));
  }
  CHECK(seconds(p, 1, 1, 1) >= kLaunchS);  // never below one launch
  p.launch_overhead_s = 1e-3;  // a launch slower than every sample: the floor holds inside and out
  for (long long n : {1LL, 100LL, 1024LL, 65536LL}) {
    CAPTURE(n);
    CHECK(seconds(p, 8, n, 1024) >= 1e-3);
    CHECK(seconds(p, 64, 1024, n) >= 1e-3);
  }
}

TEST_CASE("models::ComputeModel: without SM count or tile, fewer CTAs are never faster and more are proportional") {
  DeviceProfile p = wave_profile();
  p.sm_count = 0;
  p.tile = {};
  // CTAs now count query rows times heads (q * heads), still a linear map of
  // the CTAs for q a multiple of 128, so inside nothing changes.
  CHECK(seconds(p, 8, 1024, 1024) == doctest::Approx(closed_form(1024, 1024, 8)).epsilon(1e-6));
  CHECK(seconds(p, 8, 16384, 1024) == doctest::Approx(closed_form(4096, 1024, 8) * 4).epsilon(1e-6));
  CHECK(seconds(p, 1, 256, 1024) == doctest::Approx(closed_form(512, 1024, 8)).epsilon(1e-6));
}

TEST_CASE("models::ComputeModel: tokens per second never rises as a one-block ring shrinks below the samples") {
  // Inside the samples a smaller block may give more tokens/s (attention is
  // quadratic); below them the kernel's fixed part dominates and it must not.
  const DeviceProfile p = wave_profile();
  double last_rate = 0;
  for (long long n = 1; n <= 512; n += (n < 64 ? 1 : n / 16)) {
    CAPTURE(n);
    const double rate = double(n) / seconds(p, 8, n, n);
    CHECK(rate >= last_rate * (1 - 1e-9));
    last_rate = rate;
    CHECK(cost(p, 8, n, n).source == (n == 512 ? CostSource::kCalibrated : CostSource::kEstimated));
  }
}

TEST_CASE("models::ComputeModel: suspect samples are left out unless nothing else is left") {
  DeviceProfile p = wave_profile();
  const auto at = [&](long long q, long long kv) -> AttentionSample& {
    for (AttentionSample& a : p.attention)
      if (a.q_tokens == q && a.kv_tokens == kv) return a;
    FAIL("no sample");
    return p.attention.front();
  };
  at(2048, 2048).seconds *= 1.3;  // a noisy sample
  CHECK(seconds(p, 8, 2048, 2048) == doctest::Approx(1.3 * closed_form(2048, 2048, 8)).epsilon(1e-6));
  at(2048, 2048).suspect = true;
  at(2048, 2048).reason = "test";
  CHECK(seconds(p, 8, 2048, 2048) == doctest::Approx(closed_form(2048, 2048, 8)).epsilon(1e-6));
  for (AttentionSample& a : p.attention) a.suspect = true;  // nothing else: use them all
  CHECK(seconds(p, 8, 2048, 2048) == doctest::Approx(1.3 * closed_form(2048, 2048, 8)).epsilon(1e-6));
}

TEST_CASE("models::ComputeModel: samples of the same GQA ratio are preferred, MHA samples stand in otherwise") {
  DeviceProfile p = wave_profile();
  // GQA 32/8 samples twice as fast as the closed form (K/V shared by 4 heads).
  for (long long q = 512; q <= 1024; q *= 2)
    for (long long kv = 512; kv <= 4096; kv *= 2)
      p.attention.push_back({DType::kBf16, 128, 32, 8, MaskKind::kFull, q, kv, closed_form(q, kv, 32) / 2});
  const auto gqa = [&](int qh, int kvh) {
    return to_seconds(ComputeModel(p, {qh, kvh, 128, DType::kBf16}).block_cost({512, 1024, MaskKind::kFull, false}).time_ns);
  };
  CHECK(gqa(32, 8) == doctest::Approx(closed_form(512, 1024, 32) / 2).epsilon(1e-6));
  CHECK(gqa(64, 16) == doctest::Approx(closed_form(1024, 1024, 32) / 2).epsilon(1e-6));  // 256 CTAs, ratio 4
  CHECK(gqa(32, 32) == doctest::Approx(closed_form(512, 1024, 32)).epsilon(1e-6));       // MHA: the 8-head samples
}
