// Flow network: the exact transfer time, the flows' life (waiting,
// reserved, alone, completed), the links' lists and the wake-ups. Max-min
// sharing is in flow_maxmin.cpp, pools in flow_pool.cpp. See flow_network.hpp;
// tests in tests/models/test_flow_network.cpp and test_flow_sharing.cpp.
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

FlowId FlowNetwork::start_flow(TimeNs now_ns, const Route& route, double bytes, std::uint64_t tag,
                               double rate_cap_bytes_per_s, TimeNs start_ns) {
  assert(now_ns >= now_ns_ && "start_flow in the past");
  if (start_ns == kStartNow) start_ns = now_ns;
  if (!(bytes >= 0) || !(rate_cap_bytes_per_s > 0) || start_ns < now_ns) {
    refuse_flow(bytes, rate_cap_bytes_per_s, start_ns, now_ns);
  }
  advance(now_ns);
  const FlowId id = take_slot(flows_, free_ids_);
  Flow& f = flows_[static_cast<std::size_t>(id)];
  f.tag = tag;
  f.cap_bytes_per_s = rate_cap_bytes_per_s;
  f.route_bytes_per_s = route.bytes_per_s;
  f.remaining_bytes = bytes;
  f.rate = 0;
  f.wake.done_ns = f.wake.woken_ns = kTimeNever;  // the version goes on: old entries stay stale
  f.pool = -1;
  f.waiting = f.reserved = false;
  f.active = true;
  ++active_;
  const std::size_t n = route.links.size();
  f.hops.resize(n);  // keeps the slot's capacity
  bool empty_links = n > 0;  // the usual case in a ring: nothing on them at all
  for (std::size_t i = 0; i < n; ++i) {
    f.hops[i] = Hop{route.links[i], -1, -1};
    const Link& l = links_[static_cast<std::size_t>(route.links[i])];
    empty_links = empty_links && l.head < 0 && l.pool < 0;
  }
  if (empty_links) {  // alone on its links from its start, known now: reserved; kept flat, it is most flows
    for (std::size_t i = 0; i < n; ++i) {
      Link& l = links_[static_cast<std::size_t>(route.links[i])];
      l.head = id;
      l.count = l.reserved = 1;
    }
    f.reserved = true;
    f.start_ns = f.last_ns = start_ns;
    f.rate = std::min(route.bytes_per_s, rate_cap_bytes_per_s);
    const TimeNs done_ns = checked_add_ns(start_ns, lone_transfer_ns(bytes, f.rate));
    f.wake.done_ns = f.wake.woken_ns = done_ns;
    due_.push_back(Due{done_ns, flow_source(id), ++f.wake.version, false});
    return id;
  }
  if (start_ns == now_ns) {
    begin(now_ns, id);
  } else if (n > 0 && free_from(f, start_ns)) {
    reserve(id, start_ns);
  } else {
    wait(id, start_ns);
  }
  return id;
}

void FlowNetwork::refuse_flow(double bytes, double rate_cap_bytes_per_s, TimeNs start_ns, TimeNs now_ns) {
  if (!(bytes >= 0)) throw std::invalid_argument(fmt::format("flow of {} bytes", bytes));
  if (!(rate_cap_bytes_per_s > 0)) {
    throw std::invalid_argument(fmt::format("flow rate cap of {} B/s is not positive", rate_cap_bytes_per_s));
  }
  throw std::invalid_argument(fmt::format("flow starting at {} ns before now ({} ns)", start_ns, now_ns));
}

void FlowNetwork::refuse_unsettled(TimeNs now_ns) const {
  throw std::logic_error(fmt::format("FlowNetwork: called at {} ns with the rates of {} ns not settled", now_ns,
                                     now_ns_));
}

