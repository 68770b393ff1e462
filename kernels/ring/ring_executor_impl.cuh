// RingExecutor::Impl: the executor's state (cards, ranks' buffers, streams,
// events), shared by ring_executor.cu (setup, inputs, poisons, blocks, runs),
// ring_issue.cu (a run's steps as CUDA and NCCL calls) and ring_check.cu
// (the output check). CUDA only; see ring_executor.hpp for what runs.
#pragma once
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdint>
#include <vector>

#include "kernels/ring/exec_order.hpp"
#include "kernels/ring/ring_cuda.cuh"
#include "kernels/ring/ring_executor.hpp"

namespace ringsim::ring {

struct RingExecutor::Impl {
  struct Gpu {
    int device = 0;
    cudaStream_t compute = nullptr, gate = nullptr;
    cudaStream_t coll = nullptr;  // grouped NCCL on the shared communicator
    cudaEvent_t go = nullptr, t0 = nullptr;
  };
  struct Rank {
    int gpu = 0;
    std::vector<std::uint8_t*> buf;  // by BufferId; null where the program allocates none
    std::vector<float*> lse;         // by BufferId: an accumulator's log-sum-exp [heads][rows]
    float *scratch_o = nullptr, *scratch_lse = nullptr;  // a block's output before a merge or a cast
    float* scratch_grad = nullptr;  // a backward block's fp32 dQ, then dK/dV, before they land in grad_dtype rows
    std::vector<long long*> input_tokens;  // per input placement: token index of each row (device)
    std::vector<std::uint8_t*> saved;      // per input placement: the forward's O or LSE rows (take_saved)
    cudaStream_t xfer = nullptr;     // sends (copies, per-source-card NCCL), casts
    std::vector<cudaStream_t> recv;  // [source card]: per-source-card NCCL receives
    unsigned long long* stamp = nullptr;  // GPU time a slowed compute started (ExecPlan::slow_devices)
  };
  struct Events {
    cudaEvent_t begin = nullptr, end = nullptr;
    cudaEvent_t end_dst = nullptr;  // transfers: done at the receiver (its card's stream)
  };

  // The forward's outputs by (position, head) (take_saved; kept for check_grad):
  // O in the model's dtype (the accumulator cast), and LSE.
  struct SavedRows {
    long long tokens = 0;
    int heads = 0, dim = 0;
    std::vector<std::uint16_t> o;  // [tokens, heads, dim]
    std::vector<float> lse;        // [tokens, heads]
  };

  const RingContext& ctx;
  const ExecPlan& plan;
  std::vector<Gpu> gpus;
  std::vector<Rank> ranks;
  std::vector<Events> compute_ev, transfer_ev;
  std::vector<std::vector<Events>> cast_ev;  // [device][round]
  std::vector<EnqueueStep> order;            // one run's enqueue order (exec_order.hpp)
  std::uint64_t seed = 0;
  SavedRows saved;  // backward plans, after take_saved
  // The gate holds the cards while the host enqueues; doubled when a run's
  // enqueue outlasts it (run() then runs again).
  unsigned long long gate_ns = 10'000'000ULL;

  Impl(const RingContext&, const ExecPlan&);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  int gpu_of(long long device) const { return static_cast<int>(device / plan.ranks_per_gpu); }
  int head_dim() const { return static_cast<int>(plan.shape.head_dim); }
  std::uint8_t* at(const Rank& r, const Slice& s) const {
    return r.buf[static_cast<std::size_t>(s.buffer)] + plan.row_offset(s);
  }
  void check_runnable() const;
  // The factor compute `c` is stretched by (ExecPlan::slow_devices; 1: none).
  double slowdown_of(const ExecCompute& c) const;
  void allocate(long long device);
  void poison(Rank&, cudaStream_t);
  void fill(Rank&, long long device, cudaStream_t);
  void synchronize();
  void open_gate();
  // ring_issue.cu: the whole run's steps, behind the gate.
  void enqueue();
  cudaEvent_t event_of(const OpRef&) const;
  void wait(cudaStream_t, const std::vector<OpRef>&) const;
  void copy(const EnqueueStep&);
  void per_source_group(const EnqueueStep&);
  void shared_group(const EnqueueStep&);
  RingTimeline collect() const;
  RingTimeline run();

  // One compute's blocks on `stream` (the card's compute stream).
  void run_block(Rank&, const ExecBlock&, cudaStream_t);
  void attention_block(Rank&, const Block&, cudaStream_t);
  void merge_block(Rank&, const ExecBlock&, cudaStream_t);
  void cast_outputs(Rank&, long long device, const std::vector<BufferId>&, cudaStream_t);
  // ring_backward.cu: the backward's blocks and the forward's saved rows.
  std::uint8_t* at_role(const Rank&, const Slice&, ::ringsim::Tensor role, int heads) const;
  bool fp32_rows(const Slice&, ::ringsim::Tensor role) const;
  void backward_block(Rank&, const Block&, cudaStream_t);
  void delta_block(Rank&, const Block&, cudaStream_t);
  void stream_block(Rank&, const Block&, cudaStream_t);
  void fill_saved(Rank&, long long device, cudaStream_t);
  std::int64_t grad_scratch_elements(long long device) const;
  std::int64_t saved_bytes(const Placement&) const;
  void take_saved(const Impl& forward);
};

}  // namespace ringsim::ring
