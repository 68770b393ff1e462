// Drives a FlowNetwork as the engine does, for tests: its Due entries are
// kept and woken in (time, order given) order, and the network settles
// before time moves on (or, with settle_every_change, after every start and
// wake: max-min re-solved per change, the second implementation the
// once-per-instant solve is tested against). next_completion_ns and
// flow_rate settle first, then read as the network's own clock would.
#pragma once
#include <algorithm>
#include <tuple>
#include <vector>

#include "models/flow_network.hpp"

namespace ringsim::test {

class FlowDriver {
 public:
  explicit FlowDriver(const Topology& topo, bool settle_every_change = false)
      : net_(topo), every_change_(settle_every_change) {}
  FlowId start_flow(TimeNs now_ns, const Route& route, double bytes, std::uint64_t tag,
                    double cap_bytes_per_s = kNoRateCap, TimeNs start_ns = FlowNetwork::kStartNow) {
    if (now_ns > net_.now_ns()) settle();
    const FlowId id = net_.start_flow(now_ns, route, bytes, tag, cap_bytes_per_s, start_ns);
    if (every_change_) net_.settle();
    take();
    return id;
  }
  // The earliest completion among the live entries' sources.
  TimeNs next_completion_ns() {
    settle();
    TimeNs first = kTimeNever;
    for (const Entry& e : entries_) first = std::min(first, net_.projection(e.due.source, e.due.version));
    return first;
  }
  // Wakes the network at every entry due by now_ns, in order (at equal times
  // completions before starts, as the engine's bands do); returns the tags completed.
  std::vector<std::uint64_t> advance_to(TimeNs now_ns) {
    std::vector<std::uint64_t> done;
    advance_to(now_ns, done);
    return done;
  }
  void advance_to(TimeNs now_ns, std::vector<std::uint64_t>& done) {
    for (;;) {
      const auto first = std::min_element(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
        return std::tie(a.due.time_ns, a.due.start, a.order) < std::tie(b.due.time_ns, b.due.start, b.order);
      });
      if (net_.unsettled() && (first == entries_.end() || first->due.time_ns > net_.now_ns())) {
        settle();
        continue;
      }
      if (first == entries_.end() || first->due.time_ns > now_ns) return;
      const FlowNetwork::Due due = first->due;
      entries_.erase(first);
      const std::size_t before = done.size();
      net_.complete(due.time_ns, due.source, due.version, done);
      if (every_change_) net_.settle();
      for (std::size_t i = before; i < done.size(); ++i) {
        if (done[i] >= end_ns_.size()) end_ns_.resize(done[i] + 1, -1);
        end_ns_[done[i]] = due.time_ns;
      }
      take();
    }
  }
  double flow_rate(FlowId id) {
    settle();
    return net_.flow_rate(id);
  }
  std::size_t active_flows() const { return net_.active_flows(); }
  std::size_t entries() const { return entries_.size(); }
  // When each tag completed (-1: not yet), for tags used as small indices.
  TimeNs end_ns(std::uint64_t tag) const { return tag < end_ns_.size() ? end_ns_[tag] : -1; }

 private:
  struct Entry {
    FlowNetwork::Due due;
    std::uint64_t order;
  };
  FlowNetwork net_;
  std::vector<Entry> entries_;
  std::vector<TimeNs> end_ns_;
  std::uint64_t next_order_ = 0;
  bool every_change_ = false;
  void settle() {
    net_.settle();
    take();
  }
  void take() {
    for (const FlowNetwork::Due& d : net_.due()) entries_.push_back(Entry{d, next_order_++});
    net_.due().clear();
  }
};

}  // namespace ringsim::test