// Whether the flow's links carry nothing from start_ns on but reserved flows
// that end by then (intervals are half-open: completions come before starts).
bool FlowNetwork::free_from(const Flow& f, TimeNs start_ns) const {
  for (const Hop& hop : f.hops) {
    const Link& l = links_[static_cast<std::size_t>(hop.link)];
    if (l.pool >= 0) return false;
    for (FlowId g = l.head; g >= 0; g = next_on(g, hop.link)) {
      const Flow& other = flows_[static_cast<std::size_t>(g)];
      if (!other.reserved || other.wake.done_ns > start_ns) return false;
    }
  }
  return true;
}

// On its links from now, alone on them from start_ns (they carry reservations
// that end by then): its completion is known.
void FlowNetwork::reserve(FlowId id, TimeNs start_ns) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  link_in(id);
  mark_reserved(f, true);
  f.start_ns = f.last_ns = start_ns;
  f.rate = std::min(f.route_bytes_per_s, f.cap_bytes_per_s);
  reproject(f.wake, flow_source(id), checked_add_ns(start_ns, lone_transfer_ns(f.remaining_bytes, f.rate)));
}

// Off every link until start_ns, when a Due starts it.
void FlowNetwork::wait(FlowId id, TimeNs start_ns) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  f.waiting = true;
  f.start_ns = start_ns;
  f.wake.done_ns = f.wake.woken_ns = start_ns;
  due_.push_back(Due{start_ns, flow_source(id), ++f.wake.version, true});
}

// The flow's bytes start to flow now.
void FlowNetwork::begin(TimeNs now_ns, FlowId id) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  f.waiting = false;
  f.last_ns = now_ns;
  f.wake.done_ns = f.wake.woken_ns = kTimeNever;
  meet_reserved(now_ns, f);
  if (try_pool(now_ns, id)) return;
  if (!f.hops.empty() && alone_on(f)) {
    start_alone(now_ns, id);
  } else {
    start_general(now_ns, id);
  }
}

// Reserved flows on f's links: one already flowing shares them from now on
// (its state is exact: it has run at its rate since its start); one not yet
// flowing leaves them and waits for its start. A flowing one now ends later
// than planned, so the reservations after it on its own links are off too:
// they wait as well (none of them can be flowing: reservations on a link do
// not overlap).
void FlowNetwork::meet_reserved(TimeNs now_ns, const Flow& f) {
  component_links_.clear();  // worklist of links whose reservations are off
  for (const Hop& hop : f.hops) component_links_.push_back(hop.link);
  for (std::size_t i = 0; i < component_links_.size(); ++i) {
    const LinkId link = component_links_[i];
    if (links_[static_cast<std::size_t>(link)].reserved == 0) continue;  // all-to-alls: most links
    seeds_.clear();
    for (FlowId g = links_[static_cast<std::size_t>(link)].head; g >= 0; g = next_on(g, link)) {
      if (flows_[static_cast<std::size_t>(g)].reserved) seeds_.push_back(g);
    }
    for (const FlowId g : seeds_) {
      Flow& other = flows_[static_cast<std::size_t>(g)];
      mark_reserved(other, false);
      if (other.start_ns <= now_ns) {
        for (const Hop& h : other.hops) component_links_.push_back(h.link);
        continue;
      }
      unlink(g);
      other.rate = 0;
      wait(g, other.start_ns);  // its completion entry goes stale
    }
  }
}

bool FlowNetwork::alone_on(const Flow& f) const {
  for (const Hop& hop : f.hops) {
    const Link& link = links_[static_cast<std::size_t>(hop.link)];
    if (link.count != 0 || link.pool >= 0) return false;
  }
  return true;
}

// No other flow on its links: it runs at the route's rate (the smallest of
// its links', Route's contract) or its cap, and its completion is the closed form.
void FlowNetwork::start_alone(TimeNs now_ns, FlowId id) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  link_in(id);
  f.rate = std::min(f.route_bytes_per_s, f.cap_bytes_per_s);
  reproject(f.wake, flow_source(id), checked_add_ns(now_ns, lone_transfer_ns(f.remaining_bytes, f.rate)));
}

