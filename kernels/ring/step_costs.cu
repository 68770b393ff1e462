// Per-step costs of the real ring: see step_costs.hpp for what is measured
// and why the difference of the coupled and free-running chains isolates the
// ring's dependencies.
#include "kernels/ring/step_costs.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "kernels/ring/block_buffers.cuh"
#include "kernels/ring/ring_cuda.cuh"
#include "kernels/ring/ring_device.cuh"
#include "kernels/ring/ring_executor.hpp"

namespace ringsim::ring {

namespace {

constexpr unsigned long long kGateNs = 5'000'000ULL;  // the host enqueues a chain of 64 steps in < 2 ms

float ms_between(cudaEvent_t a, cudaEvent_t b) {
  float t = 0;
  RING_CUDA(cudaEventElapsedTime(&t, a, b));
  return t;
}

cudaEvent_t new_event(bool timing) {
  cudaEvent_t e;
  RING_CUDA(cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming));
  return e;
}

// One card of a measurement: streams as the executor makes them (transfers
// at high priority), one block's buffers and an accumulator, K/V buffers.
struct Card {
  int device = 0;
  cudaStream_t compute = nullptr, send = nullptr, recv = nullptr, gate = nullptr;
  std::unique_ptr<BlockBuffers> block;
  float *acc_o = nullptr, *acc_lse = nullptr;
  char *src = nullptr, *dst = nullptr;
  kernels::MergeArgs merge;
};

struct Spans {
  double compute_s = 0, transfer_s = 0, total_s = 0;  // from the gate's opening, slowest card
};

// The cards, streams and buffers of one measurement, and the chains it runs.
class StepRig {
 public:
  StepRig(const RingContext* ctx, StepLink link, const BlockTimingShape& shape, double kv_bytes, int messages)
      : ctx_(ctx), link_(link), messages_(messages), part_bytes_(static_cast<std::size_t>(kv_bytes / messages)) {
    if (link == StepLink::kNccl && (ctx == nullptr || ctx->gpus() < 2))
      ring_fail("step costs over NCCL need a context of 2 cards", __FILE__, __LINE__);
    if (messages < 1 || messages > 2) ring_fail("messages must be 1 or 2", __FILE__, __LINE__);
    int least = 0, greatest = 0;
    RING_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    cards_.resize(link == StepLink::kNccl ? 2 : 1);
    for (std::size_t g = 0; g < cards_.size(); ++g) {
      Card& c = cards_[g];
      c.device = static_cast<int>(g);
      DeviceScope scope(c.device);
      RING_CUDA(cudaStreamCreateWithPriority(&c.compute, cudaStreamNonBlocking, least));
      RING_CUDA(cudaStreamCreateWithPriority(&c.gate, cudaStreamNonBlocking, least));
      RING_CUDA(cudaStreamCreateWithPriority(&c.send, cudaStreamNonBlocking, greatest));
      RING_CUDA(cudaStreamCreateWithPriority(&c.recv, cudaStreamNonBlocking, greatest));
      c.block = std::make_unique<BlockBuffers>(shape, /*seed=*/11 + g, c.compute);
      const long long q_elems = shape.q_tokens * shape.q_heads * shape.head_dim;
      RING_CUDA(cudaMalloc(&c.acc_o, q_elems * 4));
      RING_CUDA(cudaMalloc(&c.acc_lse, shape.q_tokens * shape.q_heads * 4));
      fill_f32(c.acc_o, q_elems, 0.f, c.compute);
      fill_f32(c.acc_lse, shape.q_tokens * shape.q_heads, -std::numeric_limits<float>::infinity(), c.compute);
      RING_CUDA(cudaMalloc(&c.src, part_bytes_ * messages));
      RING_CUDA(cudaMalloc(&c.dst, part_bytes_ * messages));
      RING_CUDA(cudaMemsetAsync(c.src, 0x3C, part_bytes_ * messages, c.compute));
      c.merge = kernels::MergeArgs{shape.q_tokens, shape.q_heads, shape.head_dim, c.acc_o, c.acc_lse,
                                   c.block->args.o, c.block->args.lse};
      RING_CUDA(cudaStreamSynchronize(c.compute));
    }
  }
  ~StepRig() {
    for (Card& c : cards_) {
      DeviceScope scope(c.device);
      cudaDeviceSynchronize();
      c.block.reset();
      for (void* p : {static_cast<void*>(c.acc_o), static_cast<void*>(c.acc_lse), static_cast<void*>(c.src),
                      static_cast<void*>(c.dst)})
        cudaFree(p);
      for (cudaStream_t s : {c.compute, c.send, c.recv, c.gate}) cudaStreamDestroy(s);
    }
  }
  StepRig(const StepRig&) = delete;
  StepRig& operator=(const StepRig&) = delete;

