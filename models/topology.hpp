// Cluster topology as a Boost.Graph: GPUs in nodes of gpus_per_node joined by
// an intra-node switch (NVSwitch), and a per-GPU NIC into one non-blocking
// inter-node switch. Every edge is one direction of one link, with its own
// bandwidth and latency.
//
//   gpu g --(intra bw, intra latency)--> nvswitch(node)  --(intra bw, 0)--> gpu h
//   gpu g --(inter bw, inter latency)--> ib switch       --(inter bw, 0)--> gpu h
//
// so a route's latency is the link latency the scenario gives, and its
// bandwidth the smaller of its links'. Routes are shortest paths by latency
// (Dijkstra, ties by fewer hops); traffic between two GPUs of one node stays
// on the node's fabric whenever it has one, however slow (a GPU's NIC does not
// loop back into its own node). Because every node is wired alike, a route
// depends only on (src % gpus_per_node, dst % gpus_per_node, same node?): it
// is computed by Dijkstra once per such class and re-targeted by symmetry,
// which keeps 262,144-GPU rings cheap.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "models/transport.hpp"
#include "models/units.hpp"

namespace ringsim {

struct LinkSpec {
  double bytes_per_s = 0;
  TimeNs latency_ns = 0;
  // How the deployment moves messages over this link (a scenario's
  // `cluster.intra_node.transport`, models/transport.hpp); null: the wire's rate.
  std::shared_ptr<const TransportProfile> transport = nullptr;
  // How its all-to-alls (Ulysses, USP) move (`all_to_all_transport`); null: as `transport`.
  std::shared_ptr<const TransportProfile> all_to_all = nullptr;
};

struct ClusterSpec {
  long long gpus = 0;         // GPUs in the ring (the last node may be partial)
  int gpus_per_node = 8;
  LinkSpec intra_node;        // per GPU port into the node's switch, each direction
  LinkSpec inter_node;        // per GPU NIC into the cluster switch, each direction
  // Per GPU loopback between ranks that share it (a device-to-device copy),
  // payload bytes/s; bytes_per_s 0: no such link (one rank per GPU).
  LinkSpec copy_link;
  // Faults (a scenario's faults.links, models/faults.hpp). Routes are chosen
  // on the nominal rates (a static routing table); a degraded link only runs
  // slower. A pair's factor is a link of its own appended to its route (ids
  // after the copy links), so the flow network shares it like any other.
  struct PairFactor { long long from_gpu, to_gpu; double factor; };
  std::vector<PairFactor> pair_factors;
  std::vector<std::pair<long long, double>> nic_factors;  // (GPU, factor): its NIC, both directions
  std::vector<long long> failed_nics;                     // NICs left out of the graph: routes avoid them
  bool faulty(long long gpu) const;                       // touched by a NIC fault
};

using LinkId = std::int64_t;

struct NoRoute : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};  // dense id of one direction of one link

struct Route {
  std::vector<LinkId> links;  // in order
  TimeNs latency_ns = 0;      // sum over links
  double bytes_per_s = 0;     // min over links (rate of a flow alone on it)
  // The transport of the route's fabric (intra_node inside a node, else
  // inter_node); null: none given. Owned by the ClusterSpec.
  const TransportProfile* transport = nullptr;
  const TransportProfile* all_to_all = nullptr;  // likewise, for all-to-all messages
};

// The rate cap of one flow carrying `message_bytes` on `route`: the route's
// transport_rate_cap (models/transport.hpp), +inf without a transport. The
// engine passes it to FlowNetwork::start_flow as the flow's own cap, so a
// message never moves faster than the deployment's transport moves it, even
// alone on an idle link.
// All-to-all messages (all_to_all_peers > 0: one of the messages each rank
// sends to its peers at once) take the route's all-to-all transport. A
// transport of pattern all-to-all states bus bandwidth per rank (nccl-tests'
// busbw) at B = (peers + 1) x message bytes per rank, so the collective takes
// T = transport_seconds(B) x peers / (peers + 1) (algbw = B / T x ...); its
// peers messages move in parallel, each capped at
//   message / (T - latency).
// A ring-step transport (no all-to-all one given) caps each message as above.
double flow_rate_cap_bytes_per_s(const Route& route, double message_bytes, int all_to_all_peers = 0);

class Topology {
 public:
  explicit Topology(const ClusterSpec& spec);
  ~Topology();
  Topology(Topology&&) noexcept;
  const ClusterSpec& spec() const { return spec_; }
  std::int64_t link_count() const;
  double link_bytes_per_s(LinkId) const;
  // Route src -> dst (src != dst); deterministic. Throws NoRoute when the
  // failed NICs cut dst off from src.
  Route route(long long src_gpu, long long dst_gpu) const;
  // The copy link of `gpu` (link id 4 * gpus + gpu), for transfers between
  // ranks sharing it; throws std::invalid_argument when the spec has none.
  Route loopback(long long gpu) const;

 private:
  struct Impl;  // holds the Boost adjacency_list and the per-class route cache
  ClusterSpec spec_;
  std::unique_ptr<Impl> impl_;
  LinkId first_pair_link() const;
  Route fresh_route(long long src_gpu, long long dst_gpu) const;   // Dijkstra, no cache
  Route cached_route(long long src_gpu, long long dst_gpu) const;  // by symmetry class
};

}  // namespace ringsim
