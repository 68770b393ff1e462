// An indexed binary min-heap of completion times, for models/flow_network.
//
// Entries are keyed (time_ns, tie) and named by a dense handle; the heap keeps
// each handle's position, so an entry can move (its time changed) or leave in
// O(log n) without a search, and the earliest is read in O(1). No allocation
// once the vectors have grown to the largest number of handles in use.
#pragma once
#include <cstdint>
#include <vector>

#include "models/units.hpp"

namespace ringsim {

class CompletionHeap {
 public:
  using Handle = std::uint32_t;
  // Inserts `handle` or moves it to its new key.
  void set(Handle handle, TimeNs time_ns, std::int64_t tie) {
    if (handle >= pos_.size()) pos_.resize(handle + 1, kAbsent);
    const Entry e{time_ns, tie, handle};
    if (pos_[handle] == kAbsent) {
      heap_.push_back(e);
      sift_up(heap_.size() - 1, e);
      return;
    }
    const std::size_t i = static_cast<std::size_t>(pos_[handle]);
    const bool earlier = before(e, heap_[i]);
    if (earlier) {
      sift_up(i, e);
    } else {
      sift_down(i, e);
    }
  }
  void erase(Handle handle) {
    if (handle >= pos_.size() || pos_[handle] == kAbsent) return;
    const std::size_t i = static_cast<std::size_t>(pos_[handle]);
    pos_[handle] = kAbsent;
    const Entry last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;
    if (before(last, heap_[i])) {
      sift_up(i, last);
    } else {
      sift_down(i, last);
    }
  }
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  Handle top() const { return heap_.front().handle; }
  TimeNs top_ns() const { return heap_.empty() ? kTimeNever : heap_.front().time_ns; }

 private:
  static constexpr std::int32_t kAbsent = -1;
  struct Entry {
    TimeNs time_ns;
    std::int64_t tie;
    Handle handle;
  };
  std::vector<Entry> heap_;
  std::vector<std::int32_t> pos_;  // by handle: index in heap_, or kAbsent

  static bool before(const Entry& a, const Entry& b) {
    return a.time_ns < b.time_ns || (a.time_ns == b.time_ns && a.tie < b.tie);
  }
  void place(std::size_t i, const Entry& e) {
    heap_[i] = e;
    pos_[e.handle] = static_cast<std::int32_t>(i);
  }
  // Moves the hole at i up until `e` fits, then puts e there.
  void sift_up(std::size_t i, const Entry& e) {
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!before(e, heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, e);
  }
  void sift_down(std::size_t i, const Entry& e) {
    const std::size_t n = heap_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
      if (!before(heap_[child], e)) break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, e);
  }
};

}  // namespace ringsim
