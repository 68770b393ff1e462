// Flow network: the exact transfer time, flows alone on their links, and
// max-min fair sharing by progressive filling, recomputed only over the
// connected component (flows sharing links, transitively) of a flow that
// starts or ends. Pools of single-link flows are in flow_pool.cpp. See
// flow_network.hpp; tests in tests/models/test_flow_network.cpp.
//
// Exactness: a flow's remaining bytes and projected completion are touched
// only when its rate changes, so a flow whose rate never changes completes at
// start + transfer_time_ns(bytes, rate), bit for bit the closed form.
#include "models/flow_network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <stdexcept>

namespace ringsim {

namespace {

// A finite positive double as mantissa * 2^exponent, mantissa an integer below 2^53.
struct Dyadic {
  std::int64_t mantissa;
  int exponent;
};
Dyadic dyadic(double x) {
  int e = 0;
  const double f = std::frexp(x, &e);  // x = f * 2^e, f in [0.5, 1)
  return {static_cast<std::int64_t>(std::ldexp(f, 53)), e - 53};
}
int bit_width(unsigned __int128 v) {
  const auto high = static_cast<std::uint64_t>(v >> 64), low = static_cast<std::uint64_t>(v);
  return high ? 128 - __builtin_clzll(high) : (low ? 64 - __builtin_clzll(low) : 0);
}
constexpr double kTwoTo52 = 4503599627370496.0;
constexpr double kTwoToMinus50 = 1.0 / 1125899906842624.0;

// ceil(bytes * 1e9 / bytes_per_s) in exact integer arithmetic: both doubles
// are dyadic rationals, so the quotient is (m1 * 1e9 * 2^e1) / (m2 * 2^e2).
TimeNs exact_transfer_ns(double bytes, double bytes_per_s) {
  const Dyadic b = dyadic(bytes), r = dyadic(bytes_per_s);
  unsigned __int128 num = static_cast<unsigned __int128>(b.mantissa) * 1000000000u;  // < 2^83
  unsigned __int128 den = static_cast<unsigned __int128>(r.mantissa);               // < 2^53
  const int shift = b.exponent - r.exponent;
  if (shift >= 0) {
    if (bit_width(num) + shift > 126) throw TimeOverflow(fmt::format("transfer of {} B at {} B/s lasts past 2^63 ns", bytes, bytes_per_s));
    num <<= shift;
  } else {
    if (bit_width(den) - shift > 126) return 1;  // den > num: a positive quotient below 1 ns
    den <<= -shift;
  }
  const unsigned __int128 ns = num / den + (num % den != 0 ? 1 : 0);
  if (ns > static_cast<unsigned __int128>(kTimeNever)) {
    throw TimeOverflow(fmt::format("transfer of {} B at {} B/s lasts past 2^63 ns (292 years)", bytes, bytes_per_s));
  }
  return static_cast<TimeNs>(ns);
}

}  // namespace

TimeNs transfer_time_ns(double bytes, double bytes_per_s) {
  if (!(bytes_per_s > 0)) throw std::invalid_argument(fmt::format("transfer at non-positive rate {} B/s", bytes_per_s));
  if (!(bytes >= 0)) throw std::invalid_argument(fmt::format("transfer of {} bytes", bytes));
  if (std::isinf(bytes)) throw TimeOverflow("transfer of infinitely many bytes");
  if (bytes == 0 || std::isinf(bytes_per_s)) return 0;
  // Fast path: the double quotient is within 2^-52 (relative) of the exact
  // one, so its ceiling is exact unless it lies that close to an integer.
  const double q = bytes / bytes_per_s * kNsPerSecond;
  if (q < kTwoTo52) {
    const double up = std::ceil(q), margin = q * kTwoToMinus50;
    if (up - q > margin && q - (up - 1) > margin) return static_cast<TimeNs>(up);
  }
  return exact_transfer_ns(bytes, bytes_per_s);
}

FlowNetwork::FlowNetwork(const Topology& topo)
    : topo_(topo), links_(static_cast<std::size_t>(topo.link_count())) {}

namespace {
std::uint32_t flow_source(FlowId id) { return static_cast<std::uint32_t>(2 * id); }
}  // namespace

FlowId FlowNetwork::new_flow(std::uint64_t tag, double cap_bytes_per_s) {
  FlowId id;
  if (free_ids_.empty()) {
    id = static_cast<FlowId>(flows_.size());
    flows_.emplace_back();
  } else {
    id = free_ids_.back();
    free_ids_.pop_back();
  }
  Flow& f = flows_[static_cast<std::size_t>(id)];
  f.tag = tag;
  f.hops.clear();  // keeps the slot's capacity
  f.cap_bytes_per_s = cap_bytes_per_s;
  f.rate = 0;
  f.wake.done_ns = f.wake.woken_ns = kTimeNever;  // the version goes on: old entries stay stale
  f.pool = -1;
  f.active = true;
  ++active_;
  return id;
}

FlowId FlowNetwork::start_flow(TimeNs now_ns, const Route& route, double bytes, std::uint64_t tag,
                               double rate_cap_bytes_per_s) {
  assert(now_ns >= now_ns_ && "start_flow in the past");
  if (!(bytes >= 0)) throw std::invalid_argument(fmt::format("flow of {} bytes", bytes));
  if (!(rate_cap_bytes_per_s > 0)) {
    throw std::invalid_argument(fmt::format("flow rate cap of {} B/s is not positive", rate_cap_bytes_per_s));
  }
  now_ns_ = std::max(now_ns_, now_ns);
  const FlowId id = new_flow(tag, rate_cap_bytes_per_s);
  Flow& f = flows_[static_cast<std::size_t>(id)];
  f.remaining_bytes = bytes;
  f.last_ns = now_ns;
  if (route.links.size() == 1) {
    const Link& l = links_[static_cast<std::size_t>(route.links[0])];
    const bool fits = l.pool < 0 || pools_[static_cast<std::size_t>(l.pool)].cap_bytes_per_s == rate_cap_bytes_per_s;
    if (l.count == 0 && fits) {
      join_pool(now_ns, id, route.links[0], bytes);
      return id;
    }
  }
  if (!route.links.empty() && alone_on(route)) {
    start_alone(now_ns, id, route);
  } else {
    start_general(now_ns, id, route);
  }
  return id;
}

bool FlowNetwork::alone_on(const Route& route) const {
  for (const LinkId l : route.links) {
    const Link& link = links_[static_cast<std::size_t>(l)];
    if (link.count != 0 || link.pool >= 0) return false;
  }
  return true;
}

// No other flow on its links: it runs at the route's rate (the smallest of
// its links', Route's contract) or its cap, and its completion is the closed form.
void FlowNetwork::start_alone(TimeNs now_ns, FlowId id, const Route& route) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  for (const LinkId l : route.links) {
    Link& link = links_[static_cast<std::size_t>(l)];
    f.hops.push_back(Hop{l, -1, -1});
    link.head = id;
    link.count = 1;
  }
  f.rate = std::min(route.bytes_per_s, f.cap_bytes_per_s);
  reproject(f.wake, flow_source(id), checked_add_ns(now_ns, transfer_time_ns(f.remaining_bytes, f.rate)));
}

