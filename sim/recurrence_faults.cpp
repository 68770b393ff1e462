// The ring recurrence (sim/recurrence.hpp) with faults: every (device, step)
// costs its own time, read from per-thread tables of class cost x straggler
// level x jitter quantile (sim/fault_model.hpp), so the inner loop stays a
// branch-free pass of hashes and table loads. No folding: a fault makes the
// devices differ. Same numbers as the event engine to the nanosecond
// (tests/sim/test_faults.cpp).
#include <algorithm>
#include <cmath>
#include <barrier>
#include <memory>
#include <thread>

#include "sim/fault_tables.hpp"
#include "sim/recurrence.hpp"

namespace ringsim {
namespace {

constexpr long long kMinDevicesPerThread = 16384;  // as the fault-free recurrence
constexpr long long kProgressEverySteps = 256;
constexpr long long kAlign = 8;
constexpr int kBits = FaultModel::kQuantileBits;

inline TimeNs max2(TimeNs a, TimeNs b) { return a > b ? a : b; }

// Step costs of d in [lo, hi) into c[d], added to comp[d].
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void costs_range(TimeNs* __restrict c, TimeNs* __restrict comp, const std::uint8_t* __restrict level, long long lo,
                 long long hi, const TimeNs* __restrict table, int shift, std::uint32_t mask, std::uint32_t step_hash) {
  for (long long d = lo; d < hi; ++d) {
    const std::uint32_t k = (FaultModel::mix32(static_cast<std::uint32_t>(d) * 0x9E3779B9U ^ step_hash) >> (32 - kBits)) & mask;
    const TimeNs t = table[(static_cast<std::uint32_t>(level[d]) << shift) | k];
    c[d] = t;
    comp[d] += t;
  }
}

// Transfer times of links d in [lo, hi) at one step: FaultModel::transfer_ns
// with the step's hash hoisted.
void transfers_range(TimeNs* __restrict j, const TimeNs* __restrict tx, const TimeNs* __restrict bytes_ns, long long lo,
                     long long hi, const double* __restrict quantiles, std::uint32_t step_hash) {
  for (long long d = lo; d < hi; ++d) {
    const TimeNs t = FaultModel::scaled(tx[d], quantiles[FaultModel::quantile_index(d, step_hash)]);
    j[d] = t > bytes_ns[d] ? t : bytes_ns[d];
  }
}

// One step over d in [lo, hi) with per-device costs (sim/recurrence.cpp's relax_range, costs from an array).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void relax_costs(const TimeNs* __restrict s, const TimeNs* __restrict tx, const TimeNs* __restrict c,
                 TimeNs* __restrict out, long long lo, long long hi) {
  for (long long d = lo; d < hi; ++d) {
    const TimeNs a = s[d];
    const TimeNs recv = max2(s[d - 1], a) + tx[d - 1];
    const TimeNs send = max2(a, s[d + 1]) + tx[d];
    out[d] = max2(max2(a + c[d], send), recv);
  }
}

// The overflow bound of sim/recurrence.hpp on the ring with every cost and
// transfer at its largest factor.
void check_worst_fits(const RingCosts& costs, const RingLinks& links, long long n, const FaultModel& f) {
  double slow = 1;
  for (const auto& l : f.levels()) slow = std::max(slow, l.slowdown);
  const double fc = slow * (f.compute_jitter() ? std::max(1.0, f.quantiles().back()) : 1.0);
  const double ft = f.transfer_jitter() ? std::max(1.0, f.quantiles().back()) : 1.0;
  const auto worst = [&](TimeNs t, double factor) {
    const double v = std::ceil(static_cast<double>(t) * factor);
    if (v >= 9.2e18) throw TimeOverflow("simulated time may exceed 2^63 ns (292 years) with the faults' largest factors");
    return static_cast<TimeNs>(v);
  };
  RingCosts w = costs;
  w.diagonal_ns = worst(costs.diagonal_ns, fc);
  w.lower_ns = worst(costs.lower_ns, fc);
  w.upper_ns = worst(costs.upper_ns, fc);
  std::vector<TimeNs> tx;
  for (TimeNs t : links.tx_ns) tx.push_back(worst(t, ft));
  check_recurrence_fits(w, tx, n);
}

}  // namespace

