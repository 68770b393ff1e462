// What a real ring step costs beyond its block and merge, measured for the
// profile's `step_overhead` and `link_under_compute` samples (format in
// models/profile.hpp; written by `ringsim calibrate --step-costs`).
//
// Step overhead: `steps` ring steps of one block shape, issued as the
// executor issues them (kernels/ring/ring_executor_impl.cuh): each step's
// attention + merge on the compute stream and its K/V transfer on
// high-priority send/receive streams, the transfer of step s starting when
// step s starts, step s+1 starting when the compute, send and receive of step
// s are done (cudaStreamWaitEvent, no host in the loop). The same blocks alone
// (no transfers, back to back) give what the simulator already charges, so
//   overhead per step = (T_coupled - T_compute_alone) / steps
// is everything a ring step adds to its block and merge: the transfer's NCCL
// kernels slowing the block (interference: NCCL's CTAs take SMs the block's
// grid needed), event waits, launch gaps at each step boundary, and the fixed
// cost of each message (K and V as one message or two). The simulator charges
// it on the step's compute and, for a step so charged, no interference share
// (models/step_costs.hpp). The same work free-running (compute back to back on
// its stream, transfers back to back on theirs, no cross-stream waits) is
// reported beside it. Medians of `repeats` runs, each behind a gate kernel.
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
  double overhead_s = 0;        // per step, clamped at 0: coupled - alone_compute
  double alone_compute_s = 0;   // per step, the blocks with no transfer
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