// A flow alone on its links runs at the smallest of their capacities (and its
// cap) at once; otherwise the max-min rates of its component are recomputed.
void FlowNetwork::start_general(TimeNs now_ns, FlowId id, const Route& route) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  double alone_rate = route.links.empty() ? route.bytes_per_s : f.cap_bytes_per_s;
  bool alone = true;
  for (const LinkId l : route.links) {
    if (links_[static_cast<std::size_t>(l)].pool >= 0) dissolve_pool(l);
    alone = alone && links_[static_cast<std::size_t>(l)].count == 0;
    alone_rate = std::min(alone_rate, topo_.link_bytes_per_s(l));
    link_in(id, l);
  }
  if (alone) {
    set_rate(f, id, std::min(alone_rate, f.cap_bytes_per_s), now_ns);
    return;
  }
  seeds_.assign(1, id);
  recompute_rates(now_ns);
}

void FlowNetwork::link_in(FlowId id, LinkId link) {
  Link& l = links_[static_cast<std::size_t>(link)];
  flows_[static_cast<std::size_t>(id)].hops.push_back(Hop{link, -1, l.head});
  if (l.head >= 0) {
    for (Hop& h : flows_[static_cast<std::size_t>(l.head)].hops) {
      if (h.link == link) h.prev = id;
    }
  }
  l.head = id;
  ++l.count;
}

