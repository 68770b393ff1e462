// RingExecutor::Impl: the state and the step logic of the real ring, shared
// by ring_executor.cu (setup, runs) and ring_check.cu (the output check).
// CUDA only; see ring_executor.hpp for the semantics.
#pragma once
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/attention/chunk_attention.hpp"
#include "kernels/ring/ring_cuda.cuh"
#include "kernels/ring/ring_device.cuh"
#include "kernels/ring/ring_executor.hpp"

namespace ringsim::ring {

namespace detail {

// 10 ms: a P = 4 run enqueues ~400 calls (about 2 ms of host time); the gate
// lies before t0, outside the timed region.
inline constexpr unsigned long long kGateNs = 10'000'000ULL;

template <typename T>
inline T* device_alloc(long long elements) {
  T* p = nullptr;
  RING_CUDA(cudaMalloc(&p, static_cast<std::size_t>(elements) * sizeof(T)));
  return p;
}

}  // namespace detail

struct RingExecutor::Impl {
  struct Gpu {
    int device = 0;
    cudaStream_t compute = nullptr, gate = nullptr;
    cudaEvent_t go = nullptr, t0 = nullptr;
  };
  struct Rank {
    int gpu = 0;
    std::uint16_t *q = nullptr, *own_kv = nullptr, *kv[2] = {nullptr, nullptr};
    float *acc_o = nullptr, *acc_lse = nullptr, *blk_o = nullptr, *blk_lse = nullptr;
    cudaStream_t send = nullptr, recv = nullptr;
    // Per step, owned: timing marks. c_end on compute, x_* on send, r_end on recv.
    std::vector<cudaEvent_t> c_begin, c_end, x_begin, x_end, r_end;
    // Per step, the events the dependencies use (local copies: send_done of
    // the sender is recv_done of the receiver).
    std::vector<cudaEvent_t> c_done, send_done, recv_done;
    std::vector<char> computed;  // per step: false for a masked block
  };

  const RingContext& ctx;
  RingConfig cfg;
  std::vector<Gpu> gpus;
  std::vector<Rank> ranks;

  long long q_elems() const { return cfg.chunk_tokens * cfg.q_heads * cfg.head_dim; }
  long long kv_elems() const { return 2 * cfg.chunk_tokens * cfg.kv_heads * cfg.head_dim; }
  long long lse_elems() const { return cfg.chunk_tokens * cfg.q_heads; }

  Impl(const RingContext& c, const RingConfig& config) : ctx(c), cfg(config) {
    if (cfg.ring_size < 1 || cfg.ranks_per_gpu < 1 || cfg.ring_size % cfg.ranks_per_gpu != 0)
      ring_fail("RingConfig: ring_size must be a positive multiple of ranks_per_gpu", __FILE__,
                __LINE__);
    if (cfg.gpus() > ctx.gpus())
      ring_fail("RingConfig: needs " + std::to_string(cfg.gpus()) + " GPUs, the context has " +
                    std::to_string(ctx.gpus()),
                __FILE__, __LINE__);
    int least = 0, greatest = 0;
    RING_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    gpus.resize(cfg.gpus());
    for (int g = 0; g < cfg.gpus(); ++g) {
      DeviceScope scope(g);
      gpus[g].device = g;
      RING_CUDA(cudaStreamCreateWithPriority(&gpus[g].compute, cudaStreamNonBlocking, least));
      RING_CUDA(cudaStreamCreateWithPriority(&gpus[g].gate, cudaStreamNonBlocking, least));
      RING_CUDA(cudaEventCreate(&gpus[g].go));
      RING_CUDA(cudaEventCreate(&gpus[g].t0));
    }
    const int p = cfg.ring_size;
    ranks.resize(p);
    for (int d = 0; d < p; ++d) {
      Rank& r = ranks[d];
      r.gpu = d / cfg.ranks_per_gpu;
      DeviceScope scope(gpus[r.gpu].device);
      r.q = detail::device_alloc<std::uint16_t>(q_elems());
      r.own_kv = detail::device_alloc<std::uint16_t>(kv_elems());
      for (auto& b : r.kv) b = detail::device_alloc<std::uint16_t>(kv_elems());
      r.acc_o = detail::device_alloc<float>(q_elems());
      r.blk_o = detail::device_alloc<float>(q_elems());
      r.acc_lse = detail::device_alloc<float>(lse_elems());
      r.blk_lse = detail::device_alloc<float>(lse_elems());
      // Transfers first: a copy or NCCL kernel waiting behind compute CTAs
      // would serialise the ring.
      RING_CUDA(cudaStreamCreateWithPriority(&r.send, cudaStreamNonBlocking, greatest));
      RING_CUDA(cudaStreamCreateWithPriority(&r.recv, cudaStreamNonBlocking, greatest));
      for (auto* v : {&r.c_begin, &r.c_end, &r.x_begin, &r.x_end, &r.r_end}) {
        v->resize(p);
        for (auto& e : *v) RING_CUDA(cudaEventCreate(&e));
      }
      r.c_done.assign(p, nullptr);
      r.computed.assign(p, 0);
      r.send_done.assign(p, nullptr);
      r.recv_done.assign(p, nullptr);
    }
  }

