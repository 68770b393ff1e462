// simulate_point: sets up the ring from a scenario point (blocks, costs once
// per distinct block, routes, buffer sizes) and dispatches to the event engine
// or to the exact fast paths. See sim/simulate.hpp for the modes.
#include "sim/simulate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "models/flow_network.hpp"
#include "sim/engine.hpp"
#include "sim/recurrence.hpp"
#include "sim/ring_program.hpp"

namespace ringsim {

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kAuto: return "auto";
    case Mode::kEvent: return "event";
    case Mode::kRecurrence: return "recurrence";
    case Mode::kFolded: return "folded";
  }
  return "?";
}

namespace {

void check_ring_point(const Scenario& scn, const Point& pt) {
  if (pt.ring_size < 1) throw std::invalid_argument(fmt::format("ring_size {} < 1", pt.ring_size));
  const long long parts = (scn.causal && scn.layout == Layout::kZigzag) ? 2 * pt.ring_size : pt.ring_size;
  if (pt.tokens < parts || pt.tokens % parts != 0) {
    throw std::invalid_argument(fmt::format("tokens {} is not a positive multiple of {} ({} chunks)",
                                            pt.tokens, parts, scn.layout == Layout::kZigzag && scn.causal
                                                                  ? "2 * ring_size zigzag" : "ring_size"));
  }
}

struct Setup {
  RingCosts costs;
  double bytes = 0;
  BufferSizes sizes;
};

void fill_event(const Scenario& scn, const Point& pt, const SimOptions& opt, const Topology& topo,
                const Setup& su, PointResult& r) {
  const long long rpg = ranks_per_gpu(scn, pt);
  RingProgram program(pt.ring_size, su.costs, su.bytes, su.sizes, /*masked_slots=*/rpg > 1);
  EngineOptions eo;
  if (opt.record_events) eo.event_log = opt.event_log;
  eo.trace = opt.trace;
  eo.ranks_per_gpu = rpg;
  eo.copy_compute_share = scn.profile.copy_compute_share;
  eo.link_compute_share = scn.profile.link_compute_share;
  eo.block_shares = has_interference(scn.profile);  // the program's computes carry their shares
  eo.progress = opt.progress;
  eo.total_waits = static_cast<std::uint64_t>(pt.ring_size) * static_cast<std::uint64_t>(pt.ring_size);
  EngineResult er = Engine(topo, program, pt.ring_size, eo).run();
  auto it = std::max_element(er.finish_ns.begin(), er.finish_ns.end());
  r.mode = Mode::kEvent;
  r.makespan_ns = *it;
  r.slowest_device = it - er.finish_ns.begin();
  r.slowest_compute_ns = er.compute_ns[r.slowest_device];
  // Ranks sharing a GPU share its memory: each has 1 / ranks_per_gpu of it.
  r.memory = memory_verdict(su.sizes, er.peak_set, er.peak_bytes,
                            scn.profile.memory_bytes / static_cast<double>(eo.ranks_per_gpu));
  r.events = er.events;
  if (opt.keep_finish_times) r.finish_ns = std::move(er.finish_ns);
  if (opt.progress) opt.progress(eo.total_waits, eo.total_waits);
}

void fill_fast(const Scenario& scn, const Point& pt, const SimOptions& opt, const RingLinks& links,
               Mode mode, const Setup& su, PointResult& r) {
  const long long ring = pt.ring_size;
  const long long n = mode == Mode::kFolded ? fold_period(su.costs, links.tx_ns, ring) : ring;
  RecurrenceResult rr = run_recurrence(su.costs, links.tx_ns, n, ring, opt.threads, opt.progress);
  r.mode = mode;
  r.makespan_ns = rr.makespan_ns;
  r.slowest_device = rr.slowest_device;  // in the first period: the lowest index overall
  r.slowest_compute_ns = su.costs.device_compute_ns(r.slowest_device, ring);
  r.memory = ring_memory(su.sizes, ring, scn.profile.memory_bytes);
  r.events = rr.nodes;
  r.threads = rr.threads;
  if (opt.keep_finish_times) {
    r.finish_ns.resize(ring);
    for (long long d = 0; d < ring; ++d) r.finish_ns[d] = rr.finish_ns[d % n];
  }
}

}  // namespace

