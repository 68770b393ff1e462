// Step-by-step evaluation of the ring's event graph (see sim/recurrence.hpp).
#include "sim/recurrence.hpp"

#include <algorithm>
#include <barrier>
#include <memory>
#include <thread>

namespace ringsim {
namespace {

// Below this many devices per thread a step is shorter than a barrier
// round-trip (a few us on 2 cores), so extra threads only slow it down.
constexpr long long kMinDevicesPerThread = 16384;
constexpr long long kProgressEverySteps = 256;
constexpr long long kAlign = 8;  // int64 per 64-byte line: threads never share a line

inline TimeNs max2(TimeNs a, TimeNs b) { return a > b ? a : b; }

// One step over d in [lo, hi): s, tx, out are offset by one ghost cell so that
// s[-1] = s[n-1] and s[n] = s[0]. x[d-1] is recomputed rather than carried so
// no iteration depends on another and the loop vectorises.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void relax_range(const TimeNs* __restrict s, const TimeNs* __restrict tx, TimeNs* __restrict out,
                 long long lo, long long hi, TimeNs cost) {
  for (long long d = lo; d < hi; ++d) {
    const TimeNs a = s[d];
    const TimeNs recv = max2(s[d - 1], a) + tx[d - 1];
    const TimeNs send = max2(a, s[d + 1]) + tx[d];
    out[d] = max2(max2(a + cost, send), recv);
  }
}

void finish_range(const TimeNs* __restrict s, TimeNs* __restrict out, long long lo, long long hi,
                  TimeNs cost) {
  for (long long d = lo; d < hi; ++d) out[d] = s[d] + cost;
}

}  // namespace

long long fold_period(const RingCosts& costs, const std::vector<TimeNs>& tx, long long ring_size) {
  if (ring_size == 1) return 1;
  if (!costs.uniform()) return ring_size;  // causal: costs depend on d - s
  for (long long p = 1; p < ring_size; ++p) {
    if (ring_size % p != 0) continue;
    bool periodic = true;
    for (long long d = p; d < ring_size && periodic; ++d) periodic = tx[d] == tx[d % p];
    if (periodic) return p;
  }
  return ring_size;
}

void check_recurrence_fits(const RingCosts& costs, const std::vector<TimeNs>& tx, long long ring_size) {
  const TimeNs max_tx = tx.empty() ? 0 : *std::max_element(tx.begin(), tx.end());
  const __int128 rest = std::max(costs.lower_ns, costs.upper_ns);
  const __int128 bound = ring_size == 1 ? static_cast<__int128>(costs.diagonal_ns)
                                        : std::max<__int128>(costs.diagonal_ns, max_tx) +
                                              static_cast<__int128>(ring_size - 2) * std::max<__int128>(rest, max_tx) + rest;
  if (bound > kTimeNever) {
    throw TimeOverflow("simulated time may exceed 2^63 ns (292 years): ring of " +
                       std::to_string(ring_size) + " devices, block up to " +
                       std::to_string(costs.max_ns()) + " ns, transfer up to " +
                       std::to_string(max_tx) + " ns");
  }
}

RecurrenceResult run_recurrence(const RingCosts& costs, const std::vector<TimeNs>& tx_ns,
                                long long n, long long ring_size, int threads,
                                const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  check_recurrence_fits(costs, tx_ns, ring_size);
  RecurrenceResult r;
  int t_count = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  t_count = static_cast<int>(std::clamp<long long>(n / kMinDevicesPerThread, 1, t_count));
  r.threads = t_count;

  // Ghost-padded arrays: element d lives at index d + 1.
  std::vector<TimeNs> a(n + 2, 0), b(n + 2, 0), txg(n + 2, 0);
  if (ring_size > 1) {
    std::copy(tx_ns.begin(), tx_ns.begin() + n, txg.begin() + 1);
    txg[0] = txg[n];
  }
  r.finish_ns.resize(n);
  const std::uint64_t total = static_cast<std::uint64_t>(ring_size) * static_cast<std::uint64_t>(ring_size);
  std::unique_ptr<std::barrier<>> sync;
  if (t_count > 1) sync = std::make_unique<std::barrier<>>(t_count);

  auto work = [&](int t) {
    long long per = (n + t_count - 1) / t_count;
    per = (per + kAlign - 1) / kAlign * kAlign;
    const long long lo = std::min(n, per * t), hi = std::min(n, lo + per);
    TimeNs* s = a.data() + 1;
    TimeNs* out = b.data() + 1;
    const TimeNs* tx = txg.data() + 1;
    for (long long step = 0; step + 1 < ring_size; ++step) {
      // Devices [0, split) hold a later rank's block ("upper"), [split, n) an earlier one.
      const long long split = step == 0 ? 0 : std::min(step, n);
      const TimeNs hi_cost = step == 0 ? costs.diagonal_ns : costs.lower_ns;
      relax_range(s, tx, out, lo, std::min(hi, split), costs.upper_ns);
      relax_range(s, tx, out, std::max(lo, split), hi, hi_cost);
      if (lo == 0 && hi > 0) out[n] = out[0];
      if (hi == n && lo < n) out[-1] = out[n - 1];
      if (sync) sync->arrive_and_wait();
      std::swap(s, out);
      if (t == 0 && progress && (step + 1) % kProgressEverySteps == 0) {
        progress(static_cast<std::uint64_t>(step + 1) * static_cast<std::uint64_t>(ring_size), total);
      }
    }
    const long long last = ring_size - 1;
    const long long split = last == 0 ? 0 : std::min(last, n);
    const TimeNs hi_cost = last == 0 ? costs.diagonal_ns : costs.lower_ns;
    finish_range(s, r.finish_ns.data(), lo, std::min(hi, split), costs.upper_ns);
    finish_range(s, r.finish_ns.data(), std::max(lo, split), hi, hi_cost);
  };
  if (t_count == 1) {
    work(0);
  } else {
    std::vector<std::jthread> pool;
    for (int t = 1; t < t_count; ++t) pool.emplace_back(work, t);
    work(0);
  }
  if (progress) progress(total, total);

  auto it = std::max_element(r.finish_ns.begin(), r.finish_ns.end());  // first of the maxima
  r.makespan_ns = *it;
  r.slowest_device = it - r.finish_ns.begin();
  r.nodes = static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(ring_size) +
            static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(ring_size - 1);
  return r;
}

}  // namespace ringsim
