// tests/models: the compute model on the shipped measured profiles, against
// the examples of issue 9 and against measurements it was not given (samples
// held out of the profile, the other card's samples). The oracles are the
// measured samples themselves and the properties the issue asks for.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "models/compute_model.hpp"
#include "models/sample_check.hpp"

using namespace ringsim;

namespace {

double seconds(const DeviceProfile& p, const AttentionShape& s, const BlockShape& b) {
  return to_seconds(ComputeModel(p, s).block_cost(b).time_ns);
}

const AttentionSample& sample(const DeviceProfile& p, DType dt, int d, int heads, MaskKind mask, long long q,
                              long long kv) {
  for (const AttentionSample& a : p.attention)
    if (a.dtype == dt && a.head_dim == d && a.q_heads == heads && a.mask == mask && a.q_tokens == q &&
        a.kv_tokens == kv)
      return a;
  FAIL("no such sample in " << p.name);
  return p.attention.front();
}

DeviceProfile only_heads(DeviceProfile p, int heads) {
  std::erase_if(p.attention, [&](const AttentionSample& a) { return a.q_heads != heads; });
  return p;
}

}  // namespace

TEST_CASE("models::ComputeModel on h100-sxm: a one-GPU 8-head d64 fp16 ring below the grid (issue 9)") {
  const DeviceProfile p = load_profile("h100-sxm", "");
  const AttentionShape s{8, 8, 64, DType::kFp16};
  const ComputeModel m(p, s);
  // One block of n x n, no merge; n fills whole key tiles (64 keys): a
  // 480-key block runs the 8 tiles of 512, as the real kernel does.
  double last_rate = 1e300;
  for (long long n = 512; n >= 1; n = n > 64 ? n - 64 : n / 2) {
    CAPTURE(n);
    const BlockCost c = m.block_cost({n, n, MaskKind::kFull, false});
    CHECK(to_seconds(c.time_ns) >= p.launch_overhead_s);  // the 64-token point was 0.55 us
    const double rate = double(n) / to_seconds(c.time_ns);
    CHECK(rate <= last_rate);                            // tokens/s never rises as n shrinks
    last_rate = rate;
    CHECK(c.source == (n == 512 ? CostSource::kCalibrated : CostSource::kEstimated));
    if (n < 512) CHECK(c.reason.find("outside the sampled grid") != std::string::npos);
  }
}

TEST_CASE("models::ComputeModel on the shipped cards: 8-head samples predicted from 32-head samples alone") {
  for (const char* name : {"h100-sxm", "h200-sxm"}) {
    CAPTURE(name);
    const DeviceProfile full = load_profile(name, "");
    const DeviceProfile p32 = only_heads(full, 32);
    int inside = 0;
    for (const AttentionSample& a : full.attention) {
      if (a.q_heads != 8 || a.suspect) continue;
      CAPTURE(a.q_tokens);
      CAPTURE(a.kv_tokens);
      CAPTURE(mask_name(a.mask));
      const BlockCost c = ComputeModel(p32, {8, 8, a.head_dim, a.dtype}).block_cost({a.q_tokens, a.kv_tokens, a.mask, false});
      if (c.source != CostSource::kCalibrated) continue;  // off the 32-head grid: estimated, not checked here
      ++inside;
      CHECK(to_seconds(c.time_ns) == doctest::Approx(a.seconds).epsilon(0.05));
    }
    CHECK(inside >= 96);  // every full-mask block with >= 128 CTAs: 4 q x 6 kv x 2 dtypes x 2 head dims
  }
}