PointResult simulate_point(const Scenario& scn, const Point& pt, const SimOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  check_ring_point(scn, pt);
  const long long ring = pt.ring_size;
  Topology topo(cluster_for(scn, pt));
  ComputeModel model(scn.profile, scn.shape);
  Setup su;
  su.bytes = ring_transfer_bytes(scn.shape, pt.tokens, ring);
  su.costs = ring_costs(model, ring_blocks(scn, pt.tokens, ring), su.bytes);
  su.sizes = buffer_sizes(scn.shape, pt.tokens / ring, pt.tokens / ring, scn.profile.reserved_memory_bytes);

  PointResult r;
  r.point = pt;
  r.compute_source = su.costs.source;
  r.device_steps = static_cast<std::uint64_t>(ring) * static_cast<std::uint64_t>(ring);
  // Shared GPUs and transfer/compute interference exist in the event engine only.
  const bool shared = ranks_per_gpu(scn, pt) > 1;
  const bool interference = has_interference(scn.profile);
  if ((shared || interference) && opt.mode != Mode::kEvent && opt.mode != Mode::kAuto) {
    throw std::invalid_argument(fmt::format(
        "mode {} models neither ranks sharing a GPU (ranks_per_gpu {}) nor transfers slowing compute "
        "(profile copy/link_compute_share, interference); use mode event", mode_name(opt.mode), ranks_per_gpu(scn, pt)));
  }
  if (opt.mode == Mode::kEvent || shared || interference) {
    fill_event(scn, pt, opt, topo, su, r);
  } else {
    RingLinks links = ring_links(topo, ring, su.bytes);
    if (!links.disjoint && opt.mode != Mode::kAuto) {
      throw std::invalid_argument(fmt::format(
          "mode {} needs the ring's transfers on pairwise link-disjoint routes, but {}; use mode event",
          mode_name(opt.mode), links.why));
    }
    if (!links.disjoint) {
      fill_event(scn, pt, opt, topo, su, r);
    } else {
      Mode mode = opt.mode;
      if (mode == Mode::kAuto) {
        mode = fold_period(su.costs, links.tx_ns, ring) < ring ? Mode::kFolded : Mode::kRecurrence;
      }
      fill_fast(scn, pt, opt, links, mode, su, r);
    }
  }
  r.slowest_exposed_comm_ns = r.makespan_ns - r.slowest_compute_ns;
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// The checks simulate_point makes before it dispatches, without simulating
// (tests/sim checks that the two agree on every mode).
void check_mode(const Scenario& scn, const Point& pt, Mode mode) {
  if (mode == Mode::kAuto || mode == Mode::kEvent) return;
  check_ring_point(scn, pt);
  if (ranks_per_gpu(scn, pt) > 1 || has_interference(scn.profile)) {
    throw std::invalid_argument(fmt::format(
        "mode {} models neither ranks sharing a GPU (ranks_per_gpu {}) nor transfers slowing compute "
        "(profile copy/link_compute_share, interference); use mode event", mode_name(mode), ranks_per_gpu(scn, pt)));
  }
  const Topology topo(cluster_for(scn, pt));
  const RingLinks links = ring_links(topo, pt.ring_size, ring_transfer_bytes(scn.shape, pt.tokens, pt.ring_size));
  if (!links.disjoint) {
    throw std::invalid_argument(fmt::format(
        "mode {} needs the ring's transfers on pairwise link-disjoint routes, but {}; use mode event",
        mode_name(mode), links.why));
  }
}

}  // namespace ringsim
