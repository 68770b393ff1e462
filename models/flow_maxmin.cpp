// Max-min fair sharing of the flow network (see flow_network.hpp): a flow
// that shares a link, and the flows on a link another left, join the
// progressive filling of their connected component (flows that share links,
// transitively) when the instant settles; nothing else is touched. No
// allocation per call: marks and scratch arrays live in the network.
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <functional>

#include "models/flow_network.hpp"

namespace ringsim {

// A flow that shares a link: pools on its links dissolve, then the max-min
// rates of its component are recomputed when the instant settles (alone
// after all: its own rate, at once).
void FlowNetwork::start_general(TimeNs now_ns, FlowId id) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  double alone_rate = f.hops.empty() ? f.route_bytes_per_s : f.cap_bytes_per_s;
  bool alone = true;
  for (std::size_t i = 0; i < f.hops.size(); ++i) {
    const LinkId l = f.hops[i].link;
    if (links_[static_cast<std::size_t>(l)].pool >= 0) dissolve_pool(l);
    alone = alone && links_[static_cast<std::size_t>(l)].count == 0;
    alone_rate = std::min(alone_rate, topo_.link_bytes_per_s(l));
    link_hop(id, i);
  }
  if (alone) {
    set_rate(f, id, std::min(alone_rate, f.cap_bytes_per_s), now_ns);
    return;
  }
  pending_flows_.push_back(id);
}

void FlowNetwork::settle() {
  seeds_.clear();
  for (const FlowId id : pending_flows_) {  // still general and flowing (it may have ended or pooled since)
    const Flow& f = flows_[static_cast<std::size_t>(id)];
    if (f.active && f.pool < 0 && !f.waiting && !f.reserved && !f.hops.empty()) seeds_.push_back(id);
  }
  for (const LinkId link : pending_links_) {  // reserved flows run alone as planned
    links_[static_cast<std::size_t>(link)].pending = false;
    for (FlowId g = links_[static_cast<std::size_t>(link)].head; g >= 0; g = next_on(g, link)) {
      if (!flows_[static_cast<std::size_t>(g)].reserved) seeds_.push_back(g);
    }
  }
  pending_flows_.clear();
  pending_links_.clear();
  if (!seeds_.empty()) recompute_rates(now_ns_);
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
// what is left. The same choices, in the same order, as scanning every link
// each round (ties: the link found first by the component search), but the
// links' shares sit in a heap: every freeze pushes the new share of each link
// it touches, and an entry whose share is no longer its link's is stale.
void FlowNetwork::fill_max_min() {
  const std::size_t n_links = component_links_.size();
  capacity_.resize(n_links);
  unfrozen_.resize(n_links);
  shares_.clear();
  for (std::size_t i = 0; i < n_links; ++i) {
    capacity_[i] = topo_.link_bytes_per_s(component_links_[i]);
    unfrozen_[i] = links_[static_cast<std::size_t>(component_links_[i])].count;
    if (unfrozen_[i] > 0) shares_.emplace_back(capacity_[i] / unfrozen_[i], static_cast<std::int32_t>(i));
  }
  std::make_heap(shares_.begin(), shares_.end(), std::greater<>());
  capped_.clear();  // ascending caps: the tightest unfrozen one is found in order
  for (const FlowId id : component_) {
    Flow& f = flows_[static_cast<std::size_t>(id)];
    f.new_rate = -1;
    if (f.cap_bytes_per_s < kNoRateCap) capped_.push_back(id);
  }
  const auto cap_of = [&](FlowId id) { return flows_[static_cast<std::size_t>(id)].cap_bytes_per_s; };
  std::sort(capped_.begin(), capped_.end(), [&](FlowId a, FlowId b) { return cap_of(a) < cap_of(b); });
  std::size_t next_capped = 0;
  for (std::size_t left = component_.size(); left > 0;) {
    double share = 0;
    const std::int32_t best = tightest_link(share);
    while (next_capped < capped_.size() && flows_[static_cast<std::size_t>(capped_[next_capped])].new_rate >= 0) {
      ++next_capped;
    }
    const double cap = next_capped < capped_.size() ? cap_of(capped_[next_capped]) : kNoRateCap;
    assert(best >= 0 || cap < kNoRateCap);
    if (best < 0 || cap < share) {  // the tightest caps bind first
      for (std::size_t k = next_capped; k < capped_.size() && cap_of(capped_[k]) == cap; ++k) {
        Flow& f = flows_[static_cast<std::size_t>(capped_[k])];
        if (f.new_rate < 0) freeze(f, cap), --left;
      }
      continue;
    }
    const LinkId link = component_links_[static_cast<std::size_t>(best)];
    for (FlowId g = links_[static_cast<std::size_t>(link)].head; g >= 0; g = next_on(g, link)) {
      Flow& f = flows_[static_cast<std::size_t>(g)];
      if (f.new_rate < 0) freeze(f, share), --left;
    }
  }
}

std::int32_t FlowNetwork::tightest_link(double& share) {
  while (!shares_.empty()) {
    const auto [s, i] = shares_.front();
    const auto k = static_cast<std::size_t>(i);
    if (unfrozen_[k] > 0 && s == capacity_[k] / unfrozen_[k]) {
      share = s;
      return i;
    }
    std::pop_heap(shares_.begin(), shares_.end(), std::greater<>());
    shares_.pop_back();
  }
  return -1;
}

void FlowNetwork::freeze(Flow& f, double rate) {
  f.new_rate = rate;
  for (const Hop& hop : f.hops) {
    const auto i = static_cast<std::size_t>(links_[static_cast<std::size_t>(hop.link)].local);
    capacity_[i] = std::max(0.0, capacity_[i] - rate);
    if (--unfrozen_[i] > 0) {
      shares_.emplace_back(capacity_[i] / unfrozen_[i], static_cast<std::int32_t>(i));
      std::push_heap(shares_.begin(), shares_.end(), std::greater<>());
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
