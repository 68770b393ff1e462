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
// no iteration depends on another and the loop vectorises. The add after the
// wait (backward rings) has its own copy of the loop: adding a zero cost the
// forward ring 12% (32,768 devices, one thread, 2026-11-27).
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

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void relax_range_add(const TimeNs* __restrict s, const TimeNs* __restrict tx, TimeNs* __restrict out,
                     long long lo, long long hi, TimeNs cost, TimeNs post) {
  for (long long d = lo; d < hi; ++d) {
    const TimeNs a = s[d];
    const TimeNs recv = max2(s[d - 1], a) + tx[d - 1];
    const TimeNs send = max2(a, s[d + 1]) + tx[d];
    out[d] = max2(max2(a + cost, send), recv) + post;
  }
}

void relax(const TimeNs* s, const TimeNs* tx, TimeNs* out, long long lo, long long hi, TimeNs cost, TimeNs post) {
  if (post == 0) relax_range(s, tx, out, lo, hi, cost);
  else relax_range_add(s, tx, out, lo, hi, cost, post);
}

void finish_range(const TimeNs* __restrict s, TimeNs* __restrict out, long long lo, long long hi,
                  TimeNs cost) {
  for (long long d = lo; d < hi; ++d) out[d] = s[d] + cost;
}

// One round of the map: devices [0, split) hold an "upper" block, [split, n)
// the other class; tx: ghost-padded link times, null for a round without transfers.
struct Round {
  const TimeNs* tx = nullptr;
  long long split = 0;
  TimeNs upper_cost = 0, upper_post = 0, other_cost = 0, other_post = 0;
};

// Ghost-padded copy of one class of link times (element d at index d + 1).
std::vector<TimeNs> padded(const std::vector<TimeNs>& tx, long long n) {
  std::vector<TimeNs> out(static_cast<std::size_t>(n + 2), 0);
  if (tx.empty()) return out;
  std::copy(tx.begin(), tx.begin() + n, out.begin() + 1);
  out[0] = out[static_cast<std::size_t>(n)];
  return out;
}

// The start times of a round and of the next, ghost-padded, in one
// allocation with the second array 2 KiB past a 4 KiB boundary from the
// first: the loop reads one and writes the other at the same index, and
// two separate arrays sit wherever malloc puts them (4K aliasing makes the
// loads wait on the stores when they are a multiple of 4 KiB apart). On a
// 32,768-device causal forward ring, one thread, 2026-11-27 (2-core
// container): 0.42 s of CPU against 0.48 s with the arrays of `main`
// before this change; wall times were too noisy on the shared machine.
struct State {
  std::vector<TimeNs> storage;
  TimeNs* a;
  TimeNs* b;
  State(long long n, TimeNs start_ns) {
    const std::size_t len = static_cast<std::size_t>(n + 2), line = 512;  // int64 per 4 KiB
    const std::size_t skew = (line + line / 2 - len % line) % line;       // (len + skew) % 512 == 256
    storage.assign(2 * len + skew, 0);
    a = storage.data();
    b = storage.data() + len + skew;
    std::fill(a, a + len, start_ns);
  }
};

// Runs `rounds` rounds (round(r) describes each) on n devices from S = start_ns.
template <typename RoundFn>
RecurrenceResult run_rounds(State& state, long long n, long long rounds, std::uint64_t total_steps, int threads,
                            RoundFn round, const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  RecurrenceResult r;
  int t_count = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  t_count = static_cast<int>(std::clamp<long long>(n / kMinDevicesPerThread, 1, t_count));
  r.threads = t_count;
  TimeNs* const a = state.a;
  TimeNs* const b = state.b;
  r.finish_ns.resize(static_cast<std::size_t>(n));
  const std::uint64_t per_round = total_steps / static_cast<std::uint64_t>(std::max(1LL, rounds));
  std::unique_ptr<std::barrier<>> sync;
  if (t_count > 1) sync = std::make_unique<std::barrier<>>(t_count);

  auto work = [&](int t) {
    long long per = (n + t_count - 1) / t_count;
    per = (per + kAlign - 1) / kAlign * kAlign;
    const long long lo = std::min(n, per * t), hi = std::min(n, lo + per);
    TimeNs* s = a + 1;
    TimeNs* out = b + 1;
    for (long long k = 0; k < rounds; ++k) {
      const Round rd = round(k);
      const long long split = std::clamp(rd.split, 0LL, n);
      if (rd.tx) {
        relax(s, rd.tx, out, lo, std::min(hi, split), rd.upper_cost, rd.upper_post);
        relax(s, rd.tx, out, std::max(lo, split), hi, rd.other_cost, rd.other_post);
      } else {
        finish_range(s, out, lo, std::min(hi, split), rd.upper_cost + rd.upper_post);
        finish_range(s, out, std::max(lo, split), hi, rd.other_cost + rd.other_post);
      }
      if (lo == 0 && hi > 0) out[n] = out[0];
      if (hi == n && lo < n) out[-1] = out[n - 1];
      if (sync) sync->arrive_and_wait();
      std::swap(s, out);
      if (t == 0 && progress && (k + 1) % kProgressEverySteps == 0) {
        progress(static_cast<std::uint64_t>(k + 1) * per_round, total_steps);
      }
    }
    std::copy(s + lo, s + hi, r.finish_ns.data() + lo);
  };
  run_threads(t_count, work);
  if (progress) progress(total_steps, total_steps);
  auto it = std::max_element(r.finish_ns.begin(), r.finish_ns.end());  // first of the maxima
  r.makespan_ns = *it;
  r.slowest_device = it - r.finish_ns.begin();
  return r;
}

}  // namespace

