// Timing of one ring block's backward on a card, as the ring executor runs
// it (ring_backward.cu): the row stats of its q rows made head-major, then
// the fused backward kernel with D given, adding into fp32 dQ and dK/dV;
// back to back on one stream behind a gate, warm-up then the median of
// repeats, rotating over three buffer sets (see block_timing.hpp). The
// inputs are a real block's: the forward kernel's LSE and O, D from them.
#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "kernels/attention/chunk_attention_backward.hpp"
#include "kernels/ring/block_buffers.cuh"
#include "kernels/ring/block_timing.hpp"
#include "kernels/ring/ring_backward_ops.cuh"
#include "kernels/ring/ring_cuda.cuh"
#include "kernels/ring/ring_device.cuh"

namespace ringsim::ring {

namespace {

constexpr int kWarmup = 2;
constexpr std::size_t kSets = 3;
constexpr unsigned long long kGateNs = 2'000'000ULL;

struct BackwardSet {
  std::unique_ptr<BlockBuffers> fwd;
  std::uint16_t* d_o = nullptr;
  float *delta = nullptr, *stats = nullptr, *dq = nullptr, *dkv = nullptr;
  kernels::ChunkAttentionBackwardArgs args;

  BackwardSet(const BlockTimingShape& sh, std::uint64_t seed, cudaStream_t s) {
    fwd = std::make_unique<BlockBuffers>(sh, seed, s);
    fwd->launch(s);  // O and LSE of the block
    const long long q_row = static_cast<long long>(sh.q_heads) * sh.head_dim, kv_row = 2LL * sh.kv_heads * sh.head_dim;
    RING_CUDA(cudaMalloc(&d_o, sh.q_tokens * q_row * 2));
    RING_CUDA(cudaMalloc(&delta, sh.q_tokens * sh.q_heads * 4));
    RING_CUDA(cudaMalloc(&stats, 2 * sh.q_tokens * sh.q_heads * 4));
    RING_CUDA(cudaMalloc(&dq, sh.q_tokens * q_row * 4));
    RING_CUDA(cudaMalloc(&dkv, sh.kv_tokens * kv_row * 4));
    fill_rows(d_o, sh.q_tokens, sh.q_heads, sh.head_dim, q_row, nullptr, sh.q_heads, 0, seed, Tensor::kDO, s);
    fill_f32(dq, sh.q_tokens * q_row, 0.f, s);
    fill_f32(dkv, sh.kv_tokens * kv_row, 0.f, s);
    const kernels::ChunkAttentionArgs& f = fwd->args;
    args.dtype = f.dtype, args.mask = f.mask, args.head_dim = f.head_dim;
    args.q_heads = f.q_heads, args.kv_heads = f.kv_heads, args.q_tokens = f.q_tokens, args.kv_tokens = f.kv_tokens;
    args.q = f.q, args.k = f.k, args.v = f.v, args.kv_token_stride = f.kv_token_stride;
    args.o = f.o, args.d_o = d_o, args.lse = f.lse;
    RING_KERNEL(kernels::chunk_attention_backward_delta(args, delta, s));
    args.o = nullptr;
    args.delta = delta;
    args.d_q = dq, args.d_k = dkv, args.d_v = dkv + sh.kv_heads * sh.head_dim;
    args.dkv_token_stride = kv_row;
    args.accumulate = true;
  }
  ~BackwardSet() {
    for (void* p : {static_cast<void*>(d_o), static_cast<void*>(delta), static_cast<void*>(stats),
                    static_cast<void*>(dq), static_cast<void*>(dkv)})
      cudaFree(p);
  }
  // What the executor runs per block: two transposes of the rows' stats, the kernel.
  void launch(cudaStream_t s) const {
    const long long n = args.q_tokens;
    row_stats_head_major(stats, args.lse, n, args.q_heads, s);
    row_stats_head_major(stats + n * args.q_heads, delta, n, args.q_heads, s);
    RING_KERNEL(kernels::chunk_attention_backward(args, kernels::AttentionVariant::kFused, nullptr, 0, nullptr, s));
  }
};

}  // namespace

double time_block_backward(int device, const BlockTimingShape& sh, int repeats, std::uint64_t seed) {
  DeviceScope scope(device);
  cudaStream_t stream;
  RING_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  std::vector<std::unique_ptr<BackwardSet>> sets;
  for (std::size_t i = 0; i < kSets; ++i) sets.push_back(std::make_unique<BackwardSet>(sh, seed + i, stream));
  const int total = kWarmup + repeats;
  std::vector<cudaEvent_t> marks(2 * total);
  for (auto& e : marks) RING_CUDA(cudaEventCreate(&e));
  gate(kGateNs, stream);
  for (int i = 0; i < total; ++i) {
    RING_CUDA(cudaEventRecord(marks[2 * i], stream));
    sets[i % sets.size()]->launch(stream);
    RING_CUDA(cudaEventRecord(marks[2 * i + 1], stream));
  }
  RING_CUDA(cudaStreamSynchronize(stream));
  std::vector<double> t;
  for (int i = kWarmup; i < total; ++i) {
    float ms = 0;
    RING_CUDA(cudaEventElapsedTime(&ms, marks[2 * i], marks[2 * i + 1]));
    t.push_back(ms * 1e-3);
  }
  for (auto e : marks) cudaEventDestroy(e);
  sets.clear();
  cudaStreamDestroy(stream);
  return median(t);
}

}  // namespace ringsim::ring
