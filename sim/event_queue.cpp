// Lanes and 4-ary heap for sim/event_queue.hpp (see there for the order and complexity).
#include "sim/event_queue.hpp"

#include <stdexcept>
#include <string>

namespace ringsim {

EventQueue::EventQueue() { front_.fill(kNoFront); }

void EventQueue::push(TimeNs time_ns, Band band, std::uint8_t kind, std::int64_t device,
                      std::int64_t arg) {
  if (time_ns < last_popped_ns_) {
    throw std::logic_error("EventQueue: event at " + std::to_string(time_ns) +
                           " ns scheduled before now (" + std::to_string(last_popped_ns_) + " ns)");
  }
  if (next_sequence_ > Event::kSequenceMask) throw std::overflow_error("EventQueue: sequence exhausted");
  Event e;
  e.time_ns = time_ns;
  e.order = (std::uint64_t{static_cast<std::uint8_t>(band)} << 56) | (next_sequence_++ << 8) | kind;
  e.device = device;
  e.arg = arg;
  ++size_;
  const int lane = lane_for(time_ns - last_popped_ns_, band, e.key());
  if (lane >= 0) {
    append(lane, e);
  } else {
    heap_push(e);
  }
}

int EventQueue::lane_for(TimeNs delay_ns, Band band, Key key) {
  // Fibonacci hashing of the delay picks the slot.
  DelaySlot& slot = delay_slots_[(static_cast<std::uint64_t>(delay_ns) * 0x9E3779B97F4A7C15ull) >> 60];
  const auto b = static_cast<std::uint8_t>(band);
  if (slot.delay_ns == delay_ns && slot.band == b && back_[slot.lane] <= key) return slot.lane;
  // Best fit: the lane ending latest before the event (an empty lane ends at key 0).
  int best = -1;
  Key best_back = 0;
  for (int i = 0; i < kLanes; ++i) {
    if (back_[i] <= key && (best < 0 || back_[i] > best_back)) best = i, best_back = back_[i];
  }
  if (best >= 0) slot = DelaySlot{delay_ns, b, static_cast<std::uint8_t>(best)};
  return best;
}

// A source's first key dropped (it was empty, or the heap got an earlier
// top): it moves towards the front of the order.
void EventQueue::raise(int source) {
  int i = 0;
  while (i < sources_ && order_[i] != source) ++i;
  if (i == sources_) ++sources_;  // it was empty
  for (; i > 0 && front_[source] < front_[order_[i - 1]]; --i) order_[i] = order_[i - 1];
  order_[i] = static_cast<std::uint8_t>(source);
}

// The first source gave its first event: it leaves the order if empty, else
// moves back to its new place (usually a step or none: a lane's next event is
// close behind the one it gave).
void EventQueue::settle_first() {
  const int source = order_[0];
  if (front_[source] == kNoFront) {
    --sources_;
    for (int i = 0; i < sources_; ++i) order_[i] = order_[i + 1];
    return;
  }
  int i = 0;
  for (; i + 1 < sources_ && front_[order_[i + 1]] < front_[source]; ++i) order_[i] = order_[i + 1];
  order_[i] = static_cast<std::uint8_t>(source);
}

const Event& EventQueue::top() const {
  if (empty()) throw std::logic_error("EventQueue: top of an empty queue");
  const int source = order_[0];
  if (source == kHeapSource) return heap_.front();
  const Lane& lane = lanes_[source];
  return lane.ring[lane.head];
}

Event EventQueue::pop() {
  if (empty()) throw std::logic_error("EventQueue: pop from an empty queue");
  const int source = order_[0];
  const Event first = source == kHeapSource ? heap_pop() : take_front(source);
  settle_first();
  --size_;
  // The engine's main invariant: simulated time never runs backwards.
  if (first.time_ns < last_popped_ns_) throw std::logic_error("EventQueue: popped time decreased");
  last_popped_ns_ = first.time_ns;
  return first;
}

void EventQueue::append(int i, const Event& e) {
  Lane& lane = lanes_[i];
  if (lane.count == lane.ring.size()) {  // full: double, unwrapping the ring
    std::vector<Event> grown(lane.ring.empty() ? 64 : 2 * lane.ring.size());
    for (std::size_t j = 0; j < lane.count; ++j) grown[j] = lane.ring[(lane.head + j) & (lane.ring.size() - 1)];
    lane.ring.swap(grown);
    lane.head = 0;
  }
  lane.ring[(lane.head + lane.count) & (lane.ring.size() - 1)] = e;
  back_[i] = e.key();
  if (lane.count++ == 0) {
    front_[i] = e.key();
    raise(i);
  }
}

Event EventQueue::take_front(int i) {
  Lane& lane = lanes_[i];
  const Event e = lane.ring[lane.head];
  lane.head = (lane.head + 1) & (lane.ring.size() - 1);
  if (--lane.count == 0) {
    front_[i] = kNoFront;
    back_[i] = 0;
  } else {
    front_[i] = lane.ring[lane.head].key();
  }
  return e;
}

void EventQueue::heap_push(const Event& e) {
  if (e.key() < front_[kHeapSource]) {
    front_[kHeapSource] = e.key();
    raise(kHeapSource);
  }
  std::size_t i = heap_.size();
  heap_.push_back(e);
  while (i > 0) {
    const std::size_t parent = (i - 1) / kArity;
    if (!e.before(heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

Event EventQueue::heap_pop() {
  const Event first = heap_.front();
  const Event e = heap_.back();
  heap_.pop_back();
  const std::size_t n = heap_.size();
  if (n == 0) {
    front_[kHeapSource] = kNoFront;
    return first;
  }
  std::size_t i = 0;
  for (;;) {
    const std::size_t child = i * kArity + 1;
    if (child >= n) break;
    std::size_t best = child;
    const std::size_t end = child + kArity < n ? child + kArity : n;
    for (std::size_t c = child + 1; c < end; ++c) {
      if (heap_[c].before(heap_[best])) best = c;
    }
    if (!heap_[best].before(e)) break;
    heap_[i] = heap_[best];
    i = best;
  }
  heap_[i] = e;
  front_[kHeapSource] = heap_.front().key();
  return first;
}

}  // namespace ringsim
