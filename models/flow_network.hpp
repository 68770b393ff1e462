// Flow-level network model: flows that share a link share its bandwidth
// max-min fairly (a flow's optional rate cap acts as a private link of that
// capacity); rates are recomputed when a flow starts or ends, only over the
// flows connected to it through shared links.
//
// Contract with the engine: the engine starts a flow when its transfer is
// matched, saying when its bytes start to flow (after the route's latency);
// the model answers, in due(), when each of its sources (a flow, or a pool of
// flows) needs a wake-up, and the engine calls complete(source, version)
// then. A source's later entry replaces its earlier one (whose version is
// then stale and is ignored). An entry is never later than what it stands
// for: when a rate drops, the entry already scheduled stays, and on that wake
// the model gives the new time (one wake, not one per change). The model
// never touches the event queue; it only says when to wake it.
//
// Cost per event, in four regimes (so the work is linear in events):
//   - a flow whose links are free from its start to its end, as known when
//     it is matched (every flow of a ring of separate GPUs), is reserved
//     then: one entry, at its completion; O(route links) to start and end.
//     Should another flow later want one of its links, it is met at that
//     flow's start: already flowing, it joins the sharing with its exact
//     state; not yet, it waits for its start like any other flow;
//   - a flow alone on its links when it starts: O(route links) likewise;
//   - flows whose route is one link they have to themselves as a group (the
//     copy link of a GPU its ranks share) form a pool: processor sharing at
//     min(cap, capacity / n) each, tracked by one served-bytes clock per pool,
//     O(log n) per start and end however many share the link;
//   - otherwise, progressive filling over the connected component (flows
//     that share links, transitively) of the flows that changed, once per
//     instant (settle(), below), however many flows start or end in it: an
//     all-to-all whose flows start together is one solve, not one per flow.
//     Filling takes the tightest link from a heap: O((links + flows x hops)
//     x log links) per solve, not links x bottlenecks.
//
// Exactness: a flow's remaining bytes and projected completion are touched
// only when its rate changes, so a flow whose rate never changes completes at
// start + transfer_time_ns(bytes, rate), the same expression the fast path
// uses; a pooled flow does when it joins an empty pool (and flows that join
// at the same nanosecond share it from the start). Reserving a flow changes
// no time: it completes as if it had started at its start.
#pragma once
#include <array>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

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
  // A completion source (2 x flow id for a flow, 2 x pool + 1 for a pool) is
  // due at time_ns; version tells this entry from the source's later ones.
  struct Due {
    TimeNs time_ns;
    std::uint32_t source;
    std::uint64_t version;
    bool start;  // a waiting flow's start: after the completions due at the same time
  };
  static constexpr TimeNs kStartNow = -1;

  explicit FlowNetwork(const Topology& topo);
  // A flow on `route` carrying `bytes`, known at `now_ns`, whose bytes start
  // to flow at start_ns (>= now_ns; kStartNow: now); returns its id.
  // rate_cap_bytes_per_s: the flow never runs faster, even alone on its links
  // (a transport's ceiling per message); kNoRateCap: the links alone decide.
  // Ids of finished flows are reused, so memory grows with the flows in
  // flight, not with all flows ever started (P^2 in a ring).
  FlowId start_flow(TimeNs now_ns, const Route& route, double bytes, std::uint64_t tag,
                    double rate_cap_bytes_per_s = kNoRateCap, TimeNs start_ns = kStartNow);
  // The wake-ups to schedule, added by start_flow and complete since the
  // caller last cleared the vector (the caller clears it).
  std::vector<Due>& due() { return due_; }
  // At a Due's time: starts a waiting flow, or completes what the source has
  // due now (appending the flows' tags to `done`), or, if its completion
  // moved later, adds a new Due; nothing if the version is stale.
  void complete(TimeNs now_ns, std::uint32_t source, std::uint64_t version, std::vector<std::uint64_t>& done);
  // The source's current completion, kTimeNever if none or if `version` is stale.
  TimeNs projection(std::uint32_t source, std::uint64_t version) const;
  // Shared links' rates are re-solved once per instant: start_flow and
  // complete note the flows and links that changed, and settle() re-solves
  // max-min over their components and adds the Dues. Call it before time
  // moves past the instant (the engine: before it pops a later event);
  // start_flow and complete at a later time throw std::logic_error while
  // unsettled. A rate that holds for no time moves no byte, so the times are
  // those of re-solving at every change, except that a rate which changes
  // and changes back within the instant keeps its projection (not re-rounded).
  bool unsettled() const { return !pending_flows_.empty() || !pending_links_.empty(); }
  void settle();
  TimeNs now_ns() const { return now_ns_; }  // the instant of the last call
  std::size_t active_flows() const { return active_; }
  double flow_rate(FlowId) const;  // bytes/s now; for tests

 private:
  struct Hop {  // one link of a general flow's route, and its place in that link's list
    LinkId link;
    FlowId prev, next;  // neighbours among the link's general flows; -1 at the ends
  };
  struct Wake {                  // a completion source's schedule
    TimeNs done_ns = kTimeNever;  // its completion as the model projects it now
    TimeNs woken_ns = kTimeNever; // time of its live Due (<= done_ns), kTimeNever if none
    std::uint64_t version = 0;    // of its live Due; only ever grows
  };
  struct Flow {
    std::uint64_t tag = 0;
    Wake wake;                         // general flows; a waiting flow's start
    std::vector<Hop> hops;             // its route's links (a pooled flow has none); linked when on them
    double cap_bytes_per_s = kNoRateCap;
    double route_bytes_per_s = 0;      // its route's rate alone
    TimeNs start_ns = 0;               // waiting or reserved: when its bytes start to flow
    bool waiting = false;              // before start_ns, on no link's list: a Due at start_ns
    bool reserved = false;             // on its links from when it was matched, alone on them
                                       // from start_ns to its end (untouched until another comes)
    double remaining_bytes = 0;        // general: as of last_ns, floored at 0
    double rate = 0;                   // general: bytes/s since last_ns
    TimeNs last_ns = 0;                // general: wake.done_ns = last_ns + transfer_time_ns(remaining_bytes, rate)
    std::int32_t pool = -1;            // pooled: its pool
    std::uint32_t mark = 0;            // component search: visited when == stamp_
    double new_rate = 0;               // progressive filling: frozen rate, < 0 while unfrozen
    bool active = false;
  };
  struct Link {
    FlowId head = -1;          // first general flow on it
    std::int32_t count = 0;    // general flows on it
    std::int32_t reserved = 0;  // of which reserved (meet_reserved skips a link without)
    std::int32_t pool = -1;    // its pool (then count == 0), or -1
    std::uint32_t mark = 0;    // component search: visited when == stamp_
    std::int32_t local = 0;    // index into the filling's scratch arrays
    bool pending = false;      // in pending_links_
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
    Wake wake;                            // when the smallest target is reached
    std::vector<std::pair<double, FlowId>> targets;  // min-heap of (served bytes when done, id)
  };

  const Topology& topo_;
  std::vector<Flow> flows_;         // by id; finished slots are reused
  std::vector<FlowId> free_ids_;    // finished slots, reused last-in first-out
  std::vector<Link> links_;         // by LinkId
  std::vector<Pool> pools_;         // by pool index; free ones reused
  std::vector<std::int32_t> free_pools_;
  std::vector<Due> due_;
  std::size_t active_ = 0;
  TimeNs now_ns_ = 0;
  struct TransferMemo {
    double bytes = -1, bytes_per_s = 0;
    TimeNs ns = 0;
  };
  std::array<TransferMemo, 4> memo_;  // lone_transfer_ns's last pairs
  unsigned memo_next_ = 0;
  // What changed in this instant, for settle(): general flows that started
  // sharing a link, and links a flow left.
  std::vector<FlowId> pending_flows_;
  std::vector<LinkId> pending_links_;
  // Scratch of the component search and filling, kept to avoid allocation.
  std::uint32_t stamp_ = 0;
  std::vector<FlowId> seeds_, component_, capped_;
  std::vector<LinkId> component_links_;
  std::vector<double> capacity_;
  std::vector<std::int32_t> unfrozen_;
  std::vector<std::pair<double, std::int32_t>> shares_;  // min-heap of (fair share, local link)

  // A free slot of `slots` (the last freed one), or a new one at the end.
  template <class T, class Id>
  static Id take_slot(std::vector<T>& slots, std::vector<Id>& free) {
    if (free.empty()) {
      slots.emplace_back();
      return static_cast<Id>(slots.size() - 1);
    }
    const Id id = free.back();
    free.pop_back();
    return id;
  }
  static std::uint32_t flow_source(FlowId id) { return static_cast<std::uint32_t>(2 * id); }
  static std::uint32_t pool_source(std::int32_t p) { return static_cast<std::uint32_t>(2 * p + 1); }
  FlowId next_on(FlowId id, LinkId link) const;
  void link_hop(FlowId id, std::size_t hop);  // onto the front of the hop's link's list
  void link_in(FlowId id);                    // every hop
  void unlink(FlowId id);
  bool free_from(const Flow& f, TimeNs start_ns) const;
  void reserve(FlowId id, TimeNs start_ns);
  void wait(FlowId id, TimeNs start_ns);
  void begin(TimeNs now_ns, FlowId id);
  void meet_reserved(TimeNs now_ns, const Flow& f);
  void mark_reserved(Flow& f, bool reserved) {  // keeps the links' counts
    if (f.reserved == reserved) return;
    f.reserved = reserved;
    for (const Hop& hop : f.hops) links_[static_cast<std::size_t>(hop.link)].reserved += reserved ? 1 : -1;
  }
  bool alone_on(const Flow& f) const;
  void start_alone(TimeNs now_ns, FlowId id);
  // transfer_time_ns, remembered for the last few (bytes, rate) pairs: the
  // flows of a ring repeat one message size over one or two kinds of route.
  TimeNs lone_transfer_ns(double bytes, double bytes_per_s) {
    for (const TransferMemo& m : memo_) {
      if (m.bytes == bytes && m.bytes_per_s == bytes_per_s) return m.ns;
    }
    return remember_transfer_ns(bytes, bytes_per_s);
  }
  TimeNs remember_transfer_ns(double bytes, double bytes_per_s);
  void start_general(TimeNs now_ns, FlowId id);
  void reproject(Wake& wake, std::uint32_t source, TimeNs done_ns);
  // The live schedule of a source: an active flow's, or a pool's with members.
  Wake* wake_of(std::uint32_t source) {
    const std::size_t i = source / 2;
    if (source % 2 == 0) return i < flows_.size() && flows_[i].active ? &flows_[i].wake : nullptr;
    return i < pools_.size() && !pools_[i].targets.empty() ? &pools_[i].wake : nullptr;
  }
  [[noreturn]] static void refuse_flow(double bytes, double rate_cap_bytes_per_s, TimeNs start_ns, TimeNs now_ns);
  // Time moves on to now_ns: refuses an unsettled instant left behind.
  void advance(TimeNs now_ns) {
    if (now_ns > now_ns_ && unsettled()) refuse_unsettled(now_ns);
    now_ns_ = now_ns;
  }
  [[noreturn]] void refuse_unsettled(TimeNs now_ns) const;
  void complete_flow(FlowId id, std::vector<std::uint64_t>& done);
  void release(Flow& f, FlowId id, std::vector<std::uint64_t>& done);
  void recompute_rates(TimeNs now_ns);  // over the component of seeds_
  void collect_component();
  void fill_max_min();
  // Filling: the tightest link with unfrozen flows (-1: none) and its share;
  // entries whose share is no longer the link's are dropped on the way.
  std::int32_t tightest_link(double& share);
  void freeze(Flow& f, double rate);
  void set_rate(Flow& f, FlowId id, double rate, TimeNs now_ns);
  // Pools (models/flow_pool.cpp).
  bool try_pool(TimeNs now_ns, FlowId id);
  void pool_alone_flow(LinkId link);
  std::int32_t new_pool(LinkId link, double cap_bytes_per_s, TimeNs since_ns);
  void join_pool(TimeNs now_ns, FlowId id, LinkId link, double bytes);
  void rerate_pool(std::int32_t p, TimeNs now_ns);
  TimeNs pool_projection(const Pool& pool, double target) const;
  void complete_pool(std::int32_t p, TimeNs t, std::vector<std::uint64_t>& done);
  void dissolve_pool(LinkId link);
};

}  // namespace ringsim
