// The real executor of any schedule's programs (sim/schedule.hpp, read through
// kernels/ring/exec_plan.hpp) on 1-4 GPUs: the chunk kernels and merges of
// kernels/attention on each card's compute stream, transfers on
// high-priority streams, every dependency a CUDA event. No CUDA header here:
// the validate tool (plain C++) drives it.
//
// Per rank (device of the program): every buffer the program ALLOCs, by id,
// with the byte layout of its BufferFormat; inputs filled where the program's
// placements say. Then, round by round (a round: the operations between two
// WAIT_ALLs; it starts when every operation of the previous one is done):
//   compute   the blocks of work() on the card's one compute stream, in the
//             card's order (ExecPlan::fifo); an attention block runs the
//             fused chunk kernel with sub-views of the buffers; kWrite writes
//             an accumulator's rows (output and log-sum-exp) directly, kMerge
//             runs into a scratch block output and merges it
//             (kernels::attention_merge); into partials rows the output is
//             cast to bf16 beside its log-sum-exp; a kMerge block merges the
//             received partial slots; an empty compute keeps its slot;
//   transfer  rendezvous (src, dst, tag): it starts once both ends have
//             started the rounds that post it. Within a card a
//             device-to-device copy; across cards NCCL send/recv, the
//             transfers that become ready together in one
//             ncclGroupStart/End: per-source-card communicators (a send
//             kernel on the sender's stream, a receive kernel on the
//             receiver's, as the link and interference calibrations time
//             them) when each card sends and receives at most one message
//             across cards; otherwise one shared communicator with one stream
//             per card, so an all-to-all is one NCCL kernel per card, as
//             NCCL runs it (with ranks sharing a card, per-transfer groups on
//             the per-source-card communicators instead);
//   cast      a kOutput buffer no receive fills: the accumulator in bf16, at
//             the start of the round that first sends it (exec_plan.hpp).
//   backward  (a backward plan, ring_backward.cu) each kAttentionBackward
//             block runs the fused chunk backward on sub-views with the
//             rows' LSE and D made head-major by a transpose; kDelta,
//             kGradAdd, kCopy, kZero are small kernels; the saved O and LSE
//             come from a forward run (take_saved).
// A gate kernel holds the cards until the host has enqueued the whole run,
// so host launch rate never shows in the timings; the host never
// synchronises inside a run.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/ring/exec_plan.hpp"

namespace ringsim::ring {

// CUDA facts without CUDA headers. cuda_device_count() is 0 without a driver.
int cuda_device_count();
std::string cuda_device_name(int device);
std::string cuda_versions();      // "driver 13.0, runtime 13.0, NCCL 2.27.3"
double cuda_memory_bytes(int device);

// The cards a ring runs on and their NCCL communicators (NCCL_NVLS_ENABLE=0
// is set before they are made): one set per source card and one shared set.
// Made once; rings and link benches share it.
class RingContext {
 public:
  explicit RingContext(int gpus);  // CUDA devices 0..gpus-1; throws std::runtime_error
  ~RingContext();
  RingContext(const RingContext&) = delete;
  RingContext& operator=(const RingContext&) = delete;
  int gpus() const { return gpus_; }
  // ncclComm_t of `gpu` in the set used for transfers leaving `src_gpu`.
  void* comm(int src_gpu, int gpu) const;
  // ncclComm_t of `gpu` in the shared set (grouped all-to-alls).
  void* shared_comm(int gpu) const;

 private:
  int gpus_;
  std::vector<std::vector<void*>> comms_;  // [set][gpu]
};

// One timed operation of a run, in ms from the ring's start (t0, one per
// card, aligned through a cross-card event). Transfers are timed on the
// sender's stream.
struct TimedOp {
  enum Kind : std::uint8_t { kCompute, kTransfer, kCast };
  Kind kind = kCompute;
  long long device = 0, peer = 0;  // peer: a transfer's receiver
  long long label = 0;             // the program's step
  double start_ms = 0, end_ms = 0;
  bool empty = false;              // a compute with no blocks (a slot in the card's order)
};
struct RingTimeline {
  double makespan_ms = 0;  // the last operation's end
  std::vector<TimedOp> ops;
  double gate_ms = 0, enqueue_ms = 0;  // the gate held the cards this long; the host enqueued in this long
};

struct RingCheck {
  double rel_error = 0;      // ||o - ref|| / ||ref|| over the checked rows (fp64 reference)
  double max_lse_error = 0;  // max |lse - ref| over the checked rows that keep one (accumulators)
  long long rows = 0;        // (token, head) rows checked
  long long nonfinite = 0;   // non-finite values anywhere in the outputs (and their log-sum-exps)
};

// A backward run's gradients on sampled rows against fp64 (ring_check_grad.cu).
struct GradCheck {
  double dq_rel_error = 0;   // ||dq - ref|| / ||ref|| over sampled (position, q head) rows
  double dkv_rel_error = 0;  // the same over sampled (position, kv head) rows of dK and dV together
  long long dq_rows = 0, dkv_rows = 0;
  long long nonfinite = 0;   // non-finite values anywhere in the gradient outputs
};

class RingExecutor {
 public:
  // `plan` (forward or backward) must outlive the executor. Throws
  // Unsupported for what the chunk kernels cannot run (dtype, head_dim,
  // striped diagonals, gradients of a block landing in grad_dtype rows),
  // std::runtime_error for CUDA/NCCL failures.
  RingExecutor(const RingContext&, const ExecPlan& plan);
  ~RingExecutor();
  // Fresh random Q, K, V (ring_random.hpp) in every rank's input placements.
  void fill_inputs(std::uint64_t seed);
  // One pass of the plan: every other buffer poisoned (NaN; partial rows
  // -inf), inputs refilled, then the whole program.
  RingTimeline run();
  // The last run's outputs on sampled (position, head) rows against an fp64
  // CPU reference over the whole sequence.
  RingCheck check(std::uint64_t seed, int tokens_sampled, int heads_sampled) const;
  // A backward plan's inputs that a forward run produces: its O (cast to the
  // model's dtype) and LSE, gathered by position from `forward`'s last run
  // (same seed) into this executor's saved-output and saved-LSE placements;
  // every later run() refills them from there. Q, K, V and dO are hashed.
  void take_saved(const RingExecutor& forward);
  // The last backward run's dQ and dK/dV against fp64 (ring_check_grad.cu).
  GradCheck check_grad(std::uint64_t seed, int tokens_sampled, int heads_sampled) const;

  struct Impl;  // ring_executor_impl.cuh (public for the enqueue walk in ring_issue.cu)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringsim::ring
