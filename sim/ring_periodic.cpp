// Rings described by one period of link times (see sim/ring_periodic.hpp).
#include "sim/ring_periodic.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "sim/recurrence.hpp"
#include "sim/ring_walk.hpp"

namespace ringsim {
namespace {

// kFolded evaluates period * ring_size device-steps (about 1.3e9 a second);
// above this it is slower than it is worth next to kWalk.
constexpr double kMaxFoldDeviceSteps = 4e10;

// Each route of the ring on `gpus` GPUs must only use links of its own two
// GPUs (link id / 4, models/topology.cpp), which is what lets the routes of a
// small ring stand for those of a large one.
void check_route_owners(const Topology& topo, long long gpus, RingLinkPeriod& out) {
  for (long long d = 0; d < gpus && out.disjoint; ++d) {
    const long long next = (d + 1) % gpus;
    for (LinkId link : topo.route(d, next).links) {
      if (link / 4 == d || link / 4 == next) continue;
      out.disjoint = false;
      out.why = fmt::format("the route {}->{} passes through GPU {}", d, next, link / 4);
    }
  }
}

// The ring on `gpus` GPUs, read into one period and the wrap link.
RingLinkPeriod read_period(const ClusterSpec& spec, long long gpus, double bytes) {
  ClusterSpec small = spec;
  small.gpus = gpus;
  const Topology topo(small);
  RingLinks links = ring_links(topo, gpus, bytes);
  RingLinkPeriod out;
  const long long g = spec.gpus_per_node;
  out.period_ns.assign(static_cast<std::size_t>(g), 0);
  for (long long d = 0; d < gpus - 1; ++d) {
    TimeNs& slot = out.period_ns[static_cast<std::size_t>(d % g)];
    if (d < g) slot = links.tx_ns[d];
    else if (slot != links.tx_ns[d])
      throw std::logic_error(fmt::format("link {}->{} takes {} ns, link {}->{} {} ns: not periodic in the node size",
                                         d, d + 1, links.tx_ns[d], d % g, d % g + 1, slot));
  }
  out.wrap_ns = links.tx_ns[gpus - 1];
  out.disjoint = links.disjoint;
  out.why = links.why;
  return out;
}

// Smallest p dividing P such that the ring's link times repeat with period
// p, with at most kMaxFoldDeviceSteps / P devices; 0 if there is none.
long long periodic_fold(const RingLinkPeriod& links, long long ring) {
  const long long g = static_cast<long long>(links.period_ns.size());
  auto tx = [&](long long d) { return d == ring - 1 ? links.wrap_ns : links.period_ns[static_cast<std::size_t>(d % g)]; };
  const long long max_p = static_cast<long long>(kMaxFoldDeviceSteps / static_cast<double>(ring));
  for (long long p = 1; p <= max_p && p < ring; ++p) {
    if (ring % p != 0) continue;
    // The wrap link is where a period that fits the nodes breaks: test it first.
    bool periodic = tx(ring - 1) == tx(p - 1) && tx(ring - 1 - p) == tx(ring - 1);
    for (long long d = 0; d < ring && periodic; ++d) periodic = tx(d) == tx((d + p) % ring);
    if (periodic) return p;
  }
  return 0;
}

void fill_walk(const RingCosts& costs, const RingLinkPeriod& links, long long ring, PointResult& r) {
  RingWalkInput in{ring, costs.diagonal_ns, costs.lower_ns, costs.upper_ns, links.period_ns, links.wrap_ns};
  const RingWalkResult w = ring_walk(in);
  r.mode = Mode::kWalk;
  r.makespan_ns = w.makespan_ns;
  r.slowest_device = w.last_device;
  r.slowest_is_lowest_index = false;
  r.bound_tight = w.bound_tight;
  r.events = w.walks;
}

void fill_folded(const RingCosts& costs, const RingLinkPeriod& links, long long ring, long long p,
                 const SimOptions& opt, PointResult& r) {
  std::vector<TimeNs> tx(static_cast<std::size_t>(p));
  for (long long d = 0; d < p; ++d)
    tx[d] = d == ring - 1 ? links.wrap_ns : links.period_ns[static_cast<std::size_t>(d % links.period_ns.size())];
  RecurrenceResult rr = run_recurrence(costs, tx, p, ring, opt.threads, opt.progress);
  r.mode = Mode::kFolded;
  r.makespan_ns = rr.makespan_ns;
  r.slowest_device = rr.slowest_device;  // in the first period: the lowest index overall
  r.events = rr.nodes;
  r.threads = rr.threads;
  if (opt.keep_finish_times && ring <= kMaxFullRing) {
    r.finish_ns.resize(static_cast<std::size_t>(ring));
    for (long long d = 0; d < ring; ++d) r.finish_ns[d] = rr.finish_ns[d % p];
  }
}

}  // namespace

void check_modelled(const Scenario& scn, const Point& pt, const SimOptions& opt) {
  const long long rpg = ranks_per_gpu(scn, pt);
  const char* needs = rpg > 1 ? "ranks sharing a GPU (ranks_per_gpu > 1)"
                      : has_interference(scn.profile) ? "transfers slowing compute (profile interference)"
                                                       : nullptr;
  const bool large = pt.ring_size > kMaxFullRing;
  if (needs) {
    throw std::invalid_argument(fmt::format(
        "{} needs the event engine, which {}", needs,
        large ? fmt::format("takes rings of at most {} devices (ring_size {})", kMaxFullRing, pt.ring_size)
              : std::string("mode walk does not replace: use mode auto or event")));
  }
  if (large && (opt.mode == Mode::kEvent || opt.mode == Mode::kRecurrence)) {
    throw std::invalid_argument(fmt::format("mode {} takes rings of at most {} devices (ring_size {}); "
                                            "use mode auto, folded or walk",
                                            mode_name(opt.mode), kMaxFullRing, pt.ring_size));
  }
}

RingLinkPeriod ring_link_classes(const ClusterSpec& spec, long long ring, double bytes) {
  const long long g = spec.gpus_per_node;
  if (ring <= 3 * g) return read_period(spec, ring, bytes);  // no smaller cluster holds every class
  const long long small = 2 * g + (ring - 1) % g + 1;        // two full nodes and the real last node
  RingLinkPeriod out = read_period(spec, small, bytes);
  ClusterSpec small_spec = spec;
  small_spec.gpus = small;
  check_route_owners(Topology(small_spec), small, out);
  return out;
}

RingLinkPeriod ring_link_period(const ClusterSpec& spec, long long ring, double bytes) {
  if (ring == 1) return RingLinkPeriod{std::vector<TimeNs>(static_cast<std::size_t>(spec.gpus_per_node), 0), 0, true, ""};
  return ring <= kMaxFullRing ? read_period(spec, ring, bytes) : ring_link_classes(spec, ring, bytes);
}

bool needs_periodic_path(const Point& pt, const SimOptions& opt) {
  return opt.mode == Mode::kWalk || pt.ring_size > kMaxFullRing;
}

void simulate_periodic(const Scenario& scn, const Point& pt, const SimOptions& opt, const RingLowering& low,
                       PointResult& r) {
  check_modelled(scn, pt, opt);
  const long long ring = low.ring_size;
  const RingCosts& costs = low.costs;
  const RingLinkPeriod links = ring_link_period(cluster_for(scn, pt), ring, low.bytes);
  if (!links.disjoint) {
    throw std::invalid_argument(fmt::format("modes folded and walk need the ring's transfers on pairwise "
                                            "link-disjoint routes, but {}", links.why));
  }
  const long long fold = opt.mode == Mode::kWalk || !costs.uniform() ? 0 : periodic_fold(links, ring);
  if (opt.mode == Mode::kFolded && fold == 0) {
    throw std::invalid_argument(fmt::format("mode folded needs a non-causal ring whose link times repeat with a "
                                            "period dividing ring_size {} (at most {:.0e} device-steps); use "
                                            "mode auto or walk", ring, kMaxFoldDeviceSteps));
  }
  if (fold > 0) fill_folded(costs, links, ring, fold, opt, r);
  else fill_walk(costs, links, ring, r);
  if (opt.progress) opt.progress(r.device_steps, r.device_steps);
  r.slowest_compute_ns = costs.device_compute_ns(r.slowest_device, ring);
  r.max_compute_ns = costs.max_device_compute_ns(ring);
  r.mean_compute_ns = costs.mean_device_compute_ns(ring);
  r.total_flops = low.total_flops();
}

}  // namespace ringsim
