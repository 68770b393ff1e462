// Rings too large for a per-device array: link times kept as one period of
// the node size plus the wrap link, and the two exact modes that need no
// more (kFolded when the whole ring repeats with a period dividing it,
// kWalk otherwise; see sim/ring_walk.hpp). Memory and time do not grow with
// the ring: 244,140,625 devices take milliseconds. The ring is what the
// point's schedule lowers to (Plan::lower: a whole ring, no tail; pass-kv),
// and its memory what the plan states (Plan::peak_counts): neither its
// program nor the full topology is ever built (Schedule::check_periodic).
//
// The ring's link classes come from a small representative cluster with the
// same node size: two full nodes and a last node as large as the real one
// (2g + r GPUs, r = (P-1) % g + 1). Every link d -> d+1 of the real ring has
// the class (d % g, (d+1) % g, same node?) of one of its links, and every
// pair of adjacent links appears in it too, so its routes, times and
// link-disjointness carry over (a route only uses links of its own two GPUs,
// checked). One caveat: where an NVSwitch route and an InfiniBand route tie
// exactly in Dijkstra's weight, the representative cluster may break the tie
// differently than the full one would (never seen; rings up to 262,144 use
// the full topology, see ring_link_period).
#pragma once
#include <string>
#include <vector>

#include "models/scenario.hpp"
#include "sim/simulate.hpp"

namespace ringsim {

// kMaxFullRing (262,144, models/scenario.hpp): the largest ring whose full
// topology and per-device arrays ringsim builds.

struct RingLinkPeriod {
  std::vector<TimeNs> period_ns;  // link d -> d+1 (d < P-1) takes period_ns[d % g], g = gpus_per_node
  TimeNs wrap_ns = 0;             // link P-1 -> 0
  bool disjoint = true;           // no two ring transfers share a link
  std::string why;                // the shared link when not disjoint
};
// One GPU per rank (spec.copy_link unused). Rings up to kMaxFullRing read
// every route of the full topology and check they repeat with the node size.
RingLinkPeriod ring_link_period(const ClusterSpec& spec, long long ring_size, double bytes);
// The same from the small representative cluster, for any ring size (tests
// compare it with ring_link_period up to kMaxFullRing).
RingLinkPeriod ring_link_classes(const ClusterSpec& spec, long long ring_size, double bytes);

// Whether simulate_point hands the point to simulate_periodic: mode kWalk,
// or a ring above kMaxFullRing.
bool needs_periodic_path(const Point&, const SimOptions&);
// Throws std::invalid_argument, as simulate_periodic does first, when the
// point needs what the periodic paths do not model (ranks sharing a GPU,
// interference) or asks for mode event or recurrence above kMaxFullRing.
void check_modelled(const Scenario&, const Point&, const SimOptions&);
// Fills r's times from the ring `ring` lowers to (no tail): mode, makespan,
// slowest device and its compute, compute statistics, flops, events,
// threads (memory and the cost source are the caller's). Throws
// std::invalid_argument naming what the point needs that these modes do not
// model (ranks sharing a GPU, interference, shared links, mode event or
// recurrence above kMaxFullRing).
void simulate_periodic(const Scenario&, const Point&, const SimOptions&, const RingLowering& ring, PointResult& r);

}  // namespace ringsim
