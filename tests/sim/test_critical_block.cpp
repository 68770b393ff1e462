// sim/critical_block.hpp against a second implementation: the ring recurrence
// evaluated with every start kept (an n x n table), the critical path traced
// backwards from the device finishing last with the same preferences
// (compute, then send, then receive; the device's own start over its
// neighbour's), and the largest faulted block on it (the earliest on a tie).
// The table's finish times are checked against run_recurrence_faults first,
// so the oracle models the ring the simulator runs. Then the closed case: one
// straggler from step k in a compute-bound ring is the critical block at k.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "sim/critical_block.hpp"
#include "sim/recurrence.hpp"
#include "tests/sim/sim_fixtures.hpp"

using namespace ringsim;

namespace {

struct Ring {
  RingCosts costs;
  RingLinks links;
  long long n = 0;
};

// Backtracking oracle: returns the critical block (or none) and the finish times.
std::optional<CriticalBlock> traced(const Ring& r, const FaultModel& f, std::vector<TimeNs>& finish) {
  const long long n = r.n;
  std::vector<std::vector<TimeNs>> S(n + 1, std::vector<TimeNs>(n, 0)), tx(n, std::vector<TimeNs>(n, 0));
  for (long long s = 0; s < n; ++s)
    for (long long d = 0; d < n; ++d) tx[s][d] = f.transfer_ns(d, s, r.links.tx_ns[d], r.links.bytes_ns[d]);
  const auto c = [&](long long d, long long s) { return f.compute_ns(d, s, r.costs.cost(d, s)); };
  for (long long s = 0; s + 1 < n; ++s)
    for (long long d = 0; d < n; ++d) {
      const long long right = (d + 1) % n, left = (d + n - 1) % n;
      S[s + 1][d] = std::max({S[s][d] + c(d, s), std::max(S[s][d], S[s][right]) + tx[s][d],
                              std::max(S[s][left], S[s][d]) + tx[s][left]});
    }
  finish.assign(n, 0);
  for (long long d = 0; d < n; ++d) finish[d] = S[n - 1][d] + c(d, n - 1);
  long long d = std::max_element(finish.begin(), finish.end()) - finish.begin();
  std::optional<CriticalBlock> best;
  const auto consider = [&](long long dev, long long s) {
    const TimeNs extra = c(dev, s) - r.costs.cost(dev, s);
    if (extra > 0 && (!best || extra > best->extra_ns || (extra == best->extra_ns && s < best->step)))
      best = CriticalBlock{dev, s, extra};
  };
  consider(d, n - 1);  // the last step's block ends the path
  for (long long s = n - 2; s >= 0; --s) {  // which term set S[s + 1][d]
    const long long right = (d + 1) % n, left = (d + n - 1) % n;
    const TimeNs a = S[s][d], compute = a + c(d, s);
    const TimeNs send = std::max(a, S[s][right]) + tx[s][d], recv = std::max(S[s][left], a) + tx[s][left];
    if (compute >= send && compute >= recv) {
      consider(d, s);
    } else if (send >= recv) {
      if (a < S[s][right]) d = right;
    } else if (S[s][left] > a) {
      d = left;
    }
  }
  return best;
}

// Coarse draws (multiples of 100 ns from a few values) make ties between
// the terms and between neighbours' starts common, so the preferences show.
Ring random_ring(std::mt19937_64& rng, long long n, bool coarse) {
  auto pick = [&](long long lo, long long hi) { return std::uniform_int_distribution<long long>(lo, hi)(rng); };
  Ring r;
  r.n = n;
  if (coarse) {  // blocks of 100-300 ns against transfers of 100-300 ns: every term wins somewhere
    r.costs.diagonal_ns = 100 * pick(1, 3);
    r.costs.lower_ns = 100 * pick(1, 3);
    r.costs.upper_ns = 100 * pick(1, 3);
    for (long long d = 0; d < n; ++d) {
      r.links.bytes_ns.push_back(100 * pick(0, 1));
      r.links.tx_ns.push_back(r.links.bytes_ns.back() + 100 * pick(1, 2));
    }
    return r;
  }
  r.costs.diagonal_ns = pick(1, 2000);
  r.costs.lower_ns = pick(1, 2000);
  r.costs.upper_ns = pick(0, 1) ? r.costs.lower_ns : pick(1, 2000);
  for (long long d = 0; d < n; ++d) {
    r.links.bytes_ns.push_back(pick(0, 1500));
    r.links.tx_ns.push_back(r.links.bytes_ns.back() + pick(0, 500));
  }
  return r;
}

FaultSpec random_spec(std::mt19937_64& rng, long long n) {
  auto pick = [&](long long lo, long long hi) { return std::uniform_int_distribution<long long>(lo, hi)(rng); };
  FaultSpec f;
  f.line = 1;
  for (int i = pick(0, 2); i > 0; --i)
    f.stragglers.push_back({pick(0, n - 1), 1.0 + static_cast<double>(pick(1, 200)) / 100, pick(0, n - 1), 1});
  if (pick(0, 1)) f.jitter = test::random_jitter(rng);
  if (!f.any()) f.stragglers.push_back({pick(0, n - 1), 2.0, 0, 1});
  return f;
}

}  // namespace

