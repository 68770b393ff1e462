// Ring-step merge of a block's (O, LSE) into the running accumulator (API in
// kernels/attention/chunk_attention.hpp; fp64 reference: attention_merge_cpu).
// Memory-bound: 12 bytes per element (read acc and block, write acc). Threads
// of one (token, head) row sit in one block, so the row's LSE is read by all of
// them before one writes it back.
#include <cstdint>

#include "kernels/attention/chunk_attention.hpp"
#include "kernels/common/cuda_check.cuh"

namespace ringsim::kernels {
namespace {

constexpr int kMergeThreads = 256;
constexpr int kVec = 4;  // float4 per thread

struct MergeParams {
  float* acc_o;
  float* acc_lse;
  const float* o;
  const float* lse;
  long long acc_o_stride, o_stride, acc_lse_stride, lse_stride, rows;
  int heads, threads_per_row;
};

__global__ void __launch_bounds__(kMergeThreads) attention_merge_kernel(const MergeParams p) {
  const int rows_per_block = kMergeThreads / p.threads_per_row;
  const long long row = static_cast<long long>(blockIdx.x) * rows_per_block + threadIdx.x / p.threads_per_row;
  const int part = threadIdx.x % p.threads_per_row;
  const bool live = row < p.rows && threadIdx.x < rows_per_block * p.threads_per_row;
  float new_lse = 0.f;
  if (live) {
    const long long token = row / p.heads;
    const int head = static_cast<int>(row % p.heads);
    const float a = p.acc_lse[head * p.acc_lse_stride + token];
    const float b = p.lse[head * p.lse_stride + token];
    const float m = fmaxf(a, b);
    float wa = 1.f, wb = 0.f;  // both -inf: leave the accumulator as it is
    new_lse = a;
    if (m != -__builtin_huge_valf()) {
      wa = __expf(a - m);  // exp(-inf) = 0
      wb = __expf(b - m);
      const float sum = wa + wb;
      new_lse = m + __logf(sum);
      wa /= sum;
      wb /= sum;
    }
    const int dim = part * kVec;
    float4* acc = reinterpret_cast<float4*>(p.acc_o + token * p.acc_o_stride + head * (p.threads_per_row * kVec) + dim);
    const float4 blk = *reinterpret_cast<const float4*>(p.o + token * p.o_stride + head * (p.threads_per_row * kVec) + dim);
    float4 cur = *acc;
    cur.x = wa * cur.x + wb * blk.x;
    cur.y = wa * cur.y + wb * blk.y;
    cur.z = wa * cur.z + wb * blk.z;
    cur.w = wa * cur.w + wb * blk.w;
    *acc = cur;
  }
  __syncthreads();  // every thread of the row has read acc_lse
  if (live && part == 0) {
    const long long token = row / p.heads;
    p.acc_lse[(row % p.heads) * p.acc_lse_stride + token] = new_lse;
  }
}

}  // namespace

Status attention_merge(const MergeArgs& m, CUstream_st* stream) {
  if (m.tokens < 0 || m.heads <= 0) return invalid("merge: tokens >= 0 and heads > 0");
  if (m.head_dim <= 0 || m.head_dim % kVec != 0 || m.head_dim / kVec > kMergeThreads)
    return invalid("merge: head_dim must be a multiple of 4, at most 1024");
  if (!m.acc_o || !m.acc_lse || !m.o || !m.lse) return invalid("merge: null pointer");
  if (m.tokens == 0) return {};
  const long long dense = static_cast<long long>(m.heads) * m.head_dim;
  MergeParams p{m.acc_o, m.acc_lse, m.o, m.lse,
                m.acc_o_token_stride ? m.acc_o_token_stride : dense,
                m.o_token_stride ? m.o_token_stride : dense,
                m.acc_lse_head_stride ? m.acc_lse_head_stride : m.tokens,
                m.lse_head_stride ? m.lse_head_stride : m.tokens,
                m.tokens * m.heads, m.heads, m.head_dim / kVec};
  if (p.acc_o_stride % kVec || p.o_stride % kVec || reinterpret_cast<std::uintptr_t>(m.acc_o) % 16 ||
      reinterpret_cast<std::uintptr_t>(m.o) % 16)
    return invalid("merge: O pointers 16-byte aligned, token strides multiples of 4");
  const int rows_per_block = kMergeThreads / p.threads_per_row;
  const long long blocks = (p.rows + rows_per_block - 1) / rows_per_block;
  if (blocks > INT32_MAX) return invalid("merge: too many rows for one launch");
  attention_merge_kernel<<<static_cast<unsigned>(blocks), kMergeThreads, 0, stream>>>(p);
  return cuda_status(cudaGetLastError(), "attention_merge_kernel launch");
}

}  // namespace ringsim::kernels
