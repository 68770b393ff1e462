// Fixtures of the forward GPU kernel tests (suite 'gpu'), on top of
// gpu_fixtures.hpp (device arrays, cuBLAS handle, Case, tolerance): error
// measures against the fp64 reference, and one block run through any variant
// (portable tilings, Hopper tilings, the dispatcher, cuBLAS).
#pragma once
#include <doctest/doctest.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention/attention_ref.hpp"
#include "kernels/attention/chunk_attention_internal.hpp"
#include "kernels/common/host_tensor.hpp"
#include "tests/kernels/gpu_fixtures.hpp"

namespace ringsim::kernels::test {

// CAPTURE of a name: doctest 2.4 prints a const char* as an address.
#define CAPTURE_TEXT(expr) CAPTURE(std::string(expr))

struct Errors {
  double rel = 0, lse = 0;
  bool finite = true;
};

// ||out - ref|| / ||ref|| over O; max |LSE - ref| (matching -inf counts as 0).
inline Errors compare(const std::vector<float>& o, const std::vector<double>& ro,
                      const std::vector<float>& lse, const std::vector<double>& rlse) {
  Errors e;
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < o.size(); ++i) {
    e.finite &= std::isfinite(o[i]);
    diff += (o[i] - ro[i]) * (o[i] - ro[i]);
    norm += ro[i] * ro[i];
  }
  e.rel = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
  for (std::size_t i = 0; i < lse.size(); ++i) {
    if (std::isinf(rlse[i]) && lse[i] == -INFINITY) continue;
    if (std::isnan(lse[i])) e.finite = false;
    e.lse = std::max(e.lse, std::fabs(lse[i] - rlse[i]));
  }
  return e;
}

inline void check_errors(const Errors& e, Dtype dt) {
  CAPTURE(e.rel);
  CAPTURE(e.lse);
  CHECK(e.finite);
  CHECK(e.rel < tolerance(dt));
  CHECK(e.lse < 1e-3);
}

// Which implementation runs a block: kFusedPortable with `tile`, kFusedSm90
// with `sm90`; with both tiles kAuto, the variant through the public
// chunk_attention_forward (the dispatcher and its fallbacks).
struct KernelChoice {
  AttentionVariant kind;
  FusedTile tile = FusedTile::kAuto;
  Sm90Tile sm90 = Sm90Tile::kAuto;
};

inline bool runs_here(const KernelChoice& k) {
  return k.kind != AttentionVariant::kFusedSm90 || sm90_kernel_available();
}

// Enqueues one block (arguments as the API takes them) and waits for it.
inline void run_block(const ChunkAttentionArgs& a, const KernelChoice& k, cublasHandle_t cublas) {
  if (k.tile == FusedTile::kAuto && k.sm90 == Sm90Tile::kAuto) {
    DeviceArray<unsigned char> ws(chunk_attention_workspace_bytes(a, k.kind));
    REQUIRE_OK(chunk_attention_forward(a, k.kind, ws.ptr, ws.n, cublas, nullptr));
    REQUIRE_CUDA(cudaDeviceSynchronize());
    return;
  }
  ChunkAttentionArgs r;
  REQUIRE_OK(resolve_args(a, &r));
  if (k.kind == AttentionVariant::kFusedSm90) REQUIRE_OK(launch_sm90_attention(r, k.sm90, nullptr));
  else REQUIRE_OK(launch_fused_attention(r, k.tile, nullptr));
  REQUIRE_CUDA(cudaDeviceSynchronize());
}


// Runs one dense block with `k` on fresh inputs and checks it against fp64.
inline void check_case(const Case& c, const KernelChoice& k, cublasHandle_t cublas,
                       std::mt19937_64& rng) {
  const auto hq = random_exact(c.q * c.q_heads * c.head_dim, c.dtype, rng);
  const auto hk = random_exact(c.kv * c.kv_heads * c.head_dim, c.dtype, rng);
  const auto hv = random_exact(c.kv * c.kv_heads * c.head_dim, c.dtype, rng);
  DeviceArray<uint16_t> q(hq.size()), kk(hk.size()), v(hv.size());
  q.upload(to_bits(hq, c.dtype));
  kk.upload(to_bits(hk, c.dtype));
  v.upload(to_bits(hv, c.dtype));
  DeviceArray<float> o(hq.size()), lse(c.q * c.q_heads);
  o.poison();
  lse.poison();
  ChunkAttentionArgs a{c.dtype, c.mask, c.head_dim, c.q_heads, c.kv_heads, c.q, c.kv,
                       q.ptr, kk.ptr, v.ptr, o.ptr, lse.ptr};
  a.softmax_scale = c.softmax_scale;
  run_block(a, k, cublas);
  std::vector<double> ro(hq.size()), rlse(c.q * c.q_heads);
  attention_forward_cpu({c.q_heads, c.kv_heads, c.head_dim, c.q, c.kv, c.mask}, hq.data(),
                        hk.data(), hv.data(), ro.data(), rlse.data(), c.softmax_scale);
  check_errors(compare(o.download(), ro, lse.download(), rlse), c.dtype);
}

}  // namespace ringsim::kernels::test
