// Topology: Boost.Graph of GPUs, one NVSwitch per node and one IB switch;
// routes by Dijkstra, cached per symmetry class. See topology.hpp.
//
// Vertices: [0, gpus) GPUs, then one NVSwitch per node, then the IB switch.
// Link ids (one per directed edge): 4g+0 gpu g -> its NVSwitch, 4g+1 NVSwitch
// -> g, 4g+2 g -> IB switch, 4g+3 IB switch -> g. A link of zero bandwidth
// is left out of the graph (its id stays reserved). With a copy link, ids
// 4*gpus + g are the GPUs' loopbacks (ranks sharing a GPU); never routed
// through the graph, only returned by loopback().
//
// Edge weight: (latency_ns + ns to carry 1 MiB at the link's rate, hops), so a
// faster link wins even at equal latency and ties go to fewer hops. Between
// GPUs of one node Dijkstra runs on the NVSwitch edges alone (a filtered
// graph) when the node has them: a NIC never carries its own node's traffic.
// Cost at 262,144 GPUs (measured, g++ 12 -O2, this dev box): build 0.11 s and
// +47 MB resident for ~1.05 M edges; routing every ring neighbour 0.14 s, since
// only the few classes a ring needs run Dijkstra (O(V) each for its maps).
#include "models/topology.hpp"

#include <fmt/format.h>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/graph/filtered_graph.hpp>
#include <boost/pool/singleton_pool.hpp>
#include <boost/property_map/function_property_map.hpp>

#include <algorithm>
#include <cassert>
#include <new>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>

