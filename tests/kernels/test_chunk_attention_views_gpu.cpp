// GPU tests of what the Hopper kernel does differently from the portable one
// (suite 'gpu'): tensor maps over padded token strides and offset sub-views,
// the persistent tile loop over more tiles than SMs, a block without keys.
// Every fused implementation runs them; the fp64 reference is the oracle.
#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include "tests/kernels/chunk_gpu_fixtures.hpp"

using namespace ringsim::kernels;
using namespace ringsim::kernels::test;

namespace {

const KernelChoice kFusedKernels[] = {
    {AttentionVariant::kFusedPortable, FusedTile::kAuto},
    {AttentionVariant::kFusedSm90, FusedTile::kAuto, Sm90Tile::kN128},
    {AttentionVariant::kFusedSm90, FusedTile::kAuto, Sm90Tile::kNWide},
    {AttentionVariant::kFused}};

// Rows of `width` values out of rows of `stride` values (dropping the padding).
std::vector<double> unpad(const std::vector<double>& x, long long rows, long long width,
                          long long stride) {
  std::vector<double> out(rows * width);
  for (long long r = 0; r < rows; ++r)
    std::copy(x.begin() + r * stride, x.begin() + r * stride + width, out.begin() + r * width);
  return out;
}

bool is_poison(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u == 0xffffffffu;
}

// A block whose every tensor is a sub-view: token strides padded past the
// row (inputs by 8-element multiples, O by 4), the LSE head stride past
// q_tokens, random values in the input padding. Checks the dense part against
// fp64 and that no padding of O or LSE was written.
void check_padded(const Case& c, const KernelChoice& k, std::mt19937_64& rng) {
  const long long qw = c.q_heads * c.head_dim, kw = c.kv_heads * c.head_dim;
  const long long q_stride = qw + 24, kv_stride = kw + 40, o_stride = qw + 12, lse_stride = c.q + 7;
  const auto hq = random_exact(c.q * q_stride, c.dtype, rng);
  const auto hk = random_exact(c.kv * kv_stride, c.dtype, rng);
  const auto hv = random_exact(c.kv * kv_stride, c.dtype, rng);
  DeviceArray<uint16_t> q(hq.size()), kk(hk.size()), v(hv.size());
  q.upload(to_bits(hq, c.dtype));
  kk.upload(to_bits(hk, c.dtype));
  v.upload(to_bits(hv, c.dtype));
  DeviceArray<float> o(c.q * o_stride), lse(c.q_heads * lse_stride);
  o.poison();
  lse.poison();
  ChunkAttentionArgs a{c.dtype, c.mask, c.head_dim, c.q_heads, c.kv_heads, c.q, c.kv,
                       q.ptr, kk.ptr, v.ptr, o.ptr, lse.ptr, q_stride, kv_stride, o_stride, lse_stride};
  run_block(a, k, nullptr);
  const auto dq = unpad(hq, c.q, qw, q_stride), dk = unpad(hk, c.kv, kw, kv_stride),
             dv = unpad(hv, c.kv, kw, kv_stride);
  std::vector<double> ro(c.q * qw), rlse(c.q * c.q_heads);
  attention_forward_cpu({c.q_heads, c.kv_heads, c.head_dim, c.q, c.kv, c.mask}, dq.data(), dk.data(),
                        dv.data(), ro.data(), rlse.data());
  const auto go = o.download(), glse = lse.download();
  std::vector<float> o_dense(c.q * qw), lse_dense(c.q * c.q_heads);
  bool padding_kept = true;
  for (long long r = 0; r < c.q; ++r)
    for (long long j = 0; j < o_stride; ++j) {
      if (j < qw) o_dense[r * qw + j] = go[r * o_stride + j];
      else padding_kept &= is_poison(go[r * o_stride + j]);
    }
  for (int h = 0; h < c.q_heads; ++h)
    for (long long i = 0; i < lse_stride; ++i) {
      if (i < c.q) lse_dense[h * c.q + i] = glse[h * lse_stride + i];
      else padding_kept &= is_poison(glse[h * lse_stride + i]);
    }
  CHECK(padding_kept);
  check_errors(compare(o_dense, ro, lse_dense, rlse), c.dtype);
}

}  // namespace

TEST_CASE("kernels::chunk_attention: padded token strides and strided LSE are read and written as sub-views by every fused kernel") {
  std::mt19937_64 rng(31);
  int seed = 0;
  for (const KernelChoice& k : kFusedKernels) {
    if (!runs_here(k)) continue;
    for (Dtype dt : {Dtype::kBf16, Dtype::kFp16})
      for (int d : {64, 128})
        for (const Case& c : {Case{dt, d, 4, 2, 200, 333, Mask::kFull}, Case{dt, d, 4, 1, 300, 300, Mask::kCausal}}) {
          ++seed;
          CAPTURE(seed);
          CAPTURE_TEXT(variant_name(k.kind));
          CAPTURE_TEXT(sm90_tile_name(k.sm90, d));
          CAPTURE_TEXT(dtype_name(dt));
          CAPTURE(d);
          CAPTURE_TEXT(mask_name(c.mask));
          check_padded(c, k, rng);
        }
  }
}

TEST_CASE("kernels::chunk_attention: more query tiles than SMs are all computed (persistent tile loop, GQA)") {
  // 64 heads x 3 tiles of 128 rows = 192 tiles > 132 SMs: CTAs of the Hopper
  // kernel take several tiles, so Q and the K/V rings change phase across
  // tiles, and causal tiles of different lengths share a CTA.
  CublasHandle cublas;
  std::mt19937_64 rng(41);
  const Case cases[] = {{Dtype::kBf16, 128, 64, 64, 260, 260, Mask::kFull},
                        {Dtype::kBf16, 128, 64, 16, 260, 260, Mask::kCausal},
                        {Dtype::kFp16, 64, 64, 16, 260, 260, Mask::kFull},
                        {Dtype::kBf16, 64, 64, 64, 260, 260, Mask::kZigzag}};
  int seed = 0;
  for (Sm90Tile tile : {Sm90Tile::kN128, Sm90Tile::kNWide}) {
    const KernelChoice k{AttentionVariant::kFusedSm90, FusedTile::kAuto, tile};
    if (!runs_here(k)) {
      MESSAGE("skipped: the sm90 kernel needs an sm_90 GPU and an sm_90a build");
      return;
    }
    for (const Case& c : cases) {
      ++seed;
      CAPTURE(seed);
      CAPTURE_TEXT(sm90_tile_name(tile, c.head_dim));
      CAPTURE(c.head_dim);
      CAPTURE(c.kv_heads);
      CAPTURE_TEXT(mask_name(c.mask));
      check_case(c, k, cublas.h, rng);
    }
  }
}

TEST_CASE("kernels::chunk_attention: a block without keys gives O = 0 and LSE = -inf through every fused variant") {
  CublasHandle cublas;
  std::mt19937_64 rng(43);
  const KernelChoice kernels[] = {{AttentionVariant::kFused}, {AttentionVariant::kFusedPortable},
                                  {AttentionVariant::kFusedSm90}};
  for (const KernelChoice& k : kernels) {
    if (!runs_here(k)) continue;
    CAPTURE_TEXT(variant_name(k.kind));
    check_case({Dtype::kBf16, 128, 4, 2, 70, 0, Mask::kFull}, k, cublas.h, rng);
  }
}
