// Heaviest family walk of the ring (see sim/ring_walk.hpp for the model and
// the proof). All sums are formed in __int128 and checked once at the end.
#include "sim/ring_walk.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace ringsim {
namespace {

using Wide = __int128;

enum class Tail { kStop, kUp, kDown };  // stop at z2; move +1 or -1 to device P-1

// The ring's weights as closed forms over the periodic link times.
class Ring {
 public:
  explicit Ring(const RingWalkInput& in)
      : p_(in.ring_size), n_(in.ring_size - 1), g_(static_cast<long long>(in.link_period_ns.size())),
        d_(in.diagonal_ns), l_(in.lower_ns), u_(in.upper_ns), period_(in.link_period_ns), wrap_(in.wrap_ns) {
    prefix_.assign(period_.size() + 1, 0);
    for (std::size_t i = 0; i < period_.size(); ++i) prefix_[i + 1] = prefix_[i] + period_[i];
  }
  long long size() const { return p_; }
  long long steps() const { return n_; }
  long long period() const { return g_; }

  Wide tx(long long link) const { return link == p_ - 1 ? wrap_ : period_[static_cast<std::size_t>(link % g_)]; }
  // Sum of tx over the non-wrap links [0, i), 0 <= i <= P-1.
  Wide before(long long i) const { return Wide(i / g_) * prefix_.back() + prefix_[static_cast<std::size_t>(i % g_)]; }
  long long wrap_index(long long d) const { return ((d % p_) + p_) % p_; }

  // m moves from x, each in direction dir (+1: x -> x+1 over link x).
  Wide run(long long x, int dir, long long m) const {
    if (m == 0) return 0;
    if (dir > 0) {
      if (x + m <= p_ - 1) return before(x + m) - before(x);
      return before(p_ - 1) - before(x) + wrap_ + before(x + m - p_);
    }
    if (m <= x) return before(x) - before(x - m);
    return before(x) + wrap_ + before(p_ - 1) - before(x - m + p_);
  }
  Wide t(long long d) const { return std::max(tx(wrap_index(d - 1)), tx(d)); }
  Wide a(long long d) const { return std::max<Wide>(d_, t(d)); }
  Wide f(long long d) const { return d == p_ - 1 ? l_ : u_; }
  // Stays of device z at steps [s, e), 1 <= s <= e: B(z) while s <= z, then C(z).
  Wide block(long long z, long long s, long long e) const {
    const long long lower = std::clamp(std::min(e, z + 1) - s, 0LL, e - s);
    const Wide tz = t(z);
    return std::max<Wide>(l_, tz) * lower + std::max<Wide>(u_, tz) * (e - s - lower);
  }
  // Moves of the tail from z to P-1; -1 if the tail cannot be taken.
  long long tail_moves(long long z, Tail tail) const {
    if (tail == Tail::kStop) return 0;
    if (z == p_ - 1) return -1;  // already there: the same walk as kStop
    return tail == Tail::kUp ? p_ - 1 - z : z + 1;
  }
  Wide max_link() const {
    Wide m = wrap_;
    for (long long i = 0; i < std::min(g_, p_ - 1); ++i) m = std::max<Wide>(m, period_[static_cast<std::size_t>(i)]);
    return m;
  }
  Wide upper_bound() const {
    const Wide tmax = max_link();
    return std::max<Wide>(d_, tmax) + Wide(n_ - 1) * std::max<Wide>({l_, u_, tmax}) + std::max(l_, u_);
  }