  // `blocks` attention + merge on every card and `transfers` K/V transfers;
  // coupled: blocks == transfers steps bound by the executor's events.
  Spans run(int blocks, int transfers, bool coupled);

 private:
  const RingContext* ctx_;
  StepLink link_;
  int messages_;
  std::size_t part_bytes_;
  std::vector<Card> cards_;
  // Per card and step: compute done, send done, receive done (no timing).
  std::vector<std::vector<cudaEvent_t>> c_done_, x_send_, x_recv_;

  void compute(std::size_t g) {
    Card& c = cards_[g];
    DeviceScope scope(c.device);
    c.block->launch(c.compute);
    RING_KERNEL(kernels::attention_merge(c.merge, c.compute));
  }
  void transfer(int s);
  // `stream` of `device` waits until card h has started step s.
  void wait_started(int device, cudaStream_t stream, std::size_t h, int s) {
    if (s == 0) return;  // every stream already waits for the gate
    DeviceScope scope(device);
    for (cudaEvent_t e : {c_done_[h][s - 1], x_send_[h][s - 1], x_recv_[h][s - 1]})
      RING_CUDA(cudaStreamWaitEvent(stream, e, 0));
  }
};

void StepRig::transfer(int s) {
  if (link_ == StepLink::kCopy) {
    Card& c = cards_[0];
    DeviceScope scope(c.device);
    for (int m = 0; m < messages_; ++m)
      RING_CUDA(cudaMemcpyAsync(c.dst + m * part_bytes_, c.src + m * part_bytes_, part_bytes_,
                                cudaMemcpyDeviceToDevice, c.send));
    RING_CUDA(cudaEventRecord(x_send_[0][s], c.send));
    RING_CUDA(cudaEventRecord(x_recv_[0][s], c.send));
    return;
  }
  for (int a = 0; a < 2; ++a) {  // a -> b on a's send stream and b's receive stream, as the executor
    const int b = 1 - a;
    Card &from = cards_[a], &to = cards_[b];
    RING_NCCL(ncclGroupStart());
    for (int m = 0; m < messages_; ++m) {
      RING_NCCL(ncclSend(from.src + m * part_bytes_, part_bytes_, ncclUint8, b, static_cast<ncclComm_t>(ctx_->comm(a, a)),
                         from.send));
      RING_NCCL(ncclRecv(to.dst + m * part_bytes_, part_bytes_, ncclUint8, a, static_cast<ncclComm_t>(ctx_->comm(a, b)),
                         to.recv));
    }
    RING_NCCL(ncclGroupEnd());
    {
      DeviceScope scope(from.device);
      RING_CUDA(cudaEventRecord(x_send_[a][s], from.send));
    }
    DeviceScope scope(to.device);
    RING_CUDA(cudaEventRecord(x_recv_[b][s], to.recv));
  }
}

Spans StepRig::run(int blocks, int transfers, bool coupled) {
  const std::size_t n = cards_.size();
  const int steps = std::max(blocks, transfers);
  for (auto* v : {&c_done_, &x_send_, &x_recv_}) {
    v->assign(n, std::vector<cudaEvent_t>(steps));
    for (std::size_t g = 0; g < n; ++g) {
      DeviceScope scope(cards_[g].device);
      for (auto& e : (*v)[g]) e = new_event(false);
    }
  }
  std::vector<cudaEvent_t> t0(n), c_end(n), s_end(n), r_end(n);
  cudaEvent_t go;
  {
    DeviceScope scope(cards_[0].device);
    go = new_event(false);
    gate(kGateNs, cards_[0].gate);
    RING_CUDA(cudaEventRecord(go, cards_[0].gate));
  }
  for (std::size_t g = 0; g < n; ++g) {
    Card& c = cards_[g];
    DeviceScope scope(c.device);
    for (auto* e : {&t0[g], &c_end[g], &s_end[g], &r_end[g]}) *e = new_event(true);
    RING_CUDA(cudaStreamWaitEvent(c.gate, go, 0));
    RING_CUDA(cudaEventRecord(t0[g], c.gate));
    for (cudaStream_t st : {c.compute, c.send, c.recv}) RING_CUDA(cudaStreamWaitEvent(st, t0[g], 0));
  }
  for (int s = 0; s < steps; ++s) {
    if (s < transfers) {
      if (coupled)  // a step's transfer starts when every card has started the step
        for (std::size_t g = 0; g < n; ++g)
          for (std::size_t h = 0; h < n; ++h)
            for (cudaStream_t st : {cards_[g].send, cards_[g].recv}) wait_started(cards_[g].device, st, h, s);
      transfer(s);
    }
    if (s >= blocks) continue;
    for (std::size_t g = 0; g < n; ++g) {
      if (coupled) wait_started(cards_[g].device, cards_[g].compute, g, s);
      compute(g);
      DeviceScope scope(cards_[g].device);
      RING_CUDA(cudaEventRecord(c_done_[g][s], cards_[g].compute));
      if (s >= transfers) {  // no transfer this step: nothing to wait for
        RING_CUDA(cudaEventRecord(x_send_[g][s], cards_[g].compute));
        RING_CUDA(cudaEventRecord(x_recv_[g][s], cards_[g].compute));
      }
    }
  }
  Spans out;
  for (std::size_t g = 0; g < n; ++g) {
    Card& c = cards_[g];
    DeviceScope scope(c.device);
    RING_CUDA(cudaEventRecord(c_end[g], c.compute));
    RING_CUDA(cudaEventRecord(s_end[g], c.send));
    RING_CUDA(cudaEventRecord(r_end[g], c.recv));
  }
  for (std::size_t g = 0; g < n; ++g) {
    DeviceScope scope(cards_[g].device);
    RING_CUDA(cudaDeviceSynchronize());
    out.compute_s = std::max(out.compute_s, 1e-3 * ms_between(t0[g], c_end[g]));
    out.transfer_s = std::max({out.transfer_s, 1e-3 * ms_between(t0[g], s_end[g]), 1e-3 * ms_between(t0[g], r_end[g])});
    for (cudaEvent_t e : {t0[g], c_end[g], s_end[g], r_end[g]}) cudaEventDestroy(e);
    for (auto* v : {&c_done_, &x_send_, &x_recv_})
      for (cudaEvent_t e : (*v)[g]) cudaEventDestroy(e);
  }
  {
    DeviceScope scope(cards_[0].device);
    cudaEventDestroy(go);
  }
  out.total_s = std::max(out.compute_s, out.transfer_s);
  return out;
}

}  // namespace