TEST_CASE("critical block: the forward pass equals the backward trace on 800 random faulted rings") {
  std::mt19937_64 rng(20261127);
  int with_block = 0;
  for (int i = 0; i < 800; ++i) {
    const long long n = std::uniform_int_distribution<long long>(1, 24)(rng);
    const Ring r = random_ring(rng, n, i % 2 == 1);
    const FaultSpec spec = random_spec(rng, n);
    const FaultModel f(spec, n, i % 3);
    CAPTURE(i);
    CAPTURE(n);
    std::vector<TimeNs> finish;
    const std::optional<CriticalBlock> want = traced(r, f, finish);
    const RecurrenceResult rr = run_recurrence_faults(r.costs, r.links, n, 1, f, nullptr);
    REQUIRE(rr.finish_ns == finish);  // the oracle's ring is the simulator's
    const std::optional<CriticalBlock> got = critical_block(r.costs, r.links, n, f, rr.slowest_device);
    REQUIRE(got.has_value() == want.has_value());
    if (got) {
      ++with_block;
      CHECK(got->device == want->device);
      CHECK(got->step == want->step);
      CHECK(got->extra_ns == want->extra_ns);
    }
  }
  CHECK(with_block > 400);  // most draws slow some block on the path
}

TEST_CASE("critical block: one straggler from step k of a compute-bound ring is the block at (straggler, k)") {
  for (long long n : {8, 16, 64})
    for (long long k : {1LL, 3LL, n / 2}) {
      Ring r;
      r.n = n;
      r.costs.diagonal_ns = r.costs.lower_ns = r.costs.upper_ns = 1000;  // every block alike
      r.links.tx_ns.assign(n, 100);                                         // transfers hide behind blocks
      r.links.bytes_ns.assign(n, 90);
      FaultSpec spec;
      spec.line = 1;
      spec.stragglers.push_back({n / 3, 1.5, k, 1});
      const FaultModel f(spec, n, 0);
      const RecurrenceResult rr = run_recurrence_faults(r.costs, r.links, n, 1, f, nullptr);
      CAPTURE(n);
      CAPTURE(k);
      const std::optional<CriticalBlock> got = critical_block(r.costs, r.links, n, f, rr.slowest_device);
      REQUIRE(got.has_value());
      CHECK(got->device == n / 3);
      CHECK(got->step == k);
      CHECK(got->extra_ns == 500);
    }
}

TEST_CASE("critical block: no compute fault on the path, no block") {
  Ring r;
  r.n = 6;
  r.costs.diagonal_ns = r.costs.lower_ns = r.costs.upper_ns = 1000;
  r.links.tx_ns.assign(6, 100);
  r.links.bytes_ns.assign(6, 90);
  FaultSpec spec;
  spec.line = 1;
  JitterSpec j;
  j.sigma = 0.2;
  j.compute = false;
  j.transfer = true;
  spec.jitter = j;
  const FaultModel f(spec, 6, 0);
  const RecurrenceResult rr = run_recurrence_faults(r.costs, r.links, 6, 1, f, nullptr);
  CHECK_FALSE(critical_block(r.costs, r.links, 6, f, rr.slowest_device).has_value());
}
