// Pools of the flow network (see flow_network.hpp): flows whose route is a
// single link that no other kind of flow uses, with equal caps, share it
// equally, min(cap, capacity / n) each. One clock per pool (bytes served to
// each member since the pool formed) replaces per-flow bookkeeping, so a
// start or an end costs O(log n) instead of re-solving all n flows: with every
// rank of a ring on one GPU, the P copies of a step were P^2 work per step.
//
// A member is done when the clock reaches its target (clock at its start +
// its bytes); the pool's next completion is the smallest target's, projected
// from the last rate change with transfer_time_ns; its Due entries name
// source 2 * pool + 1.
#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <functional>

#include "models/flow_network.hpp"

namespace ringsim {

namespace {
using Target = std::pair<double, FlowId>;
}  // namespace

// A single-link flow joins its link's pool if the link has no other kind of
// flow and the caps agree; a flow alone on the link (reserved, or left over
// from a dissolved pool) becomes the pool's first member.
bool FlowNetwork::try_pool(TimeNs now_ns, FlowId id) {
  Flow& f = flows_[static_cast<std::size_t>(id)];
  if (f.hops.size() != 1) return false;
  const LinkId link = f.hops[0].link;
  const Link& l = links_[static_cast<std::size_t>(link)];
  if (l.count == 1 && l.pool < 0) {
    const Flow& other = flows_[static_cast<std::size_t>(l.head)];
    if (other.hops.size() != 1 || other.cap_bytes_per_s != f.cap_bytes_per_s) return false;
    pool_alone_flow(link);
  }
  if (l.count != 0) return false;
  if (l.pool >= 0 && pools_[static_cast<std::size_t>(l.pool)].cap_bytes_per_s != f.cap_bytes_per_s) return false;
  f.hops.clear();
  join_pool(now_ns, id, link, f.remaining_bytes);
  return true;
}

// The one flow on `link` becomes a pool of one, formed when its rate was last
// set: the pool's clock then gives it the same completion.
void FlowNetwork::pool_alone_flow(LinkId link) {
  Link& l = links_[static_cast<std::size_t>(link)];
  const FlowId id = l.head;
  Flow& f = flows_[static_cast<std::size_t>(id)];
  assert(!f.reserved && "begin's meet_reserved ends reservations before pooling");
  unlink(id);
  f.hops.clear();
  ++f.wake.version;  // its own entries go stale: the pool's stand for it
  f.wake.woken_ns = kTimeNever;
  l.pool = new_pool(link, f.cap_bytes_per_s, f.last_ns);
  Pool& pool = pools_[static_cast<std::size_t>(l.pool)];
  f.pool = l.pool;
  pool.rate = f.rate;
  pool.targets.emplace_back(f.remaining_bytes, id);
  reproject(pool.wake, pool_source(l.pool), pool_projection(pool, f.remaining_bytes));
}

std::int32_t FlowNetwork::new_pool(LinkId link, double cap_bytes_per_s, TimeNs since_ns) {
  const std::int32_t p = take_slot(pools_, free_pools_);
  Pool& fresh = pools_[static_cast<std::size_t>(p)];
  fresh.link = link;
  fresh.cap_bytes_per_s = cap_bytes_per_s;
  fresh.served_bytes = 0;
  fresh.since_ns = since_ns;
  fresh.rate = 0;
  fresh.wake.done_ns = fresh.wake.woken_ns = kTimeNever;  // the version goes on
  fresh.targets.clear();  // keeps the slot's capacity
  return p;
}

void FlowNetwork::join_pool(TimeNs now_ns, FlowId id, LinkId link, double bytes) {
  Link& l = links_[static_cast<std::size_t>(link)];
  Flow& f = flows_[static_cast<std::size_t>(id)];
  if (l.pool < 0) l.pool = new_pool(link, f.cap_bytes_per_s, now_ns);
  f.pool = l.pool;
  Pool& pool = pools_[static_cast<std::size_t>(l.pool)];
  const double served_now = pool.served_bytes + pool.rate * to_seconds(now_ns - pool.since_ns);
  pool.targets.emplace_back(served_now + bytes, id);
  std::push_heap(pool.targets.begin(), pool.targets.end(), std::greater<Target>());
  rerate_pool(l.pool, now_ns);
}

// Completion of a target on the pool's clock, from its last rate change.
TimeNs FlowNetwork::pool_projection(const Pool& pool, double target) const {
  return checked_add_ns(pool.since_ns, transfer_time_ns(std::max(0.0, target - pool.served_bytes), pool.rate));
}

// The membership changed at now_ns: the clock moves to now at the old rate if
// the rate changes (else the projection from the last change stays valid, bit
// for bit), then the next completion is projected again.
void FlowNetwork::rerate_pool(std::int32_t p, TimeNs now_ns) {
  Pool& pool = pools_[static_cast<std::size_t>(p)];
  if (pool.targets.empty()) {
    links_[static_cast<std::size_t>(pool.link)].pool = -1;
    free_pools_.push_back(p);
    return;
  }
  const double share = topo_.link_bytes_per_s(pool.link) / static_cast<double>(pool.targets.size());
  const double rate = std::min(pool.cap_bytes_per_s, share);
  if (rate != pool.rate) {
    pool.served_bytes += pool.rate * to_seconds(now_ns - pool.since_ns);
    pool.since_ns = now_ns;
    pool.rate = rate;
  }
  reproject(pool.wake, pool_source(p), pool_projection(pool, pool.targets.front().first));
}

// Members due at t (the first, and any other whose projection at the rate
// before this change is t too) complete, then the survivors speed up.
void FlowNetwork::complete_pool(std::int32_t p, TimeNs t, std::vector<std::uint64_t>& done) {
  Pool& pool = pools_[static_cast<std::size_t>(p)];
  do {
    std::pop_heap(pool.targets.begin(), pool.targets.end(), std::greater<Target>());
    const FlowId id = pool.targets.back().second;
    pool.targets.pop_back();
    Flow& f = flows_[static_cast<std::size_t>(id)];
    f.active = false;
    f.pool = -1;
    --active_;
    done.push_back(f.tag);
    free_ids_.push_back(id);
  } while (!pool.targets.empty() && pool_projection(pool, pool.targets.front().first) <= t);
  rerate_pool(p, t);
}

// A flow of another kind needs the link: the members become general flows,
// each with the remaining bytes and projection it has on the pool's clock.
void FlowNetwork::dissolve_pool(LinkId link) {
  Link& l = links_[static_cast<std::size_t>(link)];
  const std::int32_t p = l.pool;
  Pool& pool = pools_[static_cast<std::size_t>(p)];
  l.pool = -1;
  // Ascending targets, so the members' order on the link does not depend on the heap's layout.
  std::sort_heap(pool.targets.begin(), pool.targets.end(), std::greater<Target>());
  for (auto it = pool.targets.rbegin(); it != pool.targets.rend(); ++it) {
    const auto [target, id] = *it;
    Flow& f = flows_[static_cast<std::size_t>(id)];
    f.pool = -1;
    f.rate = pool.rate;
    f.last_ns = pool.since_ns;
    f.remaining_bytes = std::max(0.0, target - pool.served_bytes);
    f.wake.woken_ns = kTimeNever;
    reproject(f.wake, flow_source(id), pool_projection(pool, target));
    f.hops.assign(1, Hop{link, -1, -1});
    link_hop(id, 0);
  }
  pool.targets.clear();
  free_pools_.push_back(p);
}

}  // namespace ringsim