 private:
  long long p_, n_, g_;
  Wide d_, l_, u_;
  std::vector<TimeNs> period_;
  Wide wrap_;
  std::vector<Wide> prefix_;
};

struct Best {
  Wide value = -1;
  long long end = 0;
  std::uint64_t walks = 0;
};

// The family walk (z1 = z2 - dir*m1, m1 moves, z2, tail); false if it does not fit in N steps.
void consider(const Ring& r, long long z2, int dir, long long m1, Tail tail, Best& best) {
  const long long tail_m = r.tail_moves(z2, tail);
  if (tail_m < 0 || m1 + tail_m > r.steps() - 1) return;
  const long long z1 = r.wrap_index(z2 - dir * m1);
  const long long end = tail == Tail::kStop ? z2 : r.size() - 1;
  const Wide value = r.a(z1) + r.run(z1, dir, m1) + r.block(z2, 1 + m1, r.steps() - tail_m) +
                     r.run(z2, tail == Tail::kDown ? -1 : 1, tail_m) + r.f(end);
  ++best.walks;
  if (value > best.value || (value == best.value && end < best.end)) {
    best.value = value;
    best.end = end;
  }
}

void consider_all_dirs(const Ring& r, long long z2, long long m1, Tail tail, Best& best) {
  consider(r, z2, +1, m1, tail, best);
  if (m1 > 0) consider(r, z2, -1, m1, tail, best);
}

// Sorted, de-duplicated integers within radius of each center, clipped to [lo, hi].
std::vector<long long> near(std::initializer_list<long long> centers, long long radius, long long lo, long long hi) {
  std::vector<long long> out;
  for (long long c : centers)
    for (long long v = std::max(lo, c - radius); v <= std::min(hi, c + radius); ++v) out.push_back(v);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

constexpr Tail kTails[] = {Tail::kStop, Tail::kUp, Tail::kDown};

void search_candidates(const Ring& r, Best& best) {
  const long long p = r.size(), g = r.period();
  // Breakpoints of the affine pieces lie within a few units of these centers
  // (ring_walk.hpp); each piece's extreme along a residue class is within g
  // of its ends, so these radii cover every piece's maximum with margin.
  const long long z_radius = 4 * g + 16, m_radius = 2 * g + 8;
  for (long long z2 : near({0, p - 1, (p - 3) / 2, (p - 1) / 2, p / 2}, z_radius, 0, p - 1)) {
    for (Tail tail : kTails) {
      const long long tail_m = r.tail_moves(z2, tail);
      const long long m_max = r.steps() - 1 - tail_m;
      if (tail_m < 0 || m_max < 0) continue;
      for (long long m1 : near({0, z2, z2 + 1, p - 1 - z2, p - z2, m_max}, m_radius, 0, m_max))
        consider_all_dirs(r, z2, m1, tail, best);
    }
  }
}

void search_all(const Ring& r, Best& best) {
  for (long long z2 = 0; z2 < r.size(); ++z2) {
    for (Tail tail : kTails) {
      const long long tail_m = r.tail_moves(z2, tail);
      if (tail_m < 0) continue;
      for (long long m1 = 0; m1 + tail_m <= r.steps() - 1; ++m1) consider_all_dirs(r, z2, m1, tail, best);
    }
  }
}

void check_input(const RingWalkInput& in) {
  if (in.ring_size < 1) throw std::invalid_argument(fmt::format("ring_size {} < 1", in.ring_size));
  if (in.link_period_ns.empty()) throw std::invalid_argument("ring_walk: empty link period");
  bool negative = in.diagonal_ns < 0 || in.lower_ns < 0 || in.upper_ns < 0 || in.wrap_ns < 0;
  for (TimeNs t : in.link_period_ns) negative = negative || t < 0;
  if (negative) throw std::invalid_argument("ring_walk: negative time");
}

RingWalkResult finish(const Ring& r, const Best& best, const RingWalkInput& in) {
  if (best.value > kTimeNever) {
    throw TimeOverflow(fmt::format("the makespan of the {}-device ring passes 2^63 ns (292 years): "
                                   "about {:.3g} years",
                                   in.ring_size, static_cast<double>(best.value) / 1e9 / 3.156e7));
  }
  RingWalkResult out;
  out.makespan_ns = static_cast<TimeNs>(best.value);
  out.last_device = best.end;
  out.walks = best.walks;
  out.bound_tight = best.value == r.upper_bound();
  return out;
}

RingWalkResult solve(const RingWalkInput& in, bool all_forms) {
  check_input(in);
  if (in.ring_size == 1) return RingWalkResult{in.diagonal_ns, 0, 1, true};
  const Ring r(in);
  Best best;
  const long long exhaustive_below = 64 + 16 * r.period();  // the candidate windows would cover it anyway
  if (all_forms || r.size() <= exhaustive_below) search_all(r, best);
  else search_candidates(r, best);
  return finish(r, best, in);
}

}  // namespace

RingWalkResult ring_walk(const RingWalkInput& in) { return solve(in, false); }
RingWalkResult ring_walk_all_forms(const RingWalkInput& in) { return solve(in, true); }

}  // namespace ringsim
