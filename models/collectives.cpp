// Tensor-parallel collectives as ring steps of flows; see collectives.hpp.
// Tests: tests/models/test_layer_model.cpp (closed form on an idle fabric).
#include "models/collectives.hpp"

#include <algorithm>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "models/flow_network.hpp"

namespace ringsim {

namespace {

// Wakes the network at its due entries in time order (at equal times,
// completions before starts) until no flow is left, settling before time
// moves on (FlowNetwork's contract); returns when the last flow completed.
TimeNs run_until_idle(FlowNetwork& net) {
  std::vector<FlowNetwork::Due> pending;
  std::vector<std::uint64_t> done;
  TimeNs end_ns = net.now_ns();
  const auto take = [&] {
    pending.insert(pending.end(), net.due().begin(), net.due().end());
    net.due().clear();
  };
  for (take();;) {
    const auto first = std::min_element(pending.begin(), pending.end(), [](const auto& a, const auto& b) {
      return std::tie(a.time_ns, a.start) < std::tie(b.time_ns, b.start);
    });
    if (net.unsettled() && (first == pending.end() || first->time_ns > net.now_ns())) {
      net.settle();
      take();
      continue;
    }
    if (first == pending.end()) return end_ns;
    const FlowNetwork::Due due = *first;
    pending.erase(first);
    done.clear();
    net.complete(due.time_ns, due.source, due.version, done);
    if (!done.empty()) end_ns = std::max(end_ns, due.time_ns);
    take();
  }
}

// One ring step: every member sends `bytes` to the next; returns when the last lands.
TimeNs ring_step_ns(const Topology& topo, FlowNetwork& net, int members, double bytes, TimeNs start_ns) {
  TimeNs latency_ns = 0;
  std::vector<Route> routes;
  for (int g = 0; g < members; ++g) {
    routes.push_back(topo.route(g, (g + 1) % members));
    latency_ns = std::max(latency_ns, routes.back().latency_ns);
  }
  // All flows start together after the step's latency: the ring's members post at once.
  const TimeNs t0 = start_ns + latency_ns;
  if (net.unsettled()) net.settle();
  for (int g = 0; g < members; ++g) net.start_flow(t0, routes[g], bytes, static_cast<std::uint64_t>(g));
  return std::max(t0, run_until_idle(net));
}

}  // namespace

double collective_seconds(const ClusterSpec& cluster, int members, double bytes, Collective kind) {
  if (members <= 1 || bytes <= 0) return 0;
  if (members > cluster.gpus_per_node)
    throw std::invalid_argument("collective_seconds: a tensor-parallel group stays inside one node");
  ClusterSpec node = cluster;
  node.gpus = members;
  const Topology topo(node);
  FlowNetwork net(topo);
  const int steps = (members - 1) * (kind == Collective::kAllReduce ? 2 : 1);
  TimeNs now_ns = 0;
  for (int i = 0; i < steps; ++i) now_ns = ring_step_ns(topo, net, members, bytes / members, now_ns);
  return to_seconds(now_ns);
}

}  // namespace ringsim
