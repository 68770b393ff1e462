// Transfer/compute interference: see interference.hpp.
#include "kernels/ring/interference.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "kernels/attention/chunk_attention.hpp"
#include "kernels/ring/ring_cuda.cuh"
#include "kernels/ring/ring_device.cuh"
#include "kernels/ring/ring_executor.hpp"

namespace ringsim::ring {

namespace {

constexpr long long kTokens = 8192;  // 8K x 8K full block, 32/8 heads, d 128: ~3 ms
constexpr int kQHeads = 32, kKvHeads = 8, kHeadDim = 128;
constexpr int kReps = 3;
constexpr unsigned long long kGateNs = 2'000'000ULL;

struct Block {
  std::uint16_t *q = nullptr, *k = nullptr, *v = nullptr;
  float *o = nullptr, *lse = nullptr;
  kernels::ChunkAttentionArgs args;
  explicit Block(cudaStream_t s) {
    const long long qe = kTokens * kQHeads * kHeadDim, kve = kTokens * kKvHeads * kHeadDim;
    RING_CUDA(cudaMalloc(&q, qe * 2));
    RING_CUDA(cudaMalloc(&k, kve * 2));
    RING_CUDA(cudaMalloc(&v, kve * 2));
    RING_CUDA(cudaMalloc(&o, qe * 4));
    RING_CUDA(cudaMalloc(&lse, kTokens * kQHeads * 4));
    const TokenMap id{0, 1, 0, 0};
    fill_slice(q, kTokens, kQHeads, kHeadDim, id, 7, Tensor::kQ, s);
    fill_slice(k, kTokens, kKvHeads, kHeadDim, id, 7, Tensor::kK, s);
    fill_slice(v, kTokens, kKvHeads, kHeadDim, id, 7, Tensor::kV, s);
    args.q_heads = kQHeads;
    args.kv_heads = kKvHeads;
    args.head_dim = kHeadDim;
    args.q_tokens = args.kv_tokens = kTokens;
    args.q = q;
    args.k = k;
    args.v = v;
    args.o = o;
    args.lse = lse;
  }
  ~Block() {
    for (void* p : {static_cast<void*>(q), static_cast<void*>(k), static_cast<void*>(v),
                    static_cast<void*>(o), static_cast<void*>(lse)})
      cudaFree(p);
  }
  void launch(cudaStream_t s) {
    RING_KERNEL(kernels::chunk_attention_forward(args, kernels::AttentionVariant::kFused, nullptr, 0,
                                                 nullptr, s));
  }
};

float ms_between(cudaEvent_t a, cudaEvent_t b) {
  float t = 0;
  RING_CUDA(cudaEventElapsedTime(&t, a, b));
  return t;
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// One block on card 0's `compute` stream behind a gate; `transfers(n, ends)`
// enqueues n transfers on card 0's `side` stream (also gated), recording
// ends[i] after the i-th. Returns (block seconds, bytes finished meanwhile).
std::pair<double, double> timed_block(Block& blk, cudaStream_t compute, cudaStream_t side, int n,
                                      double bytes,
                                      const std::function<void(int, std::vector<cudaEvent_t>&)>& transfers) {
  cudaEvent_t go, c0, c1;
  RING_CUDA(cudaEventCreateWithFlags(&go, cudaEventDisableTiming));
  RING_CUDA(cudaEventCreate(&c0));
  RING_CUDA(cudaEventCreate(&c1));
  std::vector<cudaEvent_t> ends(n);
  for (auto& e : ends) RING_CUDA(cudaEventCreate(&e));
  gate(kGateNs, compute);
  RING_CUDA(cudaEventRecord(go, compute));
  RING_CUDA(cudaStreamWaitEvent(side, go, 0));
  RING_CUDA(cudaEventRecord(c0, compute));
  blk.launch(compute);
  RING_CUDA(cudaEventRecord(c1, compute));
  if (n > 0) transfers(n, ends);
  RING_CUDA(cudaDeviceSynchronize());
  const double block_ms = ms_between(c0, c1);
  int done = 0;
  for (auto e : ends) {
    const float t = ms_between(c0, e);
    done += t >= 0 && t <= block_ms;
  }
  for (auto e : ends) cudaEventDestroy(e);
  cudaEventDestroy(go);
  cudaEventDestroy(c0);
  cudaEventDestroy(c1);
  return {block_ms * 1e-3, done * bytes};
}

ShareMeasurement measure(double bytes, double bytes_per_s, int ends_per_card,
                         const std::function<void(int, std::vector<cudaEvent_t>&)>& transfers,
                         cudaStream_t compute, cudaStream_t side) {
  Block blk(compute);
  std::vector<double> alone, loaded, moved;
  for (int i = 0; i < kReps + 1; ++i) alone.push_back(timed_block(blk, compute, side, 0, bytes, transfers).first);
  alone.erase(alone.begin());  // warm-up
  const double t0 = median(alone);
  // Enough transfers to outlast the block even if they slow it threefold.
  const int n = static_cast<int>(std::ceil(3 * t0 * bytes_per_s / bytes)) + 4;
  for (int i = 0; i < kReps; ++i) {
    const auto [t, b] = timed_block(blk, compute, side, n, bytes, transfers);
    loaded.push_back(t);
    moved.push_back(b);
  }
  ShareMeasurement m;
  m.alone_s = t0;
  m.loaded_s = median(loaded);
  m.bytes_moved = median(moved);
  if (m.bytes_moved > 0)
    m.share = std::clamp((m.loaded_s - m.alone_s) * bytes_per_s / (ends_per_card * m.bytes_moved), 0.0, 1.0);
  return m;
}

}  // namespace

ShareMeasurement measure_copy_share(int device, double bytes, double copy_payload_bytes_per_s) {
  DeviceScope scope(device);
  int least = 0, greatest = 0;
  RING_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  cudaStream_t compute, side;
  RING_CUDA(cudaStreamCreateWithPriority(&compute, cudaStreamNonBlocking, least));
  RING_CUDA(cudaStreamCreateWithPriority(&side, cudaStreamNonBlocking, greatest));
  void *src = nullptr, *dst = nullptr;
  RING_CUDA(cudaMalloc(&src, static_cast<std::size_t>(bytes)));
  RING_CUDA(cudaMalloc(&dst, static_cast<std::size_t>(bytes)));
  const ShareMeasurement m = measure(bytes, copy_payload_bytes_per_s, 1,
      [&](int n, std::vector<cudaEvent_t>& ends) {
        for (int i = 0; i < n; ++i) {
          RING_CUDA(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice, side));
          RING_CUDA(cudaEventRecord(ends[i], side));
        }
      }, compute, side);
  cudaFree(src);
  cudaFree(dst);
  cudaStreamDestroy(compute);
  cudaStreamDestroy(side);
  return m;
}

ShareMeasurement measure_link_share(const RingContext& ctx, double bytes, double link_bytes_per_s) {
  if (ctx.gpus() < 2) ring_fail("measure_link_share: needs 2 cards", __FILE__, __LINE__);
  int least = 0, greatest = 0;
  RING_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  cudaStream_t compute, send[2], recv[2];
  void *src[2], *dst[2];
  for (int g = 0; g < 2; ++g) {
    DeviceScope s(g);
    RING_CUDA(cudaStreamCreateWithPriority(&send[g], cudaStreamNonBlocking, greatest));
    RING_CUDA(cudaStreamCreateWithPriority(&recv[g], cudaStreamNonBlocking, greatest));
    RING_CUDA(cudaMalloc(&src[g], static_cast<std::size_t>(bytes)));
    RING_CUDA(cudaMalloc(&dst[g], static_cast<std::size_t>(bytes)));
  }
  DeviceScope scope(0);
  RING_CUDA(cudaStreamCreateWithPriority(&compute, cudaStreamNonBlocking, least));
  // Card 0 computes while it sends to and receives from card 1 (as in a ring of 2).
  const ShareMeasurement m = measure(bytes, link_bytes_per_s, 2,
      [&](int n, std::vector<cudaEvent_t>& ends) {
        cudaEvent_t go;
        RING_CUDA(cudaEventCreateWithFlags(&go, cudaEventDisableTiming));
        RING_CUDA(cudaEventRecord(go, send[0]));
        for (cudaStream_t st : {recv[0], send[1], recv[1]}) RING_CUDA(cudaStreamWaitEvent(st, go, 0));
        for (int i = 0; i < n; ++i) {
          for (int a = 0; a < 2; ++a) {
            const int b = 1 - a;
            RING_NCCL(ncclGroupStart());
            RING_NCCL(ncclSend(src[a], static_cast<std::size_t>(bytes), ncclUint8, b,
                               static_cast<ncclComm_t>(ctx.comm(a, a)), send[a]));
            RING_NCCL(ncclRecv(dst[b], static_cast<std::size_t>(bytes), ncclUint8, a,
                               static_cast<ncclComm_t>(ctx.comm(a, b)), recv[b]));
            RING_NCCL(ncclGroupEnd());
          }
          RING_CUDA(cudaEventRecord(ends[i], send[0]));
        }
        cudaEventDestroy(go);
      }, compute, send[0]);
  for (int g = 0; g < 2; ++g) {
    DeviceScope s(g);
    RING_CUDA(cudaDeviceSynchronize());
    cudaFree(src[g]);
    cudaFree(dst[g]);
    cudaStreamDestroy(send[g]);
    cudaStreamDestroy(recv[g]);
  }
  cudaStreamDestroy(compute);
  return m;
}

}  // namespace ringsim::ring