void FlowNetwork::unlink(FlowId id) {
  for (const Hop& hop : flows_[static_cast<std::size_t>(id)].hops) {
    Link& l = links_[static_cast<std::size_t>(hop.link)];
    const auto relink = [&](FlowId other, bool forward) {
      for (Hop& h : flows_[static_cast<std::size_t>(other)].hops) {
        if (h.link == hop.link) (forward ? h.prev : h.next) = forward ? hop.prev : hop.next;
      }
    };
    if (hop.prev >= 0) relink(hop.prev, false);
    else l.head = hop.next;
    if (hop.next >= 0) relink(hop.next, true);
    --l.count;
  }
}

FlowId FlowNetwork::next_on(FlowId id, LinkId link) const {
  for (const Hop& h : flows_[static_cast<std::size_t>(id)].hops) {
    if (h.link == link) return h.next;
  }
  return -1;
}

// A source's completion moved to done_ns: a Due only if it is earlier than
// the live one (a later time is given when the live one arrives).
void FlowNetwork::reproject(Wake& wake, std::uint32_t source, TimeNs done_ns) {
  wake.done_ns = done_ns;
  if (done_ns >= wake.woken_ns) return;
  wake.woken_ns = done_ns;
  due_.push_back(Due{done_ns, source, ++wake.version});
}

// The live schedule of a source: an active flow's, or a pool's with members.
FlowNetwork::Wake* FlowNetwork::wake_of(std::uint32_t source) {
  const std::size_t i = source / 2;
  if (source % 2 == 0) return i < flows_.size() && flows_[i].active ? &flows_[i].wake : nullptr;
  return i < pools_.size() && !pools_[i].targets.empty() ? &pools_[i].wake : nullptr;
}

TimeNs FlowNetwork::projection(std::uint32_t source, std::uint64_t version) const {
  const Wake* w = const_cast<FlowNetwork*>(this)->wake_of(source);  // reads only
  return w && w->version == version ? w->done_ns : kTimeNever;
}

void FlowNetwork::complete(TimeNs now_ns, std::uint32_t source, std::uint64_t version,
                           std::vector<std::uint64_t>& done) {
  assert(now_ns >= now_ns_ && "complete moves time backwards");
  now_ns_ = now_ns;
  Wake* w = wake_of(source);
  if (!w || w->version != version) return;  // stale: a later entry replaced it
  Wake& wake = *w;
  wake.woken_ns = kTimeNever;
  if (wake.done_ns > now_ns) {  // its rate dropped since this entry: wake it again then
    reproject(wake, source, wake.done_ns);
    return;
  }
  if (source % 2 == 0) {
    complete_flow(static_cast<FlowId>(source / 2), now_ns, done);
  } else {
    complete_pool(static_cast<std::int32_t>(source / 2), now_ns, done);
  }
}

void FlowNetwork::complete_flow(FlowId id, TimeNs t, std::vector<std::uint64_t>& done) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  f.active = false;
  f.remaining_bytes = 0;
  f.rate = 0;
  --active_;
  done.push_back(f.tag);
  unlink(id);
  seeds_.clear();
  for (const Hop& hop : f.hops) {
    for (FlowId g = links_[static_cast<std::size_t>(hop.link)].head; g >= 0; g = next_on(g, hop.link)) {
      seeds_.push_back(g);
    }
  }
  f.hops.clear();
  free_ids_.push_back(id);
  if (!seeds_.empty()) recompute_rates(t);
}

double FlowNetwork::flow_rate(FlowId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= flows_.size()) throw std::invalid_argument("unknown flow id");
  const Flow& f = flows_[static_cast<std::size_t>(id)];
  if (!f.active) return 0.0;
  return f.pool >= 0 ? pools_[static_cast<std::size_t>(f.pool)].rate : f.rate;
}

