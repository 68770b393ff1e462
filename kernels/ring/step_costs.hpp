// What a real ring step costs beyond its block and merge, measured for the
// profile's `step_overhead` and `link_under_compute` samples (format in
// models/profile.hpp; written by `ringsim calibrate --step-costs`).
//
// Step overhead: `steps` ring steps of one block shape, issued as the
// executor issues them (kernels/ring/ring_executor_impl.cuh): each step's
// attention + merge on the compute stream and its K/V transfer on
// high-priority send/receive streams, the transfer of step s starting when
// step s starts, step s+1 starting when the compute, send and receive of step
// s are done (cudaStreamWaitEvent, no host in the loop). The same work
// free-running (compute back to back on its stream, transfers back to back
// on theirs, no cross-stream waits) keeps every interaction of compute and
// transfer (each slows the other) but none of the rendezvous; so
//   overhead per step = (T_coupled - max(T_free_compute, T_free_transfer)) / steps
// is what the ring's dependencies add: event waits, launch gaps exposed at
// each step boundary, and the fixed cost of each message (K and V as one
// message or two). Medians of `repeats` runs, each behind a gate kernel.
//
// Link under compute: the transfers free-running alone, then beside a train
// of blocks on every card involved (the train outlasts the transfers):
//   factor = T_transfers_alone / T_transfers_beside_compute   (in (0, 1])
//
// Transports: a device-to-device copy on one card (ranks sharing a card) or
// NCCL send/recv both ways between cards 0 and 1 (needs a RingContext of 2).
// Blocks are bf16 (the ring executor's dtype).
#pragma once
#include "kernels/ring/block_timing.hpp"

namespace ringsim::ring {

class RingContext;

enum class StepLink { kCopy, kNccl };

struct StepCostMeasurement {
  double overhead_s = 0;        // per step, clamped at 0
  double coupled_s = 0;         // per step, the executor's dependencies
  double free_compute_s = 0;    // per step, compute free-running beside the transfers
  double free_transfer_s = 0;   // per step, transfers free-running beside the compute
  int steps = 0;
};

struct LinkUnderCompute {
  double factor = 1;            // alone / beside compute, clamped to (0, 1]
  double alone_s = 0, beside_s = 0;  // per transfer
};

// kv_bytes: the step's K/V block, sent as `messages` (1 or 2) equal messages.
// ctx may be null for kCopy (card 0 alone).
StepCostMeasurement measure_step_overhead(const RingContext* ctx, StepLink link, const BlockTimingShape& block,
                                          double kv_bytes, int messages, int steps, int repeats);
LinkUnderCompute measure_link_under_compute(const RingContext* ctx, StepLink link, const BlockTimingShape& block,
                                            double kv_bytes, int transfers, int repeats);

}  // namespace ringsim::ring
