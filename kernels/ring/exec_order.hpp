// The order in which the host enqueues one run of an ExecPlan, and what each
// enqueued operation waits on: CPU only, so tests replay it without a GPU
// (tests/sim/test_schedule_fp64.cpp runs the fp64 executor in this order);
// ring_issue.cu turns each step into CUDA and NCCL calls.
//
// A CUDA stream can wait only on an event already recorded, so the order
// walks the programs as the event engine does (sim/engine.hpp): a device's
// round becomes current once every operation of its previous round is
// enqueued, and its operations wait on the completions of that previous
// round (the round's start; round 0: the gate); a transfer is enqueued when
// its sender and its receiver are both in the rounds that post it and waits
// on both starts; a card's computes go in ExecPlan::fifo order; a round's
// casts come before its other operations, which also wait on them.
// Transfers that become ready in the same pass form one step: copies within
// a card, and the cross-card ones in one NCCL group on a path:
//   kPerSource  per-source-card communicators (a send kernel on the sender's
//               stream, a receive kernel on the receiver's), when each card
//               sends and receives at most one message across cards (a ring
//               step: what the link and interference calibrations time);
//   kShared     one shared communicator, one stream per card: an all-to-all
//               is one NCCL kernel per card, as NCCL runs it (one rank per
//               card); with ranks sharing a card, each cross-card transfer of
//               such a pass is a kPerSource step of its own instead.
#pragma once
#include <vector>

#include "kernels/ring/exec_plan.hpp"

namespace ringsim::ring {

// The completion of one operation: a compute, a transfer at its sender or at
// its receiver, or a device's casts of one round; kGate: the run's start on
// the device's card.
struct OpRef {
  enum Kind : std::uint8_t { kGate, kCompute, kTransferAtSrc, kTransferAtDst, kCast };
  Kind kind = kGate;
  int index = 0;  // compute or transfer index; kCast, kGate: the device
  int round = 0;  // kCast: the round
  bool operator==(const OpRef&) const = default;
};

enum class TransferPath : std::uint8_t { kCopy, kPerSource, kShared };

struct EnqueueStep {
  enum Kind : std::uint8_t { kCast, kCompute, kTransfers };
  Kind kind = kCompute;
  long long device = 0;                    // kCast, kCompute
  int round = 0;                           // kCast
  int compute = -1;                        // kCompute
  TransferPath path = TransferPath::kCopy; // kTransfers
  std::vector<int> transfers;              // kTransfers: one copy, or one NCCL group
  std::vector<std::vector<OpRef>> waits;   // per operation of the step (a transfer: both ends' starts)
};

// Throws std::logic_error if the programs wait on each other forever.
std::vector<EnqueueStep> enqueue_order(const ExecPlan&);

}  // namespace ringsim::ring
