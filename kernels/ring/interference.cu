// Transfer/compute interference: see interference.hpp.
#include "kernels/ring/interference.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "kernels/ring/block_buffers.cuh"
#include "kernels/ring/ring_cuda.cuh"
#include "kernels/ring/ring_device.cuh"
#include "kernels/ring/ring_executor.hpp"

namespace ringsim::ring {

namespace {

constexpr int kReps = 5;
constexpr unsigned long long kGateNs = 2'000'000ULL;
// A train of back-to-back blocks lasting at least this long: a short block
// (2K: ~0.25 ms) sees too few transfer ends alone to count bytes moved, and
// in the ring each of its kernels starts beside NCCL kernels already on the SMs.
constexpr double kTrainS = 3e-3;

float ms_between(cudaEvent_t a, cudaEvent_t b) {
  float t = 0;
  RING_CUDA(cudaEventElapsedTime(&t, a, b));
  return t;
}

// `train` blocks back to back on card 0's `compute` stream behind a gate.
// Loaded: as in a ring step, each block's start also starts one transfer
// (`transfer(end)` enqueues it on card 0's `side` stream, after the previous
// one, and records `end`). Returns (train seconds, bytes moved within the
// train: each transfer counted by the part of its span inside the train).
std::pair<double, double> timed_block(const BlockBuffers& blk, int train, cudaStream_t compute, cudaStream_t side, bool loaded,
                                      double bytes, const std::function<void(cudaEvent_t)>& transfer) {
  cudaEvent_t c0, c1;
  RING_CUDA(cudaEventCreate(&c0));
  RING_CUDA(cudaEventCreate(&c1));
  std::vector<cudaEvent_t> starts(loaded ? train : 0), ends(loaded ? train : 0);
  for (auto& e : starts) RING_CUDA(cudaEventCreate(&e));
  for (auto& e : ends) RING_CUDA(cudaEventCreate(&e));
  gate(kGateNs, compute);
  RING_CUDA(cudaEventRecord(c0, compute));
  for (int i = 0; i < train; ++i) {
    if (loaded) {
      RING_CUDA(cudaEventRecord(starts[i], compute));
      RING_CUDA(cudaStreamWaitEvent(side, starts[i], 0));
      transfer(ends[i]);
    }
    blk.launch(compute);
  }
  RING_CUDA(cudaEventRecord(c1, compute));
  RING_CUDA(cudaDeviceSynchronize());
  const double train_ms = ms_between(c0, c1);
  double moved = 0, prev_end = 0;
  for (std::size_t i = 0; i < ends.size(); ++i) {
    const double end = ms_between(c0, ends[i]);
    const double begin = std::max(static_cast<double>(ms_between(c0, starts[i])), prev_end);
    prev_end = end;
    if (end > begin) moved += bytes * std::clamp((std::min(end, train_ms) - begin) / (end - begin), 0.0, 1.0);
  }
  for (auto e : starts) cudaEventDestroy(e);
  for (auto e : ends) cudaEventDestroy(e);
  cudaEventDestroy(c0);
  cudaEventDestroy(c1);
  return {train_ms * 1e-3, moved};
}

ShareMeasurement measure(const BlockTimingShape& shape, double bytes, double bytes_per_s, int ends_per_card,
                         const std::function<void(cudaEvent_t)>& transfer, cudaStream_t compute,
                         cudaStream_t side) {
  const BlockBuffers blk(shape, /*seed=*/7, compute);
  timed_block(blk, 1, compute, side, false, bytes, transfer);  // warm-up
  const double one = timed_block(blk, 1, compute, side, false, bytes, transfer).first;
  const int train = std::max(1, static_cast<int>(std::ceil(kTrainS / std::max(one, 1e-6))));
  timed_block(blk, train, compute, side, true, bytes, transfer);  // warm-up (NCCL, copy engines)
  std::vector<double> alone, loaded, moved;
  for (int i = 0; i < kReps; ++i) {
    alone.push_back(timed_block(blk, train, compute, side, false, bytes, transfer).first);
    const auto [t, b] = timed_block(blk, train, compute, side, true, bytes, transfer);
    loaded.push_back(t);
    moved.push_back(b);
  }
  const double t0 = median(alone);
  ShareMeasurement m;
  m.train = train;
  m.alone_s = t0 / train;
  m.loaded_s = median(loaded) / train;
  m.bytes_moved = median(moved);
  if (m.bytes_moved > 0)
    m.share = std::clamp((median(loaded) - t0) * bytes_per_s / (ends_per_card * m.bytes_moved), 0.0, 1.0);
  return m;
}

}  // namespace

ShareMeasurement measure_copy_share(int device, const BlockTimingShape& shape, double bytes,
                                    double copy_payload_bytes_per_s) {
  DeviceScope scope(device);
  int least = 0, greatest = 0;
  RING_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  cudaStream_t compute, side;
  RING_CUDA(cudaStreamCreateWithPriority(&compute, cudaStreamNonBlocking, least));
  RING_CUDA(cudaStreamCreateWithPriority(&side, cudaStreamNonBlocking, greatest));
  void *src = nullptr, *dst = nullptr;
  RING_CUDA(cudaMalloc(&src, static_cast<std::size_t>(bytes)));
  RING_CUDA(cudaMalloc(&dst, static_cast<std::size_t>(bytes)));
  const ShareMeasurement m = measure(shape, bytes, copy_payload_bytes_per_s, 1,
      [&](cudaEvent_t end) {
        RING_CUDA(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice, side));
        RING_CUDA(cudaEventRecord(end, side));
      }, compute, side);
  cudaFree(src);
  cudaFree(dst);
  cudaStreamDestroy(compute);
  cudaStreamDestroy(side);
  return m;
}

ShareMeasurement measure_link_share(const RingContext& ctx, const BlockTimingShape& shape, double bytes,
                                    double link_bytes_per_s) {
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
  const ShareMeasurement m = measure(shape, bytes, link_bytes_per_s, 2,
      [&](cudaEvent_t end) {
        cudaEvent_t go;
        RING_CUDA(cudaEventCreateWithFlags(&go, cudaEventDisableTiming));
        RING_CUDA(cudaEventRecord(go, send[0]));
        for (cudaStream_t st : {recv[0], send[1], recv[1]}) RING_CUDA(cudaStreamWaitEvent(st, go, 0));
        for (int a = 0; a < 2; ++a) {
          const int b = 1 - a;
          RING_NCCL(ncclGroupStart());
          RING_NCCL(ncclSend(src[a], static_cast<std::size_t>(bytes), ncclUint8, b,
                             static_cast<ncclComm_t>(ctx.comm(a, a)), send[a]));
          RING_NCCL(ncclRecv(dst[b], static_cast<std::size_t>(bytes), ncclUint8, a,
                             static_cast<ncclComm_t>(ctx.comm(a, b)), recv[b]));
          RING_NCCL(ncclGroupEnd());
        }
        // Card 0's transfer ends when both its send and its receive have.
        cudaEvent_t got;
        RING_CUDA(cudaEventCreateWithFlags(&got, cudaEventDisableTiming));
        RING_CUDA(cudaEventRecord(got, recv[0]));
        RING_CUDA(cudaStreamWaitEvent(send[0], got, 0));
        RING_CUDA(cudaEventRecord(end, send[0]));
        cudaEventDestroy(go);
        cudaEventDestroy(got);
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
