// Exact fast paths (modes kRecurrence and kFolded): the ring's event graph
// evaluated step by step over arrays instead of through an event queue.
//
// With S[d] the start of device d's step s, c(d,s) its compute and tx[d] the
// time of transfer d -> d+1 alone on its links (latency + bytes/rate):
//   x[d]  = max(S[d], S[d+1]) + tx[d]              rendezvous, then transfer
//   S'[d] = max(S[d] + c(d,s), x[d], x[d-1])       compute, send, recv all done
//   F[d]  = S[d] + c(d,P-1)                        last step: no transfers
// which is what the event engine computes when no two ring transfers share a
// link (then each flow runs alone at its route's rate; ring_links checks it).
//
// Folding (kFolded): if tx and every device's cost sequence are p-periodic in
// d for some p | P, then S is p-periodic at every step (induction: S = 0 at
// step 0 is periodic, and the map above commutes with a shift by p when its
// inputs are p-periodic; the recurrence is a function, so its unique solution
// equals its own shift). The ring of p devices, run for the same P steps with
// indices mod p, therefore yields exactly the same numbers in O(p * P).
//
// Backward rings (RingLowering::grad, sim/schedules/grad_ring.hpp) run the
// same map over P + 1 rounds: round r < P sends a message of its class
// (first, mid, last), computes c(d, r), waits, then adds a(d, r):
//   S'[d] = max(S[d] + c(d,r), x[d], x[d-1]) + a(d,r),  S = pre at round 0,
// and round P (the return hop) only transfers; F[d] = S after round P.
// Folding holds as above when every class's link times are p-periodic and
// the costs and adds do not depend on d.
//
// Cost: O(n * P) time, 3 arrays of n int64 memory; the inner loop is
// branch-free (causal steps are split into the two d-ranges of equal cost)
// and vectorised (an AVX2 clone is picked at run time on x86-64).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "sim/fault_model.hpp"
#include "sim/ring_lowering.hpp"

namespace ringsim {

struct RecurrenceResult {
  std::vector<TimeNs> finish_ns;  // n devices evaluated
  std::vector<TimeNs> compute_ns; // per device (run_recurrence_faults only)
  TimeNs makespan_ns = 0;
  long long slowest_device = 0;   // max finish, lowest index on ties
  std::uint64_t nodes = 0;        // graph nodes evaluated (steps + transfers)
  int threads = 1;
};

// Runs work(t) for t in [0, count): t = 0 on the calling thread, the rest on
// their own threads; returns when all are done.
void run_threads(int count, const std::function<void(int)>& work);

// Smallest p dividing ring_size such that tx and the costs are p-periodic;
// ring_size when there is none.
long long fold_period(const RingCosts&, const std::vector<TimeNs>& tx_ns, long long ring_size);

// Throws TimeOverflow when the bound on every time the recurrence forms does
// not fit in int64. The bound: each step raises the latest start by at most
// max(step cost, max tx) (S' <= max(S + c, max(S) + tx)), so every time is at
// most max(c_0, tx) + (P-2) max(c, tx) + c (c_0 the diagonal, c the largest
// other cost) -- the exact makespan of a ring of identical devices, so the
// fast paths refuse nothing a uniform ring's event engine could simulate.
void check_recurrence_fits(const RingCosts&, const std::vector<TimeNs>& tx_ns, long long ring_size);

// Runs ring_size steps on the first `devices` devices (devices == ring_size,
// or a fold period). tx_ns holds at least `devices` entries (empty if P == 1).
// threads: 0 = hardware concurrency; fewer are used on small rings.
// progress(device-steps done, total), called every few hundred steps.
RecurrenceResult run_recurrence(const RingCosts&, const std::vector<TimeNs>& tx_ns, long long devices,
                                long long ring_size, int threads,
                                const std::function<void(std::uint64_t, std::uint64_t)>& progress);

// The same ring (all n = ring_size devices, no folding) with every (device,
// step) compute and transfer through `faults` (sim/recurrence_faults.cpp);
// fills compute_ns. Throws TimeOverflow if the ring at the faults' largest
// factors may not fit in int64.
RecurrenceResult run_recurrence_faults(const RingCosts&, const RingLinks&, long long ring_size, int threads,
                                       const FaultModel& faults,
                                       const std::function<void(std::uint64_t, std::uint64_t)>& progress);
// A backward ring's link times, one array per message class (as tx_ns above).
struct GradTx {
  std::vector<TimeNs> first, mid, last;
};
long long fold_period(const RingLowering&, const GradTx&);
// Throws TimeOverflow unless pre + (P + 1) x max(largest step cost + add,
// largest link time) -- a bound on every time the rounds form -- fits in int64.
void check_recurrence_fits(const RingLowering&, const GradTx&);
RecurrenceResult run_grad_recurrence(const RingLowering&, const GradTx&, long long devices, int threads,
                                     const std::function<void(std::uint64_t, std::uint64_t)>& progress);

}  // namespace ringsim