StepCostMeasurement measure_step_overhead(const RingContext* ctx, StepLink link, const BlockTimingShape& block,
                                          double kv_bytes, int messages, int steps, int repeats) {
  StepRig rig(ctx, link, block, kv_bytes, messages);
  rig.run(steps, steps, true);  // warm-up: NCCL channels, copy engines, clocks
  std::vector<double> coupled, free_c, free_x, alone;
  for (int r = 0; r < repeats; ++r) {
    alone.push_back(rig.run(steps, 0, false).compute_s);
    coupled.push_back(rig.run(steps, steps, true).total_s);
    const Spans f = rig.run(steps, steps, false);
    free_c.push_back(f.compute_s);
    free_x.push_back(f.transfer_s);
  }
  StepCostMeasurement m;
  m.steps = steps;
  m.coupled_s = median(coupled) / steps;
  m.free_compute_s = median(free_c) / steps;
  m.free_transfer_s = median(free_x) / steps;
  m.alone_compute_s = median(alone) / steps;
  m.overhead_s = std::max(0.0, m.coupled_s - m.alone_compute_s);
  return m;
}

LinkUnderCompute measure_link_under_compute(const RingContext* ctx, StepLink link, const BlockTimingShape& block,
                                            double kv_bytes, int transfers, int repeats) {
  StepRig rig(ctx, link, block, kv_bytes, 1);
  rig.run(2, transfers, false);  // warm-up
  const double block_s = rig.run(4, 0, false).compute_s / 4;
  std::vector<double> alone, beside;
  for (int r = 0; r < repeats; ++r) alone.push_back(rig.run(0, transfers, false).transfer_s);
  // A train that outlasts the transfers by half, so every transfer runs beside compute.
  const int train = 1 + static_cast<int>(std::ceil(1.5 * median(alone) / std::max(block_s, 1e-7)));
  for (int r = 0; r < repeats; ++r) beside.push_back(rig.run(train, transfers, false).transfer_s);
  LinkUnderCompute out;
  out.alone_s = median(alone) / transfers;
  out.beside_s = median(beside) / transfers;
  out.factor = std::clamp(out.alone_s / out.beside_s, 1e-6, 1.0);
  return out;
}

}  // namespace ringsim::ring
