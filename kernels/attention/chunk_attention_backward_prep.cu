// Row preprocessing of the attention backward (API in chunk_attention_backward.hpp):
// D[h, i] = dO[i,h,:] . O[i,h,:] (fp32), and zeroing dQ before a block that
// overwrites it (the fused kernel adds its dQ with reductions). Memory-bound:
// reads 6 bytes per element (fp32 O, 16-bit dO), writes 4 (dQ zeros) when both.
// One (token, head) row per head_dim / 4 threads, 4 elements each.
#include <cstdint>

#include "kernels/attention/chunk_attention_backward_fused.cuh"  // unpack2
#include "kernels/attention/chunk_attention_backward_internal.hpp"
#include "kernels/common/cuda_check.cuh"

namespace ringsim::kernels {
namespace {

constexpr int kPrepThreads = 256;
constexpr int kVec = 4;

struct PrepParams {
  const float* o;
  const void* d_o;
  float* delta;
  float* dq;
  long long o_stride, do_stride, dq_stride, delta_stride, rows;
  int heads, head_dim, threads_per_row;
  bool compute_delta, zero_dq;
};

template <typename T>
__global__ void __launch_bounds__(kPrepThreads) backward_prep_kernel(const PrepParams p) {
  const int rows_per_block = kPrepThreads / p.threads_per_row;
  const long long row = static_cast<long long>(blockIdx.x) * rows_per_block + threadIdx.x / p.threads_per_row;
  const int part = threadIdx.x % p.threads_per_row;
  const bool live = row < p.rows;
  const long long token = row / p.heads;
  const int head = static_cast<int>(row % p.heads);
  const long long col = static_cast<long long>(head) * p.head_dim + part * kVec;
  if (p.compute_delta) {
    float dot = 0.f;
    if (live) {
      const float4 o = *reinterpret_cast<const float4*>(p.o + token * p.o_stride + col);
      const uint2 bits = *reinterpret_cast<const uint2*>(static_cast<const T*>(p.d_o) + token * p.do_stride + col);
      const float2 lo = fused_bwd::unpack2<T>(bits.x), hi = fused_bwd::unpack2<T>(bits.y);
      dot = o.x * lo.x + o.y * lo.y + o.z * hi.x + o.w * hi.y;
    }
    // The threads of a row are aligned lanes of one warp (threads_per_row divides 32).
    for (int off = p.threads_per_row / 2; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    if (live && part == 0) p.delta[head * p.delta_stride + token] = dot;
  }
  if (p.zero_dq && live)
    *reinterpret_cast<float4*>(p.dq + token * p.dq_stride + col) = make_float4(0.f, 0.f, 0.f, 0.f);
}

}  // namespace

Status launch_backward_prep(const ChunkAttentionBackwardArgs& a, float* delta, long long delta_head_stride,
                            bool compute_delta, bool zero_dq, cudaStream_t stream) {
  if (!compute_delta && !zero_dq) return {};
  const PrepParams p{a.o, a.d_o, delta, a.d_q, a.o_token_stride, a.do_token_stride, a.dq_token_stride,
                     delta_head_stride, a.q_tokens * a.q_heads, a.q_heads, a.head_dim, a.head_dim / kVec,
                     compute_delta, zero_dq};
  const int rows_per_block = kPrepThreads / p.threads_per_row;
  const long long blocks = (p.rows + rows_per_block - 1) / rows_per_block;
  if (blocks == 0) return {};
  if (blocks > 0x7fffffffLL) return invalid("backward prep: too many rows for one launch");
  if (a.dtype == Dtype::kBf16)
    backward_prep_kernel<__nv_bfloat16><<<static_cast<unsigned>(blocks), kPrepThreads, 0, stream>>>(p);
  else
    backward_prep_kernel<__half><<<static_cast<unsigned>(blocks), kPrepThreads, 0, stream>>>(p);
  return cuda_status(cudaGetLastError(), "backward_prep_kernel launch");
}

}  // namespace ringsim::kernels