  ~Impl() {
    for (Rank& r : ranks) {
      DeviceScope scope(gpus[r.gpu].device);
      for (void* p : {static_cast<void*>(r.q), static_cast<void*>(r.own_kv),
                      static_cast<void*>(r.kv[0]), static_cast<void*>(r.kv[1]),
                      static_cast<void*>(r.acc_o), static_cast<void*>(r.blk_o),
                      static_cast<void*>(r.acc_lse), static_cast<void*>(r.blk_lse)})
        cudaFree(p);
      for (auto* v : {&r.c_begin, &r.c_end, &r.x_begin, &r.x_end, &r.r_end})
        for (auto e : *v) cudaEventDestroy(e);
      cudaStreamDestroy(r.send);
      cudaStreamDestroy(r.recv);
    }
    for (Gpu& g : gpus) {
      DeviceScope scope(g.device);
      cudaEventDestroy(g.go);
      cudaEventDestroy(g.t0);
      cudaStreamDestroy(g.compute);
      cudaStreamDestroy(g.gate);
    }
  }

  TokenMap token_map(int rank) const {
    return TokenMap{cfg.layout == RingLayout::kZigzag ? 1 : 0, cfg.ring_size, rank,
                    cfg.chunk_tokens};
  }

  void fill_inputs(std::uint64_t seed) {
    const long long kv_half = kv_elems() / 2;
    for (int d = 0; d < cfg.ring_size; ++d) {
      Rank& r = ranks[d];
      Gpu& g = gpus[r.gpu];
      DeviceScope scope(g.device);
      fill_slice(r.q, cfg.chunk_tokens, cfg.q_heads, cfg.head_dim, token_map(d), seed, Tensor::kQ,
                 g.compute);
      fill_slice(r.own_kv, cfg.chunk_tokens, cfg.kv_heads, cfg.head_dim, token_map(d), seed,
                 Tensor::kK, g.compute);
      fill_slice(r.own_kv + kv_half, cfg.chunk_tokens, cfg.kv_heads, cfg.head_dim, token_map(d),
                 seed, Tensor::kV, g.compute);
    }
    synchronize();
  }

  void synchronize() {
    for (Gpu& g : gpus) {
      DeviceScope scope(g.device);
      RING_CUDA(cudaDeviceSynchronize());
    }
  }

  // Every rank: own K/V into buf[0], accumulator (0, -inf), block outputs NaN
  // (an unwritten block output then poisons the result and the check sees it).
  void reset() {
    const float kNaN = std::numeric_limits<float>::quiet_NaN();
    for (Rank& r : ranks) {
      Gpu& g = gpus[r.gpu];
      DeviceScope scope(g.device);
      RING_CUDA(cudaMemcpyAsync(r.kv[0], r.own_kv, kv_elems() * 2, cudaMemcpyDeviceToDevice,
                                g.compute));
      fill_f32(r.acc_o, q_elems(), 0.f, g.compute);
      fill_f32(r.acc_lse, lse_elems(), -std::numeric_limits<float>::infinity(), g.compute);
      fill_f32(r.blk_o, q_elems(), kNaN, g.compute);
      fill_f32(r.blk_lse, lse_elems(), kNaN, g.compute);
    }
    synchronize();
  }

  // Card 0 holds the gate; every other card's t0 follows card 0's.
  void open_gate() {
    {
      DeviceScope scope(gpus[0].device);
      gate(detail::kGateNs, gpus[0].gate);
      RING_CUDA(cudaEventRecord(gpus[0].go, gpus[0].gate));
    }
    for (Gpu& g : gpus) {
      DeviceScope scope(g.device);
      RING_CUDA(cudaStreamWaitEvent(g.gate, gpus[0].go, 0));
      RING_CUDA(cudaEventRecord(g.t0, g.gate));
    }
  }

  // `stream` waits until rank d has started step s.
  void wait_started(cudaStream_t stream, int d, int s) {
    const Rank& r = ranks[d];
    if (s == 0) {
      RING_CUDA(cudaStreamWaitEvent(stream, gpus[r.gpu].t0, 0));
      return;
    }
    for (cudaEvent_t e : {r.c_done[s - 1], r.send_done[s - 1], r.recv_done[s - 1]})
      RING_CUDA(cudaStreamWaitEvent(stream, e, 0));
  }

