// Event queue of the discrete-event engine: a 4-ary min-heap of compact
// events on one std::vector, in the total order (time, priority band,
// insertion sequence) of ns-3 / SST.
//
// Complexity: push O(log4 n), pop O(log4 n) (4-ary: half the depth of a
// binary heap, and the four children share a cache line or two), top O(1);
// no allocation per event (the vector grows geometrically, then is reused).
// Equal (time, band) events pop in insertion order because the sequence
// number is part of the key, so a run is deterministic.
// Invariant (checked on every pop, also in release builds): popped times never
// decrease; pushing an event before the last popped time throws.
#pragma once
#include <cstdint>
#include <vector>

#include "models/units.hpp"

namespace ringsim {

// Priority bands at equal times: lower first. Network completions come before
// flow starts so a link is free before a new flow shares it.
enum class Band : std::uint8_t { kNetwork = 0, kFlowStart = 1, kCompute = 2, kMemory = 3, kDevice = 4 };

struct Event {
  TimeNs time_ns = 0;
  // (band << 56) | (sequence << 8) | kind: one compare gives (band, sequence);
  // the kind sits below the unique sequence and never decides the order.
  std::uint64_t order = 0;
  std::int64_t device = 0;
  std::int64_t arg = 0;

  Band band() const { return static_cast<Band>(order >> 56); }
  std::uint64_t sequence() const { return (order >> 8) & kSequenceMask; }
  std::uint8_t kind() const { return static_cast<std::uint8_t>(order & 0xff); }
  bool before(const Event& o) const {
    return time_ns < o.time_ns || (time_ns == o.time_ns && order < o.order);
  }
  static constexpr std::uint64_t kSequenceMask = (std::uint64_t{1} << 48) - 1;
};
static_assert(sizeof(Event) == 32, "Event must stay 32 bytes: two per cache line");

class EventQueue {
 public:
  void reserve(std::size_t n) { heap_.reserve(n); }
  // Schedules an event; time_ns must not be before the last popped time.
  void push(TimeNs time_ns, Band band, std::uint8_t kind, std::int64_t device, std::int64_t arg);
  // Removes and returns the first event in (time, band, sequence) order.
  Event pop();
  const Event& top() const { return heap_.front(); }
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  std::uint64_t pushed() const { return next_sequence_; }
  TimeNs now_ns() const { return last_popped_ns_; }

 private:
  static constexpr std::size_t kArity = 4;
  std::vector<Event> heap_;
  std::uint64_t next_sequence_ = 0;
  TimeNs last_popped_ns_ = 0;
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
};

}  // namespace ringsim
