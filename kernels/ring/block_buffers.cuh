// One block's device buffers (Q, K, V bf16; O, LSE fp32) filled with the
// ring's random test data, and the fused kernel's arguments over them: what
// block timing (block_timing.cu) and the interference measurement
// (interference.cu) both launch. CUDA only.
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
    const long long q_elems = sh.q_tokens * sh.q_heads * sh.head_dim;
    const long long kv_elems = sh.kv_tokens * sh.kv_heads * sh.head_dim;
    RING_CUDA(cudaMalloc(&q_, q_elems * 2));
    RING_CUDA(cudaMalloc(&k_, kv_elems * 2));
    RING_CUDA(cudaMalloc(&v_, kv_elems * 2));
    RING_CUDA(cudaMalloc(&o_, q_elems * 4));
    RING_CUDA(cudaMalloc(&lse_, sh.q_tokens * sh.q_heads * 4));
    const TokenMap identity{0, 1, 0, 0};
    fill_slice(q_, sh.q_tokens, sh.q_heads, sh.head_dim, identity, seed, Tensor::kQ, stream);
    fill_slice(k_, sh.kv_tokens, sh.kv_heads, sh.head_dim, identity, seed, Tensor::kK, stream);
    fill_slice(v_, sh.kv_tokens, sh.kv_heads, sh.head_dim, identity, seed, Tensor::kV, stream);
    args.dtype = kernels::Dtype::kBf16;
    args.mask = sh.mask;
    args.head_dim = sh.head_dim;
    args.q_heads = sh.q_heads;
    args.kv_heads = sh.kv_heads;
    args.q_tokens = sh.q_tokens;
    args.kv_tokens = sh.kv_tokens;
    args.q = q_;
    args.k = k_;
    args.v = v_;
    args.o = o_;
    args.lse = lse_;
  }
  ~BlockBuffers() {
    for (void* p : {static_cast<void*>(q_), static_cast<void*>(k_), static_cast<void*>(v_),
                    static_cast<void*>(o_), static_cast<void*>(lse_)})
      cudaFree(p);
  }
  BlockBuffers(const BlockBuffers&) = delete;
  BlockBuffers& operator=(const BlockBuffers&) = delete;

  void launch(cudaStream_t stream) const {
    RING_KERNEL(kernels::chunk_attention_forward(args, kernels::AttentionVariant::kFused, nullptr, 0,
                                                 nullptr, stream));
  }

 private:
  std::uint16_t *q_ = nullptr, *k_ = nullptr, *v_ = nullptr;
  float *o_ = nullptr, *lse_ = nullptr;
};

inline double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

}  // namespace ringsim::ring
