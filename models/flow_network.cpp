// Flow network: max-min fair sharing by progressive filling, recomputed only
// over the connected component (flows sharing links, transitively) of a flow
// that starts or ends. See flow_network.hpp; tests in tests/models/test_flow_network.cpp.
//
// Exactness: a flow's remaining bytes and projected completion are touched
// only when its rate changes, so a flow whose rate never changes completes at
// start + transfer_time_ns(bytes, rate), bit for bit the closed form.
#include "models/flow_network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <unordered_map>
#include <unordered_set>

namespace ringsim {

TimeNs transfer_time_ns(double bytes, double bytes_per_s) {
  if (!(bytes_per_s > 0)) throw std::invalid_argument(fmt::format("transfer at non-positive rate {} B/s", bytes_per_s));
  return ceil_ns(bytes / bytes_per_s);
}

FlowNetwork::FlowNetwork(const Topology& topo)
    : topo_(topo), flows_on_link_(static_cast<std::size_t>(topo.link_count())) {}

FlowId FlowNetwork::start_flow(TimeNs now_ns, const Route& route, double bytes, std::uint64_t tag,
                               double rate_cap) {
  assert(now_ns >= now_ns_ && "start_flow in the past");
  assert(now_ns <= next_completion_ns() && "advance_to(now) must run before start_flow(now)");
  if (!(bytes >= 0)) throw std::invalid_argument(fmt::format("flow of {} bytes", bytes));
  if (!(rate_cap > 0)) throw std::invalid_argument(fmt::format("flow rate cap {} B/s", rate_cap));
  now_ns_ = std::max(now_ns_, now_ns);
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
  f.links.assign(route.links.begin(), route.links.end());  // reuses the slot's capacity
  f.remaining_bytes = bytes;
  f.rate = 0;
  f.cap = rate_cap;
  f.last_ns = now_ns;
  f.done_ns = kTimeNever;
  f.active = true;
  ++active_;
  if (route.links.empty()) {  // no shared resource: it runs at the route's rate
    Flow& g = f;
    g.rate = std::min(route.bytes_per_s, rate_cap);
    g.done_ns = checked_add_ns(now_ns, transfer_time_ns(bytes, g.rate));
    completions_.emplace(g.done_ns, id);
    return id;
  }
  for (const LinkId l : route.links) flows_on_link_[static_cast<std::size_t>(l)].push_back(id);
  recompute_rates({id}, now_ns);
  return id;
}

TimeNs FlowNetwork::next_completion_ns() const {
  return completions_.empty() ? kTimeNever : completions_.begin()->first;
}

std::vector<std::uint64_t> FlowNetwork::advance_to(TimeNs now_ns) {
  assert(now_ns >= now_ns_ && "advance_to moves time backwards");
  std::vector<std::uint64_t> done;
  while (!completions_.empty() && completions_.begin()->first <= now_ns) {
    const auto [t, id] = *completions_.begin();
    completions_.erase(completions_.begin());
    Flow& f = flows_[static_cast<std::size_t>(id)];
    f.active = false;
    f.remaining_bytes = 0;
    f.rate = 0;
    --active_;
    done.push_back(f.tag);
    std::vector<FlowId> neighbours;
    for (const LinkId l : f.links) {
      auto& on = flows_on_link_[static_cast<std::size_t>(l)];
      on.erase(std::find(on.begin(), on.end(), id));
      neighbours.insert(neighbours.end(), on.begin(), on.end());
    }
    f.links.clear();  // keeps capacity for the slot's next flow
    free_ids_.push_back(id);
    if (!neighbours.empty()) recompute_rates(neighbours, t);
  }
  now_ns_ = now_ns;
  return done;
}

std::size_t FlowNetwork::active_flows() const { return active_; }

double FlowNetwork::flow_rate(FlowId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= flows_.size()) throw std::invalid_argument("unknown flow id");
  const Flow& f = flows_[static_cast<std::size_t>(id)];
  return f.active ? f.rate : 0.0;
}

