// The critical block of a faulted ring; see critical_block.hpp.
#include "sim/critical_block.hpp"

#include "sim/fault_tables.hpp"

#include <vector>

namespace ringsim {
namespace {

struct PathMax {  // the largest block on the path so far; extra 0: none yet
  TimeNs extra = 0;
  long long device = -1, step = -1;
};

PathMax with_block(const PathMax& p, TimeNs extra, long long d, long long s) {
  return extra > p.extra ? PathMax{extra, d, s} : p;  // the earlier block on a tie
}

}  // namespace

std::optional<CriticalBlock> critical_block(const RingCosts& costs, const RingLinks& links, long long n,
                                            const FaultModel& faults, long long last) {
  std::vector<TimeNs> start(n, 0), next(n, 0), tx(n, 0);
  std::vector<PathMax> path(n), next_path(n);
  for (long long d = 0; d < n && !links.tx_ns.empty(); ++d) tx[d] = links.tx_ns[d];
  FaultCostTables tables(costs, faults);  // the recurrence's per-(class, level, quantile) costs
  tables.build(0);
  const std::uint8_t* level = faults.device_levels().data();
  for (long long s = 0; s < n; ++s) {
    if (s > 0 && tables.starts_level(s)) tables.build(s);
    if (faults.transfer_jitter() && s + 1 < n)  // transfer d -> d+1 at step s, jittered as the recurrence does (none after the last)
      for (long long d = 0; d < n; ++d) tx[d] = faults.transfer_ns(d, s, links.tx_ns[d], links.bytes_ns[d]);
    const std::uint32_t h = faults.compute_step_hash(s);
    for (long long d = 0; d < n; ++d) {
      const CostTable t = tables.get(s == 0 ? 0 : (d >= s ? 1 : 2));
      const std::uint32_t k = FaultModel::quantile_index(d, h) & t.mask;
      const TimeNs base = costs.cost(d, s), c = t.t[(static_cast<std::uint32_t>(level[d]) << t.shift) | k];
      const TimeNs a = start[d];
      if (s + 1 == n) {  // the last step: the block ends the device
        next_path[d] = with_block(path[d], c - base, d, s);
        continue;
      }
      const long long right = d + 1 == n ? 0 : d + 1, left = d == 0 ? n - 1 : d - 1;
      const TimeNs send = std::max(a, start[right]) + tx[d], recv = std::max(start[left], a) + tx[left];
      const TimeNs compute = a + c;
      if (compute >= send && compute >= recv) {
        next_path[d] = with_block(path[d], c - base, d, s);
        next[d] = compute;
      } else if (send >= recv) {
        next_path[d] = a >= start[right] ? path[d] : path[right];
        next[d] = send;
      } else {
        next_path[d] = start[left] > a ? path[left] : path[d];
        next[d] = recv;
      }
    }
    start.swap(next);
    path.swap(next_path);
  }
  const PathMax& p = path[static_cast<std::size_t>(last)];
  if (p.extra <= 0) return std::nullopt;
  return CriticalBlock{p.device, p.step, p.extra};
}

}  // namespace ringsim
