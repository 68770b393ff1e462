// The critical block of a faulted ring (issue 15: "which device and step was
// critical"): on the critical path of the ring recurrence (sim/recurrence.hpp)
// that ends at the device finishing last, the compute block the faults
// lengthened most (faulted minus fault-free time; the earliest step on a
// tie). The path is the chain of terms that set each start:
//   S'[d] = max(S[d] + c(d,s), x[d], x[d-1]),  x[d] = max(S[d], S[d+1]) + tx[d]
// preferring the compute term, then the send x[d], then the receive x[d-1],
// and within a rendezvous the device's own start over its neighbour's. It is
// carried forward (each device keeps its path's largest block so far), so
// memory is O(P) and time O(P^2): one more pass over the ring, scalar.
// A point reports it up to kCriticalBlockMaxDevices devices: about 4 ns per
// device-step on the development machine (table costs as the recurrence, but
// scalar): +0.27 s at 8,192 devices against 0.07 s for the recurrence
// itself (2026-11-27); sim/simulate_faults.cpp runs it once per point, on
// the slowest repeat run again. No compute fault on the path (link faults
// alone): none.
#pragma once
#include <optional>

#include "sim/fault_model.hpp"
#include "sim/ring_lowering.hpp"

namespace ringsim {

inline constexpr long long kCriticalBlockMaxDevices = 8192;

struct CriticalBlock {
  long long device = 0, step = 0;
  TimeNs extra_ns = 0;  // faulted minus fault-free time of that block
};

// The ring of n devices with `faults` realised (its repeat), the same costs
// and links as run_recurrence_faults; `last` is the device finishing last.
std::optional<CriticalBlock> critical_block(const RingCosts& costs, const RingLinks& links, long long n,
                                            const FaultModel& faults, long long last);

}  // namespace ringsim
