// Block timing: see block_timing.hpp.
#include "kernels/ring/block_timing.hpp"

#include <cuda_runtime.h>

#include <limits>
#include <memory>
#include <vector>

#include "kernels/ring/block_buffers.cuh"
#include "kernels/ring/ring_cuda.cuh"
#include "kernels/ring/ring_device.cuh"

namespace ringsim::ring {

namespace {

constexpr int kWarmup = 2;
constexpr std::size_t kSets = 3;
constexpr unsigned long long kGateNs = 2'000'000ULL;

}  // namespace

BlockTiming time_block(int device, const BlockTimingShape& sh, int repeats, std::uint64_t seed) {
  DeviceScope scope(device);
  const long long q_elems = sh.q_tokens * sh.q_heads * sh.head_dim;
  const long long lse_elems = sh.q_tokens * sh.q_heads;
  cudaStream_t stream;
  RING_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  // kSets buffer sets used in turn: a 2K block's inputs and accumulator fit
  // in the 50 MB L2, and in the ring other ranks' blocks run in between.
  struct Set {
    std::unique_ptr<BlockBuffers> block;
    float *acc_o = nullptr, *acc_lse = nullptr;
  };
  std::vector<Set> sets(kSets);
  for (std::size_t i = 0; i < sets.size(); ++i) {
    Set& b = sets[i];
    b.block = std::make_unique<BlockBuffers>(sh, seed + i, stream);
    RING_CUDA(cudaMalloc(&b.acc_o, q_elems * 4));
    RING_CUDA(cudaMalloc(&b.acc_lse, lse_elems * 4));
    fill_f32(b.acc_o, q_elems, 0.f, stream);
    fill_f32(b.acc_lse, lse_elems, -std::numeric_limits<float>::infinity(), stream);
  }
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
    m.acc_o = b.acc_o;
    m.acc_lse = b.acc_lse;
    m.o = b.block->args.o;
    m.lse = b.block->args.lse;
    RING_CUDA(cudaEventRecord(marks[3 * i], stream));
    b.block->launch(stream);
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
  for (const Set& b : sets) {
    cudaFree(b.acc_o);
    cudaFree(b.acc_lse);
  }
  return {median(att), median(mrg)};
}

}  // namespace ringsim::ring