std::vector<FlowId> FlowNetwork::component(const std::vector<FlowId>& seeds) const {
  std::unordered_set<FlowId> seen(seeds.begin(), seeds.end());
  std::unordered_set<LinkId> links_seen;
  std::vector<FlowId> out(seen.begin(), seen.end());
  for (std::size_t i = 0; i < out.size(); ++i) {
    for (const LinkId l : flows_[static_cast<std::size_t>(out[i])].links) {
      if (!links_seen.insert(l).second) continue;
      for (const FlowId other : flows_on_link_[static_cast<std::size_t>(l)]) {
        if (seen.insert(other).second) out.push_back(other);
      }
    }
  }
  std::sort(out.begin(), out.end());  // deterministic order for the filling below
  return out;
}

void FlowNetwork::recompute_rates(const std::vector<FlowId>& seeds, TimeNs now_ns) {
  const std::vector<FlowId> flows = component(seeds);
  // Progressive filling: the link with the smallest fair share freezes its
  // flows at that share; repeat on what is left.
  std::vector<LinkId> links;
  for (const FlowId id : flows) {
    for (const LinkId l : flows_[static_cast<std::size_t>(id)].links) links.push_back(l);
  }
  std::sort(links.begin(), links.end());
  links.erase(std::unique(links.begin(), links.end()), links.end());
  std::unordered_map<LinkId, std::size_t> index;
  std::vector<double> capacity(links.size());
  std::vector<std::size_t> unfrozen(links.size());
  for (std::size_t i = 0; i < links.size(); ++i) {
    index.emplace(links[i], i);
    capacity[i] = topo_.link_bytes_per_s(links[i]);
    unfrozen[i] = flows_on_link_[static_cast<std::size_t>(links[i])].size();
  }
  bool any_cap = false;
  for (const FlowId id : flows) any_cap = any_cap || flows_[static_cast<std::size_t>(id)].cap < kNoRateCap;
  std::unordered_map<FlowId, double> rate;
  const auto freeze = [&](FlowId id, double r) {
    if (!rate.emplace(id, r).second) return;
    for (const LinkId l : flows_[static_cast<std::size_t>(id)].links) {
      const std::size_t i = index.at(l);
      capacity[i] = std::max(0.0, capacity[i] - r);
      --unfrozen[i];
    }
  };
  while (rate.size() < flows.size()) {
    std::size_t best = links.size();
    double share = 0;
    for (std::size_t i = 0; i < links.size(); ++i) {
      if (unfrozen[i] == 0) continue;
      const double s = capacity[i] / static_cast<double>(unfrozen[i]);
      if (best == links.size() || s < share) best = i, share = s;
    }
    assert(best < links.size());
    // A cap below the fairest share is a private link that saturates first:
    // that flow freezes at its cap and the filling goes on without it.
    FlowId capped = -1;
    for (const FlowId id : any_cap ? flows : std::vector<FlowId>{}) {
      const double c = flows_[static_cast<std::size_t>(id)].cap;
      if (c < share && rate.count(id) == 0 && (capped < 0 || c < flows_[static_cast<std::size_t>(capped)].cap))
        capped = id;
    }
    if (capped >= 0) {
      freeze(capped, flows_[static_cast<std::size_t>(capped)].cap);
      continue;
    }
    for (const FlowId id : flows_on_link_[static_cast<std::size_t>(links[best])]) freeze(id, share);
  }
  for (const FlowId id : flows) {
    Flow& f = flows_[static_cast<std::size_t>(id)];
    const double r = rate.at(id);
    if (r == f.rate) continue;  // untouched: keeps its exact projected completion
    if (f.done_ns <= now_ns) {
      f.remaining_bytes = 0;  // due now; rounding must not push it a nanosecond later
    } else {
      const double sent = f.rate * to_seconds(now_ns - f.last_ns);
      f.remaining_bytes = std::max(0.0, f.remaining_bytes - sent);
    }
    if (f.done_ns != kTimeNever) completions_.erase({f.done_ns, id});
    f.last_ns = now_ns;
    f.rate = r;
    f.done_ns = checked_add_ns(now_ns, transfer_time_ns(f.remaining_bytes, r));
    completions_.emplace(f.done_ns, id);
  }
}

}  // namespace ringsim
