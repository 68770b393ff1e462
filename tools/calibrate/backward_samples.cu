// Backward samples of `ringsim calibrate` (see backward_samples.hpp). Each
// sample: a forward of the block first (untimed) for a real O and LSE, D from
// them (untimed), then 2 warm-up runs and the median of 10 (quick: 5), L2
// flushed before each run.
#include <cuda_runtime.h>

#include <memory>

#include "kernels/common/cuda_check.cuh"
#include "tools/calibrate/backward_samples.hpp"

namespace ringsim::calibrate {
namespace {

using namespace kernels;

constexpr long long kMaxTokens = 16384;  // the forward grid's largest block
constexpr int kMaxHeads = 32, kMaxHeadDim = 128;

struct DeviceBuffer {  // cudaFree on scope exit
  void* ptr = nullptr;
  ~DeviceBuffer() { cudaFree(ptr); }
};

struct BackwardBuffers {  // sized for the largest sample, reused by all
  DeviceBuffer q, k, v, d_o, o, lse, delta, d_q, d_k, d_v;
  Status alloc() {
    const std::size_t in = kMaxTokens * kMaxHeads * kMaxHeadDim * 2, out = 2 * in, row = kMaxTokens * kMaxHeads * 4;
    for (auto [b, bytes] : {std::pair{&q, in}, {&k, in}, {&v, in}, {&d_o, in}, {&o, out}, {&lse, row},
                            {&delta, row}, {&d_q, out}, {&d_k, out}, {&d_v, out}})
      RINGSIM_TRY(cuda_status(cudaMalloc(&b->ptr, bytes), "cudaMalloc (backward samples)"));
    return {};
  }
};

Status time_one(BackwardBuffers& b, ChunkAttentionBackwardArgs a, GpuTimer& timer, int reps, double* seconds) {
  ChunkAttentionArgs f;
  f.dtype = a.dtype, f.mask = a.mask, f.head_dim = a.head_dim, f.q_heads = a.q_heads, f.kv_heads = a.kv_heads;
  f.q_tokens = a.q_tokens, f.kv_tokens = a.kv_tokens, f.q = a.q, f.k = a.k, f.v = a.v;
  f.o = static_cast<float*>(b.o.ptr), f.lse = static_cast<float*>(b.lse.ptr);
  RINGSIM_TRY(chunk_attention_forward(f, AttentionVariant::kFused, nullptr, 0, nullptr, nullptr));
  RINGSIM_TRY(chunk_attention_backward_delta(a, static_cast<float*>(b.delta.ptr), nullptr));
  a.delta = static_cast<float*>(b.delta.ptr), a.accumulate = true;
  Status st;
  *seconds = timer.median_seconds(
      [&] { return chunk_attention_backward(a, AttentionVariant::kFused, nullptr, 0, nullptr, nullptr); }, 2,
      reps, &st);
  return st;
}

}  // namespace

bool measure_backward(const std::string& grid, GpuTimer& timer, std::vector<BackwardSample>& out,
                      std::string& error) {
  std::vector<long long> sizes;  // the forward samples' grid (calibrate.cu)
  if (grid == "quick") sizes = {1024, 4096, 16384};
  else for (long long n = 512; n <= kMaxTokens; n *= 2) sizes.push_back(n);
  const std::vector<int> heads = grid == "quick" ? std::vector<int>{32} : std::vector<int>{32, 8};
  const int reps = grid == "quick" ? 5 : 10;
  auto b = std::make_unique<BackwardBuffers>();
  Status st = b->alloc();
  // Zeros to accumulate onto: finite sums whatever the number of runs.
  for (DeviceBuffer* acc : {&b->d_q, &b->d_k, &b->d_v})
    if (st.ok()) st = cuda_status(cudaMemset(acc->ptr, 0, kMaxTokens * kMaxHeads * kMaxHeadDim * 4), "cudaMemset");
  for (Dtype dt : {Dtype::kBf16, Dtype::kFp16}) {
    const std::size_t n = kMaxTokens * kMaxHeads * kMaxHeadDim;
    for (auto [p, seed] : {std::pair{&b->q, 1}, {&b->k, 2}, {&b->v, 3}, {&b->d_o, 4}})
      if (st.ok()) st = fill_random_device(p->ptr, n, dt, seed, nullptr);
    for (int h : heads)
      for (int d : {64, 128})
        for (Mask mask : {Mask::kFull, Mask::kCausal, Mask::kZigzag})
          for (long long q : sizes)
            for (long long kv : sizes) {
              if (!st.ok()) break;
              if (mask != Mask::kFull && q != kv) continue;
              ChunkAttentionBackwardArgs a;
              a.dtype = dt, a.mask = mask, a.head_dim = d, a.q_heads = h, a.kv_heads = h;
              a.q_tokens = q, a.kv_tokens = kv, a.q = b->q.ptr, a.k = b->k.ptr, a.v = b->v.ptr;
              a.d_o = b->d_o.ptr, a.o = static_cast<float*>(b->o.ptr), a.lse = static_cast<float*>(b->lse.ptr);
              a.d_q = static_cast<float*>(b->d_q.ptr), a.d_k = static_cast<float*>(b->d_k.ptr);
              a.d_v = static_cast<float*>(b->d_v.ptr);
              double s = 0;
              st = time_one(*b, a, timer, reps, &s);
              if (!st.ok()) break;
              out.push_back({a, s});
              std::fprintf(stderr, "  backward %s d%d h%d %s q%lld kv%lld: %.3f ms, %.1f TFLOP/s\n", dtype_name(dt),
                           d, h, mask_name(mask), q, kv, s * 1e3, chunk_attention_backward_flops(a) / s * 1e-12);
            }
  }
  if (!st.ok()) error = describe(st);
  return st.ok();
}

}  // namespace ringsim::calibrate