RecurrenceResult run_recurrence_faults(const RingCosts& costs, const RingLinks& links, long long n, int threads,
                                       const FaultModel& faults,
                                       const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  check_worst_fits(costs, links, n, faults);
  RecurrenceResult r;
  int t_count = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  t_count = static_cast<int>(std::clamp<long long>(n / kMinDevicesPerThread, 1, t_count));
  r.threads = t_count;
  std::vector<TimeNs> a(n + 2, 0), b(n + 2, 0), txg(n + 2, 0), txj(n + 2, 0), costs_now(n, 0);
  if (n > 1) {
    std::copy(links.tx_ns.begin(), links.tx_ns.begin() + n, txg.begin() + 1);
    txg[0] = txg[n];
  }
  r.finish_ns.assign(n, 0);
  r.compute_ns.assign(n, 0);
  const std::uint64_t total = static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(n);
  std::unique_ptr<std::barrier<>> sync;
  if (t_count > 1) sync = std::make_unique<std::barrier<>>(t_count);
  const auto wait = [&] { if (sync) sync->arrive_and_wait(); };

  auto work = [&](int t) {
    long long per = (n + t_count - 1) / t_count;
    per = (per + kAlign - 1) / kAlign * kAlign;
    const long long lo = std::min(n, per * t), hi = std::min(n, lo + per);
    FaultCostTables tables(costs, faults);
    tables.build(0);
    TimeNs* s = a.data() + 1;
    TimeNs* out = b.data() + 1;
    const std::uint8_t* level = faults.device_levels().data();
    TimeNs* cost = costs_now.data();
    for (long long step = 0; step < n; ++step) {
      if (step > 0 && tables.starts_level(step)) tables.build(step);
      const TimeNs* tx = txg.data() + 1;
      if (faults.transfer_jitter() && step + 1 < n) {  // this step's transfer times, then every thread reads them
        TimeNs* j = txj.data() + 1;
        transfers_range(j, links.tx_ns.data(), links.bytes_ns.data(), lo, hi, faults.quantiles().data(),
                        faults.transfer_step_hash(step));
        if (hi == n && lo < n) j[-1] = j[n - 1];
        wait();
        tx = j;
      }
      const bool last = step + 1 == n;
      const long long split = step == 0 ? 0 : std::min(step, n);  // [0, split) upper, the rest lower (diagonal at 0)
      const CostTable up = tables.get(2), rest = tables.get(step == 0 ? 0 : 1);
      const std::uint32_t h = faults.compute_step_hash(step);
      TimeNs* comp = r.compute_ns.data();
      costs_range(cost, comp, level, lo, std::min(hi, split), up.t, up.shift, up.mask, h);
      costs_range(cost, comp, level, std::max(lo, split), hi, rest.t, rest.shift, rest.mask, h);
      if (last) {
        for (long long d = lo; d < hi; ++d) r.finish_ns[d] = s[d] + cost[d];
        break;
      }
      relax_costs(s, tx, cost, out, lo, hi);
      if (lo == 0 && hi > 0) out[n] = out[0];
      if (hi == n && lo < n) out[-1] = out[n - 1];
      wait();
      std::swap(s, out);
      if (t == 0 && progress && (step + 1) % kProgressEverySteps == 0)
        progress(static_cast<std::uint64_t>(step + 1) * static_cast<std::uint64_t>(n), total);
    }
  };
  run_threads(t_count, work);
  if (progress) progress(total, total);
  auto it = std::max_element(r.finish_ns.begin(), r.finish_ns.end());
  r.makespan_ns = *it;
  r.slowest_device = it - r.finish_ns.begin();
  r.nodes = total + static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(n - 1);
  return r;
}

}  // namespace ringsim