TimeNs FlowNetwork::remember_transfer_ns(double bytes, double bytes_per_s) {
  const TimeNs ns = transfer_time_ns(bytes, bytes_per_s);
  memo_[memo_next_++ % memo_.size()] = TransferMemo{bytes, bytes_per_s, ns};
  return ns;
}

void FlowNetwork::link_hop(FlowId id, std::size_t i) {
  Hop& hop = flows_[static_cast<std::size_t>(id)].hops[i];
  Link& l = links_[static_cast<std::size_t>(hop.link)];
  hop.prev = -1;
  hop.next = l.head;
  if (l.head >= 0) {
    for (Hop& h : flows_[static_cast<std::size_t>(l.head)].hops) {
      if (h.link == hop.link) h.prev = id;
    }
  }
  l.head = id;
  ++l.count;
}

void FlowNetwork::link_in(FlowId id) {
  for (std::size_t i = 0; i < flows_[static_cast<std::size_t>(id)].hops.size(); ++i) link_hop(id, i);
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
  due_.push_back(Due{done_ns, source, ++wake.version, false});
}

TimeNs FlowNetwork::projection(std::uint32_t source, std::uint64_t version) const {
  const Wake* w = const_cast<FlowNetwork*>(this)->wake_of(source);  // reads only
  return w && w->version == version ? w->done_ns : kTimeNever;
}

void FlowNetwork::complete(TimeNs now_ns, std::uint32_t source, std::uint64_t version,
                           std::vector<std::uint64_t>& done) {
  assert(now_ns >= now_ns_ && "complete moves time backwards");
  advance(now_ns);
  Wake* w = wake_of(source);
  if (!w || w->version != version) return;  // stale: a later entry replaced it
  Wake& wake = *w;
  wake.woken_ns = kTimeNever;
  if (wake.done_ns > now_ns) {  // its rate dropped since this entry: wake it again then
    reproject(wake, source, wake.done_ns);
    return;
  }
  if (source % 2 == 1) {
    complete_pool(static_cast<std::int32_t>(source / 2), now_ns, done);
    return;
  }
  const auto id = static_cast<FlowId>(source / 2);
  Flow& f = flows_[static_cast<std::size_t>(id)];
  if (f.waiting) {
    begin(now_ns, id);
    return;
  }
  for (const Hop& hop : f.hops) {
    if (hop.prev >= 0 || hop.next >= 0) {  // neighbours to relink and speed up
      complete_flow(id, done);
      return;
    }
  }
  for (const Hop& hop : f.hops) {  // alone on its links, the usual case: they empty
    Link& l = links_[static_cast<std::size_t>(hop.link)];
    l.head = -1;
    l.count = l.reserved = 0;
  }
  f.reserved = false;
  release(f, id, done);
}

// A finished flow, no longer reserved, leaves its slot.
void FlowNetwork::release(Flow& f, FlowId id, std::vector<std::uint64_t>& done) {
  f.active = false;
  f.remaining_bytes = 0;
  f.rate = 0;
  --active_;
  done.push_back(f.tag);
  f.hops.clear();
  free_ids_.push_back(id);
}

// Its neighbours may speed up: its links are re-solved when the instant settles.
void FlowNetwork::complete_flow(FlowId id, std::vector<std::uint64_t>& done) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  unlink(id);
  mark_reserved(f, false);
  for (const Hop& hop : f.hops) {
    Link& l = links_[static_cast<std::size_t>(hop.link)];
    if (l.count > 0 && !l.pending) l.pending = true, pending_links_.push_back(hop.link);
  }
  release(f, id, done);
}

double FlowNetwork::flow_rate(FlowId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= flows_.size()) throw std::invalid_argument("unknown flow id");
  const Flow& f = flows_[static_cast<std::size_t>(id)];
  if (!f.active || f.waiting) return 0.0;
  return f.pool >= 0 ? pools_[static_cast<std::size_t>(f.pool)].rate : f.rate;
}

}  // namespace ringsim
