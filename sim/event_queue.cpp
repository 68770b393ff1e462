// 4-ary heap for sim/event_queue.hpp (see there for the order and complexity).
#include "sim/event_queue.hpp"

#include <stdexcept>
#include <string>

namespace ringsim {

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
  heap_.push_back(e);
  sift_up(heap_.size() - 1);
}

Event EventQueue::pop() {
  if (heap_.empty()) throw std::logic_error("EventQueue: pop from an empty queue");
  Event first = heap_.front();
  heap_.front() = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0);
  // The engine's main invariant: simulated time never runs backwards.
  if (first.time_ns < last_popped_ns_) throw std::logic_error("EventQueue: popped time decreased");
  last_popped_ns_ = first.time_ns;
  return first;
}

void EventQueue::sift_up(std::size_t i) {
  Event e = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / kArity;
    if (!e.before(heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

void EventQueue::sift_down(std::size_t i) {
  const std::size_t n = heap_.size();
  Event e = heap_[i];
  for (;;) {
    std::size_t child = i * kArity + 1;
    if (child >= n) break;
    std::size_t best = child;
    std::size_t end = child + kArity < n ? child + kArity : n;
    for (std::size_t c = child + 1; c < end; ++c) {
      if (heap_[c].before(heap_[best])) best = c;
    }
    if (!heap_[best].before(e)) break;
    heap_[i] = heap_[best];
    i = best;
  }
  heap_[i] = e;
}

}  // namespace ringsim
