// Flow-level network model: flows that share a link share its bandwidth
// max-min fairly (a flow's optional rate cap acts as a private link of that
// capacity); rates are recomputed when a flow starts or ends, only over the
// flows connected to it through shared links.
//
// Contract with the engine (SimGrid style): the engine calls start_flow and
// advance_to; it asks next_completion_ns() and wakes the model then. The model
// never touches the event queue. A flow's latency is not modelled here: the
// engine delays start_flow by the route's latency.
//
// Cost per event, in three regimes (so the work is linear in events):
//   - a flow alone on its links (every flow of a ring of separate GPUs):
//     O(route links + log F) to start and to end, F = flows in flight;
//   - flows whose route is one link they have to themselves as a group (the
//     copy link of a GPU its ranks share) form a pool: processor sharing at
//     min(cap, capacity / n) each, tracked by one served-bytes clock per pool,
//     O(log n) per start and end however many share the link;
//   - otherwise, progressive filling over the connected component (flows
//     that share links, transitively) of the flow that changed.
//
// Exactness: a flow's remaining bytes and projected completion are touched
// only when its rate changes, so a flow whose rate never changes completes at
// start + transfer_time_ns(bytes, rate), the same expression the fast path
// uses; a pooled flow does when it joins an empty pool (and flows that join
// at the same nanosecond share it from the start).
#pragma once
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "models/completion_heap.hpp"
#include "models/topology.hpp"

namespace ringsim {

using FlowId = std::int64_t;

inline constexpr double kNoRateCap = std::numeric_limits<double>::infinity();

// ceil(bytes / bytes_per_s) in ns, the exact ceiling of the real quotient of
// the two doubles (1e9 + 1 B at 1e9 B/s: 1,000,000,001 ns); the one formula
// the event engine and the fast paths use. Throws std::invalid_argument for a
// rate <= 0 or negative bytes, TimeOverflow past 2^63 ns.
TimeNs transfer_time_ns(double bytes, double bytes_per_s);

class FlowNetwork {
 public:
  explicit FlowNetwork(const Topology& topo);
  // Starts a flow at `now_ns` on `route` carrying `bytes`; returns its id.
  // rate_cap_bytes_per_s: the flow never runs faster, even alone on its links
  // (a transport's ceiling per message); kNoRateCap: the links alone decide.
  // Ids of finished flows are reused, so memory grows with the flows in
  // flight, not with all flows ever started (P^2 in a ring).
  FlowId start_flow(TimeNs now_ns, const Route& route, double bytes, std::uint64_t tag,
                    double rate_cap_bytes_per_s = kNoRateCap);
  // Earliest completion among active flows, kTimeNever if none. O(1).
  TimeNs next_completion_ns() const { return completions_.top_ns(); }
  // Moves to `now_ns` (>= last time) and appends to `done` the tags of flows
  // that completed at or before it, in completion time order (ties: flow id;
  // within a pool, the order its members were due).
  void advance_to(TimeNs now_ns, std::vector<std::uint64_t>& done);
  std::vector<std::uint64_t> advance_to(TimeNs now_ns);  // same, in a new vector
  std::size_t active_flows() const { return active_; }
  double flow_rate(FlowId) const;  // bytes/s now; for tests

 private:
  struct Hop {  // one link of a general flow's route, and its place in that link's list
    LinkId link;
    FlowId prev, next;  // neighbours among the link's general flows; -1 at the ends
  };
  struct Flow {
    std::uint64_t tag = 0;
    std::vector<Hop> hops;             // general flows only (a pooled flow has none)
    double cap_bytes_per_s = kNoRateCap;
    double remaining_bytes = 0;        // general: as of last_ns, floored at 0
    double rate = 0;                   // general: bytes/s since last_ns
    TimeNs last_ns = 0;
    TimeNs done_ns = kTimeNever;       // general: last_ns + transfer_time_ns(remaining_bytes, rate)
    std::int32_t pool = -1;            // pooled: its pool
    std::uint32_t mark = 0;            // component search: visited when == stamp_
    double new_rate = 0;               // progressive filling: frozen rate, < 0 while unfrozen
    bool active = false;
  };
  struct Link {
    FlowId head = -1;          // first general flow on it
    std::int32_t count = 0;    // general flows on it
    std::int32_t pool = -1;    // its pool (then count == 0), or -1
    std::uint32_t mark = 0;    // component search: visited when == stamp_
    std::int32_t local = 0;    // index into the filling's scratch arrays
  };
  // Processor sharing on one link: every member runs at `rate`, so one clock
  // (bytes served to each member since the pool formed) tracks them all; a
  // member is done when the clock reaches its target.
  struct Pool {
    LinkId link = 0;
    double cap_bytes_per_s = kNoRateCap;  // every member's cap
    double served_bytes = 0;              // as of since_ns
    TimeNs since_ns = 0;
    double rate = 0;                      // each member's bytes/s since since_ns
    std::vector<std::pair<double, FlowId>> targets;  // min-heap of (served bytes when done, id)
  };

  const Topology& topo_;
  std::vector<Flow> flows_;         // by id; finished slots are reused
  std::vector<FlowId> free_ids_;    // finished slots, reused last-in first-out
  std::vector<Link> links_;         // by LinkId
  std::vector<Pool> pools_;         // by pool index; free ones reused
  std::vector<std::int32_t> free_pools_;
  CompletionHeap completions_;      // general flows (handle 2 id) and pools (2 index + 1)
  std::size_t active_ = 0;
  TimeNs now_ns_ = 0;
  // Scratch of the component search and filling, kept to avoid allocation.
  std::uint32_t stamp_ = 0;
  std::vector<FlowId> seeds_, component_;
  std::vector<LinkId> component_links_;
  std::vector<double> capacity_;
  std::vector<std::int32_t> unfrozen_;

  FlowId new_flow(std::uint64_t tag, double cap_bytes_per_s);
  FlowId next_on(FlowId id, LinkId link) const;
  void link_in(FlowId id, LinkId link);
  void unlink(FlowId id);
  void start_general(TimeNs now_ns, FlowId id, const Route& route);
  void complete_flow(FlowId id, TimeNs t, std::vector<std::uint64_t>& done);
  void recompute_rates(TimeNs now_ns);  // over the component of seeds_
  void collect_component();
  void fill_max_min();
  void set_rate(Flow& f, FlowId id, double rate, TimeNs now_ns);
  // Pools (models/flow_pool.cpp).
  void join_pool(TimeNs now_ns, FlowId id, LinkId link, double bytes);
  void rerate_pool(std::int32_t p, TimeNs now_ns);
  TimeNs pool_projection(const Pool& pool, double target) const;
  void complete_pool(std::int32_t p, TimeNs t, std::vector<std::uint64_t>& done);
  void dissolve_pool(LinkId link);
};

}  // namespace ringsim
