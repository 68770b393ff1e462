// One block's device buffers (Q, K|V bf16 with K and V side by side in each
// row, as the ring executor holds them; O, LSE fp32) filled with random data,
// and the fused kernel's arguments over them: what block timing
// (block_timing.cu) and the interference measurement (interference.cu) both
// launch. CUDA only.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/attention/chunk_attention.hpp"
#include "kernels/ring/block_timing.hpp"
#include "kernels/ring/ring_cuda.cuh"
#include "kernels/ring/ring_device.cuh"

namespace ringsim::ring {

struct BlockBuffers {
  kernels::ChunkAttentionArgs args;  // shape, mask and the five pointers below

  BlockBuffers(const BlockTimingShape& sh, std::uint64_t seed, cudaStream_t stream) {
    const long long q_row = static_cast<long long>(sh.q_heads) * sh.head_dim;
    const long long kv_row = 2LL * sh.kv_heads * sh.head_dim;  // K then V, as the ring holds them
    RING_CUDA(cudaMalloc(&q_, sh.q_tokens * q_row * 2));
    RING_CUDA(cudaMalloc(&kv_, sh.kv_tokens * kv_row * 2));
    RING_CUDA(cudaMalloc(&o_, sh.q_tokens * q_row * 4));
    RING_CUDA(cudaMalloc(&lse_, sh.q_tokens * sh.q_heads * 4));
    fill_rows(q_, sh.q_tokens, sh.q_heads, sh.head_dim, q_row, nullptr, sh.q_heads, 0, seed, Tensor::kQ, stream);
    fill_rows(kv_, sh.kv_tokens, sh.kv_heads, sh.head_dim, kv_row, nullptr, sh.kv_heads, 0, seed, Tensor::kK, stream);
    fill_rows(kv_ + kv_row / 2, sh.kv_tokens, sh.kv_heads, sh.head_dim, kv_row, nullptr, sh.kv_heads, 0, seed,
              Tensor::kV, stream);
    args.dtype = kernels::Dtype::kBf16;
    args.mask = sh.mask;
    args.head_dim = sh.head_dim;
    args.q_heads = sh.q_heads;
    args.kv_heads = sh.kv_heads;
    args.q_tokens = sh.q_tokens;
    args.kv_tokens = sh.kv_tokens;
    args.q = q_;
    args.k = kv_;
    args.v = kv_ + kv_row / 2;
    args.kv_token_stride = kv_row;
    args.o = o_;
    args.lse = lse_;
  }
  ~BlockBuffers() {
    for (void* p : {static_cast<void*>(q_), static_cast<void*>(kv_), static_cast<void*>(o_), static_cast<void*>(lse_)})
      cudaFree(p);
  }
  BlockBuffers(const BlockBuffers&) = delete;
  BlockBuffers& operator=(const BlockBuffers&) = delete;

  void launch(cudaStream_t stream) const {
    RING_KERNEL(kernels::chunk_attention_forward(args, kernels::AttentionVariant::kFused, nullptr, 0,
                                                 nullptr, stream));
  }

 private:
  std::uint16_t *q_ = nullptr, *kv_ = nullptr;
  float *o_ = nullptr, *lse_ = nullptr;
};

inline double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

}  // namespace ringsim::ring