namespace ringsim {

namespace {

enum LinkKind { kToNvSwitch = 0, kFromNvSwitch = 1, kToIb = 2, kFromIb = 3 };
constexpr double kWeightBytes = 1048576.0;  // 1 MiB

// adjacency_list heap-allocates every edge's bundled property with `new`;
// a pool of 8-byte chunks instead of 32-byte malloc chunks takes a
// 262,144-GPU graph (1.05 M edges) from ~75 MB to ~47 MB resident.
struct EdgePoolTag {};
struct EdgeProps {
  LinkId link;
  using Pool = boost::singleton_pool<EdgePoolTag, sizeof(LinkId)>;
  static void* operator new([[maybe_unused]] std::size_t size) {
    assert(size == sizeof(LinkId));
    void* p = Pool::malloc();
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  static void operator delete(void* p) { Pool::free(p); }
};
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property, EdgeProps>;
using Vertex = boost::graph_traits<Graph>::vertex_descriptor;
using Edge = boost::graph_traits<Graph>::edge_descriptor;

struct Cost {
  double weight_ns;
  long long hops;
};
bool operator<(const Cost& a, const Cost& b) { return std::tie(a.weight_ns, a.hops) < std::tie(b.weight_ns, b.hops); }

struct Settled {};  // thrown to stop Dijkstra once dst is settled

struct StopAt : boost::default_dijkstra_visitor {
  Vertex target;
  explicit StopAt(Vertex t) : target(t) {}
  template <typename G>
  void examine_vertex(Vertex u, const G&) const {
    if (u == target) throw Settled{};
  }
};

// Keeps a node's traffic on its fabric: only the NVSwitch edges.
struct NodeFabricOnly {
  const Graph* graph = nullptr;
  bool operator()(const Edge& e) const {
    const int kind = static_cast<int>((*graph)[e].link % 4);
    return kind == kToNvSwitch || kind == kFromNvSwitch;
  }
};

// A cached route: each link as (kind, owned by the source GPU?).
struct ClassRoute {
  std::vector<std::pair<LinkKind, bool>> links;
  TimeNs latency_ns = 0;
  double bytes_per_s = 0;
};

}  // namespace

struct Topology::Impl {
  explicit Impl(std::size_t vertices) : graph(vertices) {}
  Graph graph;
  std::vector<double> pair_bytes_per_s;  // capacity of each ClusterSpec::pair_factors link
  std::mutex mutex;  // guards the cache: route() may be called from several threads
  std::map<std::tuple<long long, long long, bool>, ClassRoute> cache;
};

Topology::Topology(const ClusterSpec& spec) : spec_(spec) {
  if (spec.gpus < 1) throw std::invalid_argument(fmt::format("topology needs at least 1 GPU, got {}", spec.gpus));
  if (spec.gpus_per_node < 1) {
    throw std::invalid_argument(fmt::format("gpus_per_node must be positive, got {}", spec.gpus_per_node));
  }
  const long long nodes = (spec.gpus + spec.gpus_per_node - 1) / spec.gpus_per_node;
  const Vertex ib = static_cast<Vertex>(spec.gpus + nodes);
  impl_ = std::make_unique<Impl>(static_cast<std::size_t>(ib + 1));
  Graph& g = impl_->graph;
  for (long long gpu = 0; gpu < spec.gpus; ++gpu) {
    const Vertex v = static_cast<Vertex>(gpu);
    const Vertex nvs = static_cast<Vertex>(spec.gpus + gpu / spec.gpus_per_node);
    if (spec.intra_node.bytes_per_s > 0) {
      boost::add_edge(v, nvs, EdgeProps{4 * gpu + kToNvSwitch}, g);
      boost::add_edge(nvs, v, EdgeProps{4 * gpu + kFromNvSwitch}, g);
    }
    const bool failed = std::find(spec.failed_nics.begin(), spec.failed_nics.end(), gpu) != spec.failed_nics.end();
    if (spec.inter_node.bytes_per_s > 0 && !failed) {
      boost::add_edge(v, ib, EdgeProps{4 * gpu + kToIb}, g);
      boost::add_edge(ib, v, EdgeProps{4 * gpu + kFromIb}, g);
    }
  }
  // A degraded pair runs at factor x the rate its route had without it.
  for (const ClusterSpec::PairFactor& p : spec.pair_factors) {
    impl_->pair_bytes_per_s.push_back(0);  // not yet on any route while it is measured
    impl_->pair_bytes_per_s.back() = fresh_route(p.from_gpu, p.to_gpu).bytes_per_s * p.factor;
  }
}

bool ClusterSpec::faulty(long long gpu) const {
  const auto nic = [&](const auto& f) { return f.first == gpu; };
  return std::find(failed_nics.begin(), failed_nics.end(), gpu) != failed_nics.end() ||
         std::any_of(nic_factors.begin(), nic_factors.end(), nic);
}

LinkId Topology::first_pair_link() const { return 4 * spec_.gpus + (spec_.copy_link.bytes_per_s > 0 ? spec_.gpus : 0); }

Topology::~Topology() = default;
Topology::Topology(Topology&&) noexcept = default;

std::int64_t Topology::link_count() const {
  return first_pair_link() + static_cast<LinkId>(spec_.pair_factors.size());
}

namespace {
const LinkSpec& link_spec(const ClusterSpec& spec, LinkId link) {
  const int kind = static_cast<int>(link % 4);
  return kind == kToNvSwitch || kind == kFromNvSwitch ? spec.intra_node : spec.inter_node;
}
TimeNs link_latency_ns(const ClusterSpec& spec, LinkId link) {
  const int kind = static_cast<int>(link % 4);
  return kind == kToNvSwitch || kind == kToIb ? link_spec(spec, link).latency_ns : 0;
}
// The transport of a route's fabric: inside a node its switch (when it has
// one; otherwise the NIC carries the traffic), else the inter-node network.
const LinkSpec& fabric_of(const ClusterSpec& spec, bool same_node) {
  return same_node && spec.intra_node.bytes_per_s > 0 ? spec.intra_node : spec.inter_node;
}
const TransportProfile* transport_of(const ClusterSpec& spec, bool same_node) {
  return fabric_of(spec, same_node).transport.get();
}
const TransportProfile* all_to_all_of(const ClusterSpec& spec, bool same_node) {
  const LinkSpec& fabric = fabric_of(spec, same_node);
  return fabric.all_to_all ? fabric.all_to_all.get() : fabric.transport.get();
}

}  // namespace

double flow_rate_cap_bytes_per_s(const Route& route, double message_bytes, int all_to_all_peers) {
  const TransportProfile* a2a = all_to_all_peers > 0 ? route.all_to_all : nullptr;
  if (a2a && a2a->pattern == "all-to-all") {
    const double peers = all_to_all_peers;
    const double seconds = transport_seconds(*a2a, message_bytes * (peers + 1)) * peers / (peers + 1);
    const double payload_s = seconds - a2a->latency_s;
    return payload_s > 0 ? message_bytes / payload_s : std::numeric_limits<double>::infinity();
  }
  const TransportProfile* t = a2a ? a2a : route.transport;
  return t ? transport_rate_cap(*t, message_bytes) : std::numeric_limits<double>::infinity();
}

double Topology::link_bytes_per_s(LinkId link) const {
  if (link < 0 || link >= link_count()) throw std::invalid_argument(fmt::format("link id {} out of range", link));
  if (link >= first_pair_link()) return impl_->pair_bytes_per_s[static_cast<std::size_t>(link - first_pair_link())];
  if (link >= 4 * spec_.gpus) return spec_.copy_link.bytes_per_s;
  const int kind = static_cast<int>(link % 4);
  double rate = link_spec(spec_, link).bytes_per_s;
  if (kind == kToIb || kind == kFromIb)
    for (const auto& [gpu, factor] : spec_.nic_factors)
      if (gpu == link / 4) rate *= factor;
  return rate;
}

namespace {

template <typename G>
std::vector<LinkId> dijkstra_links(const G& g, const Graph& base, const ClusterSpec& spec, Vertex src, Vertex dst) {
  const std::size_t n = boost::num_vertices(base);
  std::vector<Vertex> pred(n);
  std::vector<Cost> dist(n);
  const auto weight = boost::make_function_property_map<Edge, Cost>([&](const Edge& e) {
    const LinkId link = base[e].link;
    const LinkSpec& ls = link_spec(spec, link);
    return Cost{static_cast<double>(link_latency_ns(spec, link)) + kWeightBytes / ls.bytes_per_s * kNsPerSecond, 1};
  });
  const auto combine = [](const Cost& a, const Cost& b) { return Cost{a.weight_ns + b.weight_ns, a.hops + b.hops}; };
  try {
    boost::dijkstra_shortest_paths(
        g, src,
        boost::predecessor_map(pred.data())
            .distance_map(dist.data())
            .weight_map(weight)
            .distance_compare(std::less<Cost>())
            .distance_combine(combine)
            .distance_inf(Cost{std::numeric_limits<double>::infinity(), std::numeric_limits<long long>::max()})
            .distance_zero(Cost{0, 0})
            .visitor(StopAt(dst)));
  } catch (const Settled&) {
    std::vector<LinkId> links;
    for (Vertex v = dst; v != src; v = pred[v]) {
      // Several parallel edges never exist, so the edge pred[v] -> v is unique.
      links.push_back(base[boost::edge(pred[v], v, base).first].link);
    }
    std::reverse(links.begin(), links.end());
    return links;
  }
  throw NoRoute("no route: a failed NIC or a link of zero bandwidth cuts the GPUs apart");
}

}  // namespace

Route Topology::route(long long src_gpu, long long dst_gpu) const {
  if (src_gpu == dst_gpu) throw std::invalid_argument(fmt::format("route from GPU {} to itself", src_gpu));
  if (src_gpu < 0 || dst_gpu < 0 || src_gpu >= spec_.gpus || dst_gpu >= spec_.gpus) {
    throw std::invalid_argument(fmt::format("route {} -> {} out of range (gpus = {})", src_gpu, dst_gpu, spec_.gpus));
  }
  Route r;
  if (spec_.faulty(src_gpu) || spec_.faulty(dst_gpu)) {
    try {
      r = fresh_route(src_gpu, dst_gpu);  // a faulty GPU's routes do not re-target by symmetry
    } catch (const NoRoute& e) {
      throw NoRoute(fmt::format("no route from GPU {} to GPU {}: its NIC failed and {}", src_gpu, dst_gpu,
                                spec_.intra_node.bytes_per_s > 0 && spec_.gpus_per_node > 1
                                    ? "no GPU of its node has a working NIC to reroute through"
                                    : "the topology has no node fabric to reroute through"));
    }
  } else {
    r = cached_route(src_gpu, dst_gpu);
  }
  for (std::size_t i = 0; i < spec_.pair_factors.size() && i < impl_->pair_bytes_per_s.size(); ++i) {
    const ClusterSpec::PairFactor& p = spec_.pair_factors[i];
    if (p.from_gpu != src_gpu || p.to_gpu != dst_gpu) continue;
    r.links.push_back(first_pair_link() + static_cast<LinkId>(i));
    r.bytes_per_s = std::min(r.bytes_per_s, impl_->pair_bytes_per_s[i]);
  }
  return r;
}

Route Topology::cached_route(long long src_gpu, long long dst_gpu) const {
  const long long gpn = spec_.gpus_per_node;
  const auto key = std::make_tuple(src_gpu % gpn, dst_gpu % gpn, src_gpu / gpn == dst_gpu / gpn);
  const auto retarget = [&](const ClassRoute& c) {
    Route r{{}, c.latency_ns, c.bytes_per_s, transport_of(spec_, std::get<2>(key)),
            all_to_all_of(spec_, std::get<2>(key))};
    for (const auto& [kind, at_src] : c.links) r.links.push_back(4 * (at_src ? src_gpu : dst_gpu) + kind);
    return r;
  };
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (const auto it = impl_->cache.find(key); it != impl_->cache.end()) return retarget(it->second);
  Route r = fresh_route(src_gpu, dst_gpu);
  ClassRoute c;
  bool cacheable = true;
  for (const LinkId link : r.links) {
    const long long owner = link / 4;
    cacheable = cacheable && (owner == src_gpu || owner == dst_gpu);
    c.links.emplace_back(static_cast<LinkKind>(link % 4), owner == src_gpu);
  }
  c.latency_ns = r.latency_ns;
  c.bytes_per_s = r.bytes_per_s;
  // Shortest paths never pass through a third GPU (that only adds links); if
  // one ever did, the route would not re-target by symmetry, so it is not cached.
  if (cacheable) impl_->cache.emplace(key, std::move(c));
  return r;
}

Route Topology::fresh_route(long long src_gpu, long long dst_gpu) const {
  Route r;
  const Graph& g = impl_->graph;
  const bool same_node = src_gpu / spec_.gpus_per_node == dst_gpu / spec_.gpus_per_node;
  if (same_node && spec_.intra_node.bytes_per_s > 0) {
    const boost::filtered_graph<Graph, NodeFabricOnly> fabric(g, NodeFabricOnly{&g});
    r.links = dijkstra_links(fabric, g, spec_, static_cast<Vertex>(src_gpu), static_cast<Vertex>(dst_gpu));
  } else {
    r.links = dijkstra_links(g, g, spec_, static_cast<Vertex>(src_gpu), static_cast<Vertex>(dst_gpu));
  }
  r.transport = transport_of(spec_, same_node);
  r.all_to_all = all_to_all_of(spec_, same_node);
  r.bytes_per_s = std::numeric_limits<double>::infinity();
  for (const LinkId link : r.links) {
    r.latency_ns = checked_add_ns(r.latency_ns, link_latency_ns(spec_, link));
    r.bytes_per_s = std::min(r.bytes_per_s, link_bytes_per_s(link));
  }
  return r;
}

Route Topology::loopback(long long gpu) const {
  if (gpu < 0 || gpu >= spec_.gpus) {
    throw std::invalid_argument(fmt::format("loopback of GPU {} out of range (gpus = {})", gpu, spec_.gpus));
  }
  if (spec_.copy_link.bytes_per_s <= 0) {
    throw std::invalid_argument(fmt::format("GPU {} has no copy link (ranks sharing a GPU need one)", gpu));
  }
  return Route{{4 * spec_.gpus + gpu}, spec_.copy_link.latency_ns, spec_.copy_link.bytes_per_s,
               spec_.copy_link.transport.get()};
}

}  // namespace ringsim
