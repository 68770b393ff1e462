// tests/models: the calibration's FLOPs monotonicity check on synthetic
// sample lines whose breaks are placed by hand.
#include <doctest/doctest.h>

#include <random>

#include "models/compute_model.hpp"
#include "models/sample_check.hpp"

using namespace ringsim;

namespace {

// A full-mask 32-head d128 grid, q and kv 512..16384, at a saturating rate
// r(q, kv) = 350 - 150 * 512^2 / (q * kv) TFLOP/s times (1 + noise).
std::vector<AttentionSample> grid(double noise, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-noise, noise);
  std::vector<AttentionSample> out;
  const AttentionShape s{32, 32, 128, DType::kBf16};
  for (long long q = 512; q <= 16384; q *= 2)
    for (long long kv = 512; kv <= 16384; kv *= 2) {
      const double rate = (350 - 150 * 512.0 * 512.0 / double(q * kv)) * 1e12 * (1 + u(rng));
      out.push_back({DType::kBf16, 128, 32, 32, MaskKind::kFull, q, kv,
                     block_flops(s, {q, kv, MaskKind::kFull, false}) / rate});
    }
  return out;
}

std::size_t index_of(const std::vector<AttentionSample>& v, long long q, long long kv) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i].q_tokens == q && v[i].kv_tokens == kv) return i;
  FAIL("no sample");
  return 0;
}

}  // namespace

TEST_CASE("models::sample_check: smooth saturating samples with noise below the tolerance are not flagged") {
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    CAPTURE(seed);
    CHECK(find_suspect_samples(grid(0.02, seed)).empty());  // +-2%: at most a 4% dip between neighbours
  }
}

TEST_CASE("models::sample_check: a dip in rate between two neighbours is flagged with the line it breaks") {
  std::vector<AttentionSample> v = grid(0, 1);
  const std::size_t i = index_of(v, 4096, 2048);
  v[i].seconds *= 1.08;  // rate 7.4% below its interpolation, below both neighbours
  const auto found = find_suspect_samples(v);
  REQUIRE(found.size() == 1);
  CHECK(found[0].index == i);
  CHECK(found[0].reason.find("below both neighbours") != std::string::npos);
  CHECK(found[0].reason.find("bf16 d128 32/32 heads full q 4096") != std::string::npos);
  v[i].seconds /= 1.08;
  v[i].seconds *= 1.03;  // a 3% dip is within the calibrations' noise
  CHECK(find_suspect_samples(v).empty());
}

TEST_CASE("models::sample_check: a rate that falls at the large end of a line is flagged") {
  std::vector<AttentionSample> v = grid(0, 2);
  const std::size_t i = index_of(v, 16384, 16384);
  v[i].seconds *= 1.07;
  const auto found = find_suspect_samples(v);
  REQUIRE(found.size() == 1);
  CHECK(found[0].index == i);
  CHECK(found[0].reason.find("below the previous sample") != std::string::npos);
}

TEST_CASE("models::sample_check: time falling as FLOPs rise flags the sample whose rate is off the line") {
  std::vector<AttentionSample> v = grid(0, 3);
  const std::size_t i = index_of(v, 1024, 8192), next = index_of(v, 1024, 16384);
  v[next].seconds = 0.9 * v[i].seconds;  // twice the FLOPs in 10% less time: the fast one is wrong
  const auto found = find_suspect_samples(v);
  REQUIRE_FALSE(found.empty());
  CHECK(found.back().index == next);
  CHECK(found.back().reason.find("time falls 10.0%") != std::string::npos);
  CHECK(flag_suspect_samples(v) == found.size());
  CHECK(v[next].suspect);
  CHECK(v[next].reason == found.back().reason);
  CHECK_FALSE(v[i].suspect);
}

TEST_CASE("models::sample_check: causal diagonals are checked along q = kv") {
  std::vector<AttentionSample> v;
  const AttentionShape s{8, 8, 64, DType::kFp16};
  const double rates[] = {60, 110, 170, 230, 200, 300};  // TFLOP/s; 8192 dips 13%
  long long n = 512;
  for (double r : rates) {
    v.push_back({DType::kFp16, 64, 8, 8, MaskKind::kCausalDiagonal, n, n,
                 block_flops(s, {n, n, MaskKind::kCausalDiagonal, false}) / (r * 1e12)});
    n *= 2;
  }
  const auto found = find_suspect_samples(v);
  REQUIRE(found.size() == 1);
  CHECK(v[found[0].index].q_tokens == 8192);
  CHECK(found[0].reason.find("fp16 d64 8/8 heads causal q = kv") != std::string::npos);
}
