// Block timing: see block_timing.hpp.
#include <cstdint>
#include "kernels/ring/block_timing.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/attention/chunk_attention.hpp"
#include "kernels/ring/ring_cuda.cuh"
#include "kernels/ring/ring_device.cuh"

namespace ringsim::ring {

namespace {

constexpr int kWarmup = 2;
constexpr std::size_t kSets = 3;
constexpr unsigned long long kGateNs = 2'000'000ULL;

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

}  // namespace

BlockTiming time_block(int device, const BlockTimingShape& sh, int repeats, std::uint64_t seed) {
  DeviceScope scope(device);
  const long long q_elems = sh.q_tokens * sh.q_heads * sh.head_dim;
  const long long kv_elems = sh.kv_tokens * sh.kv_heads * sh.head_dim;
  const long long lse_elems = sh.q_tokens * sh.q_heads;
  cudaStream_t stream;
  RING_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  // kSets buffer sets used in turn: a 2K block's inputs and accumulator fit
  // in the 50 MB L2, and in the ring other ranks' blocks run in between.
  struct Set {
    std::uint16_t *q = nullptr, *k = nullptr, *v = nullptr;
    float *o = nullptr, *lse = nullptr, *acc_o = nullptr, *acc_lse = nullptr;
  };
  std::vector<Set> sets(kSets);
  const TokenMap identity{0, 1, 0, 0};
  for (std::size_t i = 0; i < sets.size(); ++i) {
    Set& b = sets[i];
    RING_CUDA(cudaMalloc(&b.q, q_elems * 2));
    RING_CUDA(cudaMalloc(&b.k, kv_elems * 2));
    RING_CUDA(cudaMalloc(&b.v, kv_elems * 2));
    RING_CUDA(cudaMalloc(&b.o, q_elems * 4));
    RING_CUDA(cudaMalloc(&b.acc_o, q_elems * 4));
    RING_CUDA(cudaMalloc(&b.lse, lse_elems * 4));
    RING_CUDA(cudaMalloc(&b.acc_lse, lse_elems * 4));
    fill_slice(b.q, sh.q_tokens, sh.q_heads, sh.head_dim, identity, seed + i, Tensor::kQ, stream);
    fill_slice(b.k, sh.kv_tokens, sh.kv_heads, sh.head_dim, identity, seed + i, Tensor::kK, stream);
    fill_slice(b.v, sh.kv_tokens, sh.kv_heads, sh.head_dim, identity, seed + i, Tensor::kV, stream);
    fill_f32(b.acc_o, q_elems, 0.f, stream);
    fill_f32(b.acc_lse, lse_elems, -std::numeric_limits<float>::infinity(), stream);
  }
  kernels::ChunkAttentionArgs a;
  a.dtype = kernels::Dtype::kBf16;
  a.mask = sh.mask;
  a.head_dim = sh.head_dim;
  a.q_heads = sh.q_heads;
  a.kv_heads = sh.kv_heads;
  a.q_tokens = sh.q_tokens;
  a.kv_tokens = sh.kv_tokens;
  kernels::MergeArgs m;
  m.tokens = sh.q_tokens;
  m.heads = sh.q_heads;
  m.head_dim = sh.head_dim;

  const int total = kWarmup + repeats;
  std::vector<cudaEvent_t> marks(3 * total);
  for (auto& e : marks) RING_CUDA(cudaEventCreate(&e));
  gate(kGateNs, stream);
  for (int i = 0; i < total; ++i) {
    const Set& b = sets[i % sets.size()];
    a.q = b.q;
    a.k = b.k;
    a.v = b.v;
    a.o = b.o;
    a.lse = b.lse;
    m.acc_o = b.acc_o;
    m.acc_lse = b.acc_lse;
    m.o = b.o;
    m.lse = b.lse;
    RING_CUDA(cudaEventRecord(marks[3 * i], stream));
    RING_KERNEL(kernels::chunk_attention_forward(a, kernels::AttentionVariant::kFused, nullptr, 0,
                                                 nullptr, stream));
    RING_CUDA(cudaEventRecord(marks[3 * i + 1], stream));
    RING_KERNEL(kernels::attention_merge(m, stream));
    RING_CUDA(cudaEventRecord(marks[3 * i + 2], stream));
  }
  RING_CUDA(cudaStreamSynchronize(stream));
  std::vector<double> att, mrg;
  for (int i = kWarmup; i < total; ++i) {
    float t1 = 0, t2 = 0;
    RING_CUDA(cudaEventElapsedTime(&t1, marks[3 * i], marks[3 * i + 1]));
    RING_CUDA(cudaEventElapsedTime(&t2, marks[3 * i + 1], marks[3 * i + 2]));
    att.push_back(t1 * 1e-3);
    mrg.push_back(t2 * 1e-3);
  }
  for (auto e : marks) cudaEventDestroy(e);
  cudaStreamDestroy(stream);
  for (const Set& b : sets)
    for (void* p : {static_cast<void*>(b.q), static_cast<void*>(b.k), static_cast<void*>(b.v),
                    static_cast<void*>(b.o), static_cast<void*>(b.lse), static_cast<void*>(b.acc_o),
                    static_cast<void*>(b.acc_lse)})
      cudaFree(p);
  return {median(att), median(mrg)};
}

}  // namespace ringsim::ring