void run_threads(int count, const std::function<void(int)>& work) {
  std::vector<std::jthread> pool;
  for (int t = 1; t < count; ++t) pool.emplace_back(work, t);
  work(0);
}  // the pool joins here

namespace {

bool periodic(const std::vector<TimeNs>& tx, long long p, long long ring_size) {
  for (long long d = p; d < ring_size; ++d)
    if (tx[static_cast<std::size_t>(d)] != tx[static_cast<std::size_t>(d % p)]) return false;
  return true;
}

}  // namespace

long long fold_period(const RingCosts& costs, const std::vector<TimeNs>& tx, long long ring_size) {
  if (ring_size == 1) return 1;
  if (!costs.uniform()) return ring_size;  // causal: costs depend on d - s
  for (long long p = 1; p < ring_size; ++p) {
    if (ring_size % p == 0 && periodic(tx, p, ring_size)) return p;
  }
  return ring_size;
}

long long fold_period(const RingLowering& low, const GradTx& tx) {
  const long long ring = low.ring_size;
  if (ring == 1) return 1;
  if (!low.costs.uniform() || low.grad->add_lower_ns != low.grad->add_upper_ns) return ring;
  for (long long p = 1; p < ring; ++p) {
    if (ring % p == 0 && periodic(tx.first, p, ring) && periodic(tx.mid, p, ring) && periodic(tx.last, p, ring))
      return p;
  }
  return ring;
}

void check_recurrence_fits(const RingLowering& low, const GradTx& tx) {
  TimeNs max_tx = 0;
  for (const auto* v : {&tx.first, &tx.mid, &tx.last})
    if (!v->empty()) max_tx = std::max(max_tx, *std::max_element(v->begin(), v->end()));
  const __int128 step = std::max<__int128>(static_cast<__int128>(low.costs.max_ns()) +
                                               std::max(low.grad->add_lower_ns, low.grad->add_upper_ns),
                                           max_tx);
  const __int128 bound = static_cast<__int128>(low.grad->pre_ns) + static_cast<__int128>(low.ring_size + 1) * step;
  if (bound > kTimeNever)
    throw TimeOverflow("simulated time may exceed 2^63 ns (292 years): backward ring of " +
                       std::to_string(low.ring_size) + " devices, block up to " + std::to_string(low.costs.max_ns()) +
                       " ns, transfer up to " + std::to_string(max_tx) + " ns");
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
  State state(n, 0);
  const std::vector<TimeNs> tx = padded(ring_size > 1 ? tx_ns : std::vector<TimeNs>{}, n);
  // Step s: devices [0, s) hold a later rank's block ("upper"), [s, n) the diagonal (s = 0) or an earlier one.
  const auto round = [&](long long step) {
    Round rd;
    rd.tx = step + 1 < ring_size ? tx.data() + 1 : nullptr;
    rd.split = step;
    rd.upper_cost = costs.upper_ns;
    rd.other_cost = step == 0 ? costs.diagonal_ns : costs.lower_ns;
    return rd;
  };
  const std::uint64_t total = static_cast<std::uint64_t>(ring_size) * static_cast<std::uint64_t>(ring_size);
  RecurrenceResult r = run_rounds(state, n, ring_size, total, threads, round, progress);
  r.nodes = static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(ring_size) +
            static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(ring_size - 1);
  return r;
}

RecurrenceResult run_grad_recurrence(const RingLowering& low, const GradTx& tx, long long n, int threads,
                                     const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  check_recurrence_fits(low, tx);
  const long long ring = low.ring_size;
  const RingCosts& c = low.costs;
  const GradRounds& g = *low.grad;
  State state(n, g.pre_ns);
  const std::vector<TimeNs> first = padded(tx.first, n), mid = padded(tx.mid, n), last = padded(tx.last, n);
  const auto round = [&](long long step) {
    Round rd;
    if (ring > 1) rd.tx = (step == 0 ? first : step >= ring - 1 ? last : mid).data() + 1;
    if (step == ring) return rd;  // the return hop: transfer only
    rd.split = step;
    rd.upper_cost = c.upper_ns;
    rd.upper_post = step == 0 ? 0 : g.add_upper_ns;
    rd.other_cost = step == 0 ? c.diagonal_ns : c.lower_ns;
    rd.other_post = step == 0 ? 0 : g.add_lower_ns;
    return rd;
  };
  const long long rounds = ring > 1 ? ring + 1 : 1;
  const std::uint64_t total = static_cast<std::uint64_t>(ring) * static_cast<std::uint64_t>(ring);
  RecurrenceResult r = run_rounds(state, n, rounds, total, threads, round, progress);
  r.nodes = static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(rounds) * (ring > 1 ? 2 : 1);
  return r;
}

}  // namespace ringsim