// The flows connected to seeds_ through shared links, in search order.
void FlowNetwork::collect_component() {
  if (++stamp_ == 0) {  // wrapped: clear every mark once
    for (Flow& f : flows_) f.mark = 0;
    for (Link& l : links_) l.mark = 0;
    stamp_ = 1;
  }
  component_.clear();
  component_links_.clear();
  for (const FlowId id : seeds_) {
    Flow& f = flows_[static_cast<std::size_t>(id)];
    if (f.mark != stamp_) f.mark = stamp_, component_.push_back(id);
  }
  for (std::size_t i = 0; i < component_.size(); ++i) {
    for (const Hop& hop : flows_[static_cast<std::size_t>(component_[i])].hops) {
      Link& l = links_[static_cast<std::size_t>(hop.link)];
      if (l.mark == stamp_) continue;
      l.mark = stamp_;
      l.local = static_cast<std::int32_t>(component_links_.size());
      component_links_.push_back(hop.link);
      for (FlowId g = l.head; g >= 0; g = next_on(g, hop.link)) {
        Flow& other = flows_[static_cast<std::size_t>(g)];
        if (other.mark != stamp_) other.mark = stamp_, component_.push_back(g);
      }
    }
  }
}

// Progressive filling: the tightest constraint (a link's fair share among its
// unfrozen flows, or a flow's cap) freezes its flows at that rate; repeat on
// what is left.
void FlowNetwork::fill_max_min() {
  const std::size_t n_links = component_links_.size();
  capacity_.resize(n_links);
  unfrozen_.resize(n_links);
  for (std::size_t i = 0; i < n_links; ++i) {
    capacity_[i] = topo_.link_bytes_per_s(component_links_[i]);
    unfrozen_[i] = links_[static_cast<std::size_t>(component_links_[i])].count;
  }
  bool capped = false;
  for (const FlowId id : component_) {
    Flow& f = flows_[static_cast<std::size_t>(id)];
    f.new_rate = -1;
    capped = capped || f.cap_bytes_per_s < kNoRateCap;
  }
  const auto freeze = [&](Flow& f, double rate) {
    f.new_rate = rate;
    for (const Hop& hop : f.hops) {
      const auto i = static_cast<std::size_t>(links_[static_cast<std::size_t>(hop.link)].local);
      capacity_[i] = std::max(0.0, capacity_[i] - rate);
      --unfrozen_[i];
    }
  };
  for (std::size_t left = component_.size(); left > 0;) {
    std::size_t best = n_links;
    double share = 0;
    for (std::size_t i = 0; i < n_links; ++i) {
      if (unfrozen_[i] == 0) continue;
      const double s = capacity_[i] / static_cast<double>(unfrozen_[i]);
      if (best == n_links || s < share) best = i, share = s;
    }
    double cap = kNoRateCap;
    if (capped) {
      for (const FlowId id : component_) {
        const Flow& f = flows_[static_cast<std::size_t>(id)];
        if (f.new_rate < 0) cap = std::min(cap, f.cap_bytes_per_s);
      }
    }
    assert(best < n_links || cap < kNoRateCap);
    if (best == n_links || cap < share) {  // the tightest caps bind first
      for (const FlowId id : component_) {
        Flow& f = flows_[static_cast<std::size_t>(id)];
        if (f.new_rate < 0 && f.cap_bytes_per_s == cap) freeze(f, cap), --left;
      }
      continue;
    }
    const LinkId link = component_links_[best];
    for (FlowId g = links_[static_cast<std::size_t>(link)].head; g >= 0; g = next_on(g, link)) {
      Flow& f = flows_[static_cast<std::size_t>(g)];
      if (f.new_rate < 0) freeze(f, share), --left;
    }
  }
}

void FlowNetwork::recompute_rates(TimeNs now_ns) {
  collect_component();
  fill_max_min();
  for (const FlowId id : component_) {
    Flow& f = flows_[static_cast<std::size_t>(id)];
    if (f.new_rate != f.rate) set_rate(f, id, f.new_rate, now_ns);  // else keeps its exact projection
  }
}

// The flow runs at `rate` from now on: what it sent since last_ns at its old
// rate comes off, and its completion moves.
void FlowNetwork::set_rate(Flow& f, FlowId id, double rate, TimeNs now_ns) {
  if (f.wake.done_ns <= now_ns) {
    f.remaining_bytes = 0;  // due now; rounding must not push it a nanosecond later
  } else {
    const double sent = f.rate * to_seconds(now_ns - f.last_ns);
    f.remaining_bytes = std::max(0.0, f.remaining_bytes - sent);
  }
  f.last_ns = now_ns;
  f.rate = rate;
  reproject(f.wake, flow_source(id), checked_add_ns(now_ns, transfer_time_ns(f.remaining_bytes, rate)));
}

}  // namespace ringsim
