// What a ring-shaped schedule lowers to for the exact fast paths
// (sim/recurrence.hpp): P devices, step s of device d costs c(d, s) in three
// classes (RingCosts), and at every step but the last each device sends one
// message of `bytes` to d + 1 and receives one from d - 1, rendezvous then
// transfer, before its next step. pass-kv lowers to it; pass-q lowers its
// ring phase to it and leaves a tail (its return all-to-all) to the engine.
// The backward rings of pass-kv and pass-q (sim/schedules/grad_ring.hpp)
// lower to its gradient form (RingLowering::grad): P + 1 rounds with
// messages at every one of them and an add after some waits.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "models/compute_model.hpp"
#include "models/topology.hpp"
#include "sim/cost_context.hpp"
#include "sim/engine.hpp"

namespace ringsim {

// Step costs of a ring in which step s of device d computes the block of
// source part j = (d - s) mod P: the diagonal at s = 0, "lower" blocks when
// 1 <= s <= d (j < d), "upper" when s > d (j > d).
struct RingCosts {
  TimeNs diagonal_ns = 0, lower_ns = 0, upper_ns = 0;
  CostSource source = CostSource::kCalibrated;  // kEstimated if any block is
  BlockShares diagonal_share, lower_share, upper_share;

  TimeNs cost(long long d, long long s) const {
    return s == 0 ? diagonal_ns : (s <= d ? lower_ns : upper_ns);
  }
  const BlockShares& share(long long d, long long s) const {
    return s == 0 ? diagonal_share : (s <= d ? lower_share : upper_share);
  }
  // Sum over the P steps of device d (d steps lower, P-1-d upper); throws
  // TimeOverflow past int64.
  TimeNs device_compute_ns(long long d, long long ring_size) const;
  // Over the devices, in O(1): the largest sum (device P-1 if lower >=
  // upper, else device 0) and the mean, D + (P-1)(L+U)/2.
  TimeNs max_device_compute_ns(long long ring_size) const;
  double mean_device_compute_ns(long long ring_size) const;
  // Every device has the same cost sequence.
  bool uniform() const { return lower_ns == upper_ns; }
  TimeNs max_ns() const;
};

// The ring's routes, looked up once: tx_ns[d] = latency + transfer time of
// d -> d+1 alone on its route (empty for P == 1), and whether the P routes
// are pairwise link-disjoint (a use count per LinkId); `why` names a shared
// link. Rank d sits on GPU d / ranks_per_gpu; ranks of one GPU talk over its
// copy link (Topology::loopback), which three or more ranks of a ring share.
struct RingLinks {
  std::vector<TimeNs> tx_ns;
  std::vector<TimeNs> bytes_ns;  // the bytes part of tx_ns (transfer jitter keeps at least it)
  bool disjoint = true;
  std::string why;
};
RingLinks ring_links(const Topology&, long long ring_size, double bytes, long long ranks_per_gpu = 1);

// A backward ring's rounds (sim/schedules/grad_ring.hpp): every device
// first computes pre_ns (the D pass); ring steps s = 0..P-1 then send
// first_bytes (s = 0: the inputs alone), `bytes` (inputs and accumulator) or
// last_bytes (s = P-1: the accumulator alone) and compute c(d, s) before
// their wait; after the wait of a step s >= 1, each device adds for add_ns(d,
// s) and waits again; a last round (P > 1) sends last_bytes (the return hop)
// and computes nothing. P = 1: pre_ns and the diagonal, no transfer.
struct GradRounds {
  TimeNs pre_ns = 0;
  TimeNs add_lower_ns = 0, add_upper_ns = 0;  // by the class of step s's block (0: no block to add)
  double first_bytes = 0, last_bytes = 0;
  TimeNs add_ns(long long d, long long s) const { return s == 0 ? 0 : (s <= d ? add_lower_ns : add_upper_ns); }
};

struct RingLowering {
  long long ring_size = 1;
  RingCosts costs;
  double bytes = 0;                  // each ring transfer
  double flops_diagonal = 0, flops_lower = 0, flops_upper = 0;  // per step of each class
  // A tail the event engine runs after every device's last ring step (its
  // program continues from `tail_start`); none when !has_tail.
  bool has_tail = false;
  ProgramCursor tail_start;

  std::optional<GradRounds> grad;    // a backward ring's rounds (then no tail)

  // Flops of the ring's P^2 steps: P diagonals, P(P-1)/2 of each other class.
  double total_flops() const;
  // Device d's compute: its steps' blocks, and with grad its D pass and adds.
  TimeNs device_compute_ns(long long d) const;
};

}  // namespace ringsim