  void issue_compute(int d, int s) {
    Rank& r = ranks[d];
    const RingBlock b = ring_block(cfg.layout, cfg.ring_size, cfg.chunk_tokens, d, s);
    Gpu& g = gpus[r.gpu];
    DeviceScope scope(g.device);
    wait_started(g.compute, d, s);
    RING_CUDA(cudaEventRecord(r.c_begin[s], g.compute));
    r.computed[s] = b.computed;
    if (!b.computed) {
      // A masked block is an empty slot in the card's FIFO, as in the
      // simulator (a 0 ns compute): later ranks' computes queue behind it.
      RING_CUDA(cudaEventRecord(r.c_end[s], g.compute));
      r.c_done[s] = r.c_end[s];
      return;
    }
    const std::uint16_t* kv = r.kv[s % 2];
    const long long q_row = static_cast<long long>(cfg.q_heads) * cfg.head_dim;
    const long long kv_row = static_cast<long long>(cfg.kv_heads) * cfg.head_dim;
    kernels::ChunkAttentionArgs a;
    a.dtype = kernels::Dtype::kBf16;
    a.mask = b.mask;
    a.head_dim = cfg.head_dim;
    a.q_heads = cfg.q_heads;
    a.kv_heads = cfg.kv_heads;
    a.q_tokens = b.q_tokens;
    a.kv_tokens = b.kv_tokens;
    a.q = r.q + b.q_offset * q_row;
    a.k = kv + b.kv_offset * kv_row;
    a.v = kv + cfg.chunk_tokens * kv_row + b.kv_offset * kv_row;
    a.o = r.blk_o;      // dense [q_tokens, q_heads, head_dim]
    a.lse = r.blk_lse;  // dense [q_heads, q_tokens]
    RING_KERNEL(kernels::chunk_attention_forward(a, kernels::AttentionVariant::kFused, nullptr, 0,
                                                 nullptr, g.compute));
    kernels::MergeArgs m;
    m.tokens = b.q_tokens;
    m.heads = cfg.q_heads;
    m.head_dim = cfg.head_dim;
    m.acc_o = r.acc_o + b.q_offset * q_row;
    m.acc_lse = r.acc_lse + b.q_offset;
    m.acc_lse_head_stride = cfg.chunk_tokens;
    m.o = r.blk_o;
    m.lse = r.blk_lse;
    m.lse_head_stride = b.q_tokens;
    RING_KERNEL(kernels::attention_merge(m, g.compute));
    RING_CUDA(cudaEventRecord(r.c_end[s], g.compute));
    r.c_done[s] = r.c_end[s];
  }

  void issue_transfer(int d, int s) {
    const int e = (d + 1) % cfg.ring_size;
    Rank &from = ranks[d], &to = ranks[e];
    const std::size_t bytes = static_cast<std::size_t>(kv_elems()) * 2;
    const int a = from.gpu, b = to.gpu;
    std::vector<cudaStream_t> streams{from.send};
    if (a != b) streams.push_back(to.recv);
    for (cudaStream_t st : streams) {
      DeviceScope scope(gpus[st == from.send ? a : b].device);
      wait_started(st, d, s);
      wait_started(st, e, s);
    }
    DeviceScope scope(gpus[a].device);
    RING_CUDA(cudaEventRecord(from.x_begin[s], from.send));
    if (a == b) {
      RING_CUDA(cudaMemcpyAsync(to.kv[(s + 1) % 2], from.kv[s % 2], bytes,
                                cudaMemcpyDeviceToDevice, from.send));
      RING_CUDA(cudaEventRecord(from.x_end[s], from.send));
      from.send_done[s] = to.recv_done[s] = from.x_end[s];
      return;
    }
    RING_NCCL(ncclGroupStart());
    RING_NCCL(ncclSend(from.kv[s % 2], bytes, ncclUint8, b,
                       static_cast<ncclComm_t>(ctx.comm(a, a)), from.send));
    RING_NCCL(ncclRecv(to.kv[(s + 1) % 2], bytes, ncclUint8, a,
                       static_cast<ncclComm_t>(ctx.comm(a, b)), to.recv));
    RING_NCCL(ncclGroupEnd());
    RING_CUDA(cudaEventRecord(from.x_end[s], from.send));
    {
      DeviceScope scope_b(gpus[b].device);
      RING_CUDA(cudaEventRecord(to.r_end[s], to.recv));
    }
    from.send_done[s] = from.x_end[s];
    to.recv_done[s] = to.r_end[s];
  }

  double since_t0(int gpu, cudaEvent_t e) const {
    float ms = 0;
    RING_CUDA(cudaEventElapsedTime(&ms, gpus[gpu].t0, e));
    return ms;
  }

  RingTimeline run() {
    reset();
    open_gate();
    const int p = cfg.ring_size;
    for (int s = 0; s < p; ++s) {
      if (s + 1 < p)
        for (int d = 0; d < p; ++d) issue_transfer(d, s);
      for (int d = 0; d < p; ++d) issue_compute(d, s);  // (step, rank): each card's FIFO order
    }
    synchronize();
    RingTimeline t;
    t.compute.assign(p, std::vector<Slice>(p));
    t.transfer.assign(p, std::vector<Slice>(p));
    for (int d = 0; d < p; ++d) {
      const Rank& r = ranks[d];
      for (int s = 0; s < p; ++s) {
        if (r.computed[s])
          t.compute[d][s] = {since_t0(r.gpu, r.c_begin[s]), since_t0(r.gpu, r.c_end[s])};
        if (s + 1 < p)
          t.transfer[d][s] = {since_t0(r.gpu, r.x_begin[s]), since_t0(r.gpu, r.x_end[s])};
      }
      t.makespan_ms = std::max(t.makespan_ms, since_t0(r.gpu, r.c_done[p - 1]));
    }
    return t;
  }
};

}  // namespace ringsim::ring
