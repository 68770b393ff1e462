// The real pass-KV ring on 1-2 GPUs: the forward pass the simulator models,
// with the chunk kernels and merge of kernels/attention, compute and
// transfers on separate streams so they overlap. No CUDA header here: the
// validate tool (plain C++) drives it.
//
//   One GPU:  P virtual ranks on one card (ranks_per_gpu = P); K/V rotation
//             by device-to-device cudaMemcpyAsync.
//   Two GPUs: one rank per card (P = 2) or two (P = 4): a copy within a card,
//             NCCL send/recv across (one communicator set per source card, so
//             the two directions never wait on each other).
//
// Semantics (identical to sim/schedules/pass_kv.cpp and sim/engine.hpp):
//   - ranks sharing a card issue their computes on the card's one compute
//     stream in order (step, rank): an in-order FIFO; a masked block (causal
//     contiguous, source after the rank) is an empty slot in it (0 ns);
//   - at step s rank d computes on buf[s%2] (attention, then merge into the
//     accumulator, every computed block including step 0) and sends buf[s%2]
//     to d+1 while receiving buf[(s+1)%2] from d-1;
//   - the transfer d->d+1 of step s starts when d and d+1 have both started
//     step s; d starts step s+1 when its compute, send and receive of step s
//     are done; no transfer at the last step.
// Every dependency is a CUDA event (cudaStreamWaitEvent); the host never
// synchronises inside a run. A gate kernel holds the cards until the host has
// enqueued the whole run, so host launch rate never shows in the timings.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/ring/ring_schedule.hpp"

namespace ringsim::ring {

// CUDA facts without CUDA headers. cuda_device_count() is 0 without a driver.
int cuda_device_count();
std::string cuda_device_name(int device);
std::string cuda_versions();      // "driver 13.0, runtime 13.0, NCCL 2.27.3"
double cuda_memory_bytes(int device);

// The cards a ring runs on and their NCCL communicators (NCCL_NVLS_ENABLE=0
// is set before they are made). Made once; rings and link benches share it.
class RingContext {
 public:
  explicit RingContext(int gpus);  // CUDA devices 0..gpus-1; throws std::runtime_error
  ~RingContext();
  RingContext(const RingContext&) = delete;
  RingContext& operator=(const RingContext&) = delete;
  int gpus() const { return gpus_; }
  // ncclComm_t of `gpu` in the set used for transfers leaving `src_gpu`.
  void* comm(int src_gpu, int gpu) const;

 private:
  int gpus_;
  std::vector<std::vector<void*>> comms_;  // [src_gpu][gpu]
};

struct RingConfig {
  RingLayout layout = RingLayout::kNonCausal;
  int ring_size = 1;
  int ranks_per_gpu = 1;   // ranks d and d' share a card iff d / rpg == d' / rpg
  long long chunk_tokens = 0;
  int q_heads = 32, kv_heads = 8, head_dim = 128;
  int gpus() const { return ring_size / ranks_per_gpu; }
  double kv_block_bytes() const { return 2.0 * chunk_tokens * kv_heads * head_dim * 2; }
};

// Times in ms from the ring's start (t0, one per card, aligned through a
// cross-card event); start < 0 when the slice does not exist.
struct Slice {
  double start_ms = -1, end_ms = -1;
};
struct RingTimeline {
  double makespan_ms = 0;                    // last rank's last compute end
  std::vector<std::vector<Slice>> compute;   // [rank][step] attention + merge
  std::vector<std::vector<Slice>> transfer;  // [rank][step] send rank -> rank+1
};

struct RingCheck {
  double rel_error = 0;      // ||o - ref|| / ||ref|| over the checked rows (fp64 reference)
  double max_lse_error = 0;  // max |lse - ref| over the checked rows
  long long rows = 0;        // (token, head) rows checked
  long long nonfinite = 0;   // non-finite outputs anywhere in O or LSE
};

class RingExecutor {
 public:
  RingExecutor(const RingContext&, const RingConfig&);  // throws std::runtime_error
  ~RingExecutor();
  // Fresh random Q, K, V for every rank (see ring_random.hpp).
  void fill_inputs(std::uint64_t seed);
  // One forward pass: accumulators reset, block outputs poisoned (NaN).
  RingTimeline run();
  // Checks the last run's output on sampled (token, head) rows against an
  // fp64 CPU reference over the whole sequence.
  RingCheck check(std::uint64_t seed, int tokens_sampled, int heads_sampled) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringsim::ring
