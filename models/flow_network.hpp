// Flow-level network model: flows that share a link share its bandwidth
// max-min fairly (a flow's optional rate cap acts as a private link of that
// capacity); rates are recomputed when a flow starts or ends, only over
// the flows connected to it through shared links.
//
// Contract with the engine (SimGrid style): the engine calls start_flow and
// advance_to; it asks next_completion_ns() and wakes the model then. The model
// never touches the event queue. A flow's latency is not modelled here: the
// engine delays start_flow by the route's latency.
//
// Exactness: a flow whose rate never changes completes at
// start + transfer_time_ns(bytes, rate), the same expression the fast path uses.
#pragma once
#include <cstdint>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include "models/topology.hpp"

namespace ringsim {

using FlowId = std::int64_t;

inline constexpr double kNoRateCap = std::numeric_limits<double>::infinity();

// ceil(bytes / bytes_per_s) in ns; the one formula both engines use.
TimeNs transfer_time_ns(double bytes, double bytes_per_s);

class FlowNetwork {
 public:
  explicit FlowNetwork(const Topology& topo);
  // Starts a flow at `now_ns` on `route` carrying `bytes`, never faster than
  // rate_cap_bytes_per_s (a transport's ceiling per message, or its rate
  // beside a running kernel); kNoRateCap: the links alone decide. Returns its id.
  // Ids of finished flows are reused, so memory grows with the flows in
  // flight, not with all flows ever started (P^2 in a ring).
  FlowId start_flow(TimeNs now_ns, const Route& route, double bytes, std::uint64_t tag,
                    double rate_cap_bytes_per_s = kNoRateCap);
  // Earliest completion among active flows, kTimeNever if none.
  TimeNs next_completion_ns() const;
  // Moves to `now_ns` (>= last time) and returns the tags of flows that
  // completed at or before it, in (completion time, flow id) order.
  std::vector<std::uint64_t> advance_to(TimeNs now_ns);
  std::size_t active_flows() const;
  double flow_rate(FlowId) const;  // bytes/s now; for tests

 private:
  struct Flow {
    std::uint64_t tag = 0;
    std::vector<LinkId> links;
    double remaining_bytes = 0;  // as of last_ns, floored at 0
    double rate = 0;             // bytes/s since last_ns
    double cap = kNoRateCap;     // the flow's own ceiling
    TimeNs last_ns = 0;
    TimeNs done_ns = 0;          // projected: last_ns + transfer_time_ns(remaining_bytes, rate)
    bool active = false;
  };
  const Topology& topo_;
  std::vector<Flow> flows_;                         // by id; finished slots are reused
  std::vector<FlowId> free_ids_;                    // finished slots, reused last-in first-out
  std::vector<std::vector<FlowId>> flows_on_link_;  // active flows per link
  std::set<std::pair<TimeNs, FlowId>> completions_; // (done_ns, id) of active flows
  std::size_t active_ = 0;
  TimeNs now_ns_ = 0;
  // Max-min rates for the flows connected (through shared links) to `seeds`,
  // at time now_ns; flows whose rate is unchanged are left untouched.
  void recompute_rates(const std::vector<FlowId>& seeds, TimeNs now_ns);
  std::vector<FlowId> component(const std::vector<FlowId>& seeds) const;
};

}  // namespace ringsim