TEST_CASE("models::ComputeModel on h100-sxm: 8 vs 32 heads at 512 x 512 and one head at 4096 x 4096 (issue 9)") {
  const DeviceProfile full = load_profile("h100-sxm", "");
  const DeviceProfile p32 = only_heads(full, 32);
  // 8 heads at 512 x 512 d64: one partial wave like 32 heads, not a quarter of its time.
  const AttentionSample& h8 = sample(full, DType::kBf16, 64, 8, MaskKind::kFull, 512, 512);
  CHECK(seconds(p32, {8, 8, 64, DType::kBf16}, {512, 512, MaskKind::kFull, false}) ==
        doctest::Approx(h8.seconds).epsilon(0.06));
  // One head at 4096 x 4096 d128: the 32 CTAs and 4096 keys of the 8-head q512 x kv4096 sample.
  const AttentionSample& same_ctas = sample(full, DType::kBf16, 128, 8, MaskKind::kFull, 512, 4096);
  const AttentionShape one{1, 1, 128, DType::kBf16};
  const BlockShape b{4096, 4096, MaskKind::kFull, false};
  CHECK(seconds(p32, one, b) == doctest::Approx(same_ctas.seconds).epsilon(0.05));  // from 32 heads: estimated
  CHECK(ComputeModel(p32, one).block_cost(b).source == CostSource::kEstimated);
  CHECK(seconds(full, one, b) == doctest::Approx(same_ctas.seconds).epsilon(1e-4));  // the sample itself
  CHECK(ComputeModel(full, one).block_cost(b).source == CostSource::kCalibrated);
}

TEST_CASE("models::ComputeModel on h100-sxm: a sample the check flags does not set the default 8-GPU row") {
  // The 2026-11-26 calibration read bf16 d128 32 heads q16384 x kv8192 at 315.5
  // TFLOP/s between neighbours at 352 and 343 (one noisy sample moved the
  // default scenario's 8-GPU row by 9%). Replay that: slow the sample 12%.
  DeviceProfile h100 = load_profile("h100-sxm", "");
  const DeviceProfile h200 = load_profile("h200-sxm", "");  // same SMs and clocks, another card and run
  const AttentionShape s{32, 8, 128, DType::kBf16};         // scenarios/default.yaml
  const BlockShape lower{16384, 8192, MaskKind::kFull, false};  // its 8-GPU zigzag lower block
  const double clean_s = seconds(h100, s, lower);
  for (AttentionSample& a : h100.attention)
    if (a.dtype == DType::kBf16 && a.head_dim == 128 && a.q_heads == 32 && a.mask == MaskKind::kFull &&
        a.q_tokens == 16384 && a.kv_tokens == 8192)
      a.seconds *= 1.12;
  CHECK(flag_suspect_samples(h100.attention) >= 1);
  CHECK(sample(h100, DType::kBf16, 128, 32, MaskKind::kFull, 16384, 8192).suspect);
  const double flops = block_flops(s, lower);
  CHECK(ComputeModel(h100, s).block_cost(lower).source == CostSource::kCalibrated);  // bracketed by the others
  const double rate = flops / seconds(h100, s, lower);
  const AttentionSample& other = sample(h200, DType::kBf16, 128, 32, MaskKind::kFull, 16384, 8192);
  CHECK(rate == doctest::Approx(flops / other.seconds).epsilon(0.05));
  CHECK(seconds(h100, s, lower) < 1.05 * clean_s);  // the neighbours set it, not the slowed sample
  DeviceProfile unflagged = h100;
  for (AttentionSample& a : unflagged.attention) a.suspect = false;
  CHECK(seconds(unflagged, s, lower) > 1.08 * seconds(h100, s, lower));  // what the flag keeps out
}

TEST_CASE("models::sample_check: the shipped profiles carry exactly the flags the check finds") {
  for (const std::string& name : shipped_profile_names()) {
    CAPTURE(name);
    const DeviceProfile p = load_profile(name, "");
    std::vector<AttentionSample> fresh = p.attention;
    for (AttentionSample& a : fresh) a.suspect = false, a.reason.clear();
    flag_suspect_samples(fresh);
    for (std::size_t i = 0; i < fresh.size(); ++i) {
      CAPTURE(i);
      CHECK(fresh[i].suspect == p.attention[i].suspect);
      CHECK(fresh[i].reason == p.attention[i].reason);
    }
  }
}
