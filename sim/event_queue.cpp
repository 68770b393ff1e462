// Lanes and 4-ary heap for sim/event_queue.hpp (see there for the order and
// complexity); the usual push and pop are inline in the header.
#include "sim/event_queue.hpp"

#include <stdexcept>
#include <string>

namespace ringsim {

EventQueue::EventQueue() { front_.fill(kNoFront); }

void EventQueue::refuse_push(TimeNs time_ns) const {
  if (time_ns < last_popped_ns_) {
    throw std::logic_error("EventQueue: event at " + std::to_string(time_ns) +
                           " ns scheduled before now (" + std::to_string(last_popped_ns_) + " ns)");
  }
  throw std::overflow_error("EventQueue: sequence exhausted");
}
void EventQueue::refuse_pop() { throw std::logic_error("EventQueue: pop from an empty queue"); }
void EventQueue::refuse_order() { throw std::logic_error("EventQueue: popped time decreased"); }

void EventQueue::push_slow(const Event& e) {
  const int lane = lane_for(e.time_ns - last_popped_ns_, e.band(), e.key());
  if (lane >= 0) {
    append(lane, e);
  } else {
    heap_push(e);
  }
}

int EventQueue::lane_for(TimeNs delay_ns, Band band, Key key) {
  DelaySlot& slot = delay_slots_[slot_of(delay_ns)];
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

// The first source gave its first event and is no longer first: it leaves
// the order if empty, else moves back to its new place.
void EventQueue::settle_first() {
  const int source = order_[0];
  if (source != kHeapSource) {
    const Lane& lane = lanes_[source];
    front_[source] = lane.count == 0 ? kNoFront : lane.ring[lane.head].key();
    if (lane.count == 0) back_[source] = 0;
  }
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
  if (empty()) refuse_pop();
  const int source = order_[0];
  if (source == kHeapSource) return heap_.front();
  const Lane& lane = lanes_[source];
  return lane.ring[lane.head];
}

void EventQueue::append(int i, const Event& e) {
  Lane& lane = lanes_[i];
  if (lane.count == lane.ring.size()) {  // full: double, unwrapping the ring
    std::vector<Event> grown(lane.ring.empty() ? 64 : 2 * lane.ring.size());
    for (std::size_t j = 0; j < lane.count; ++j) grown[j] = lane.ring[(lane.head + j) & lane.mask];
    lane.ring.swap(grown);
    lane.head = 0;
    lane.mask = lane.ring.size() - 1;
  }
  lane.ring[(lane.head + lane.count) & lane.mask] = e;
  back_[i] = e.key();
  if (lane.count++ == 0) {
    front_[i] = e.key();
    raise(i);
  }
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

Event EventQueue::pop_heap() {
  const Event first = heap_.front();
  const Event e = heap_.back();
  heap_.pop_back();
  --size_;
  const std::size_t n = heap_.size();
  std::size_t i = 0;
  while (n > 0) {
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
  if (n > 0) heap_[i] = e;
  front_[kHeapSource] = n > 0 ? heap_.front().key() : kNoFront;
  settle_first();
  return popped(first);
}

}  // namespace ringsim
