// sim::EventQueue: order, ties, invariants.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "sim/event_queue.hpp"

using namespace ringsim;

TEST_CASE("sim::EventQueue: events pop in (time, band, insertion) order") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    EventQueue q;
    std::vector<std::tuple<TimeNs, int, std::int64_t>> expected;  // (time, band, insertion index)
    const int n = 2000;
    for (int i = 0; i < n; ++i) {
      TimeNs t = static_cast<TimeNs>(rng() % 50);  // many equal times
      int band = static_cast<int>(rng() % 5);
      q.push(t, static_cast<Band>(band), static_cast<std::uint8_t>(i % 6), i, -i);
      expected.emplace_back(t, band, i);
    }
    std::sort(expected.begin(), expected.end());
    for (int i = 0; i < n; ++i) {
      Event e = q.pop();
      CHECK(e.time_ns == std::get<0>(expected[i]));
      CHECK(static_cast<int>(e.band()) == std::get<1>(expected[i]));
      CHECK(e.device == std::get<2>(expected[i]));
      CHECK(e.arg == -e.device);
      CHECK(e.kind() == e.device % 6);
    }
    CHECK(q.empty());
  }
}

TEST_CASE("sim::EventQueue: equal times pop in insertion order") {
  EventQueue q;
  for (int i = 0; i < 100; ++i) q.push(7, Band::kDevice, 0, i, 0);
  for (int i = 0; i < 100; ++i) CHECK(q.pop().device == i);
}

TEST_CASE("sim::EventQueue: interleaved pushes keep popped times non-decreasing") {
  std::mt19937_64 rng(42);
  EventQueue q;
  q.push(0, Band::kDevice, 0, 0, 0);
  TimeNs last = 0;
  int popped = 0;
  while (!q.empty() && popped < 100000) {
    Event e = q.pop();
    ++popped;
    CHECK(e.time_ns >= last);
    last = e.time_ns;
    CHECK(q.now_ns() == last);
    int children = q.size() < 1000 ? 2 : 0;
    for (int c = 0; c < children; ++c) q.push(last + static_cast<TimeNs>(rng() % 10), Band::kCompute, 1, 0, 0);
  }
  CHECK(popped > 1000);
}

TEST_CASE("sim::EventQueue: interleaved pushes and pops follow an ordered-set reference, through lanes and heap") {
  // Repeated delays (lanes) mixed with arbitrary ones (more classes than lanes:
  // some fall to the heap), all five bands, pops between pushes.
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    EventQueue q;
    std::set<std::tuple<TimeNs, int, std::int64_t>> reference;  // (time, band, push index)
    const TimeNs delays[] = {0, 0, 7, 7, 7, 1000, 1000, 2000, 5000, 123456};
    std::int64_t pushed = 0;
    std::size_t most_in_heap = 0;
    for (int round = 0; round < 20000; ++round) {
      const int pushes = static_cast<int>(rng() % 3);
      for (int k = 0; k < pushes; ++k) {
        const TimeNs delay = rng() % 4 == 0 ? static_cast<TimeNs>(rng() % 100000) : delays[rng() % 10];
        const int band = static_cast<int>(rng() % 5);
        q.push(q.now_ns() + delay, static_cast<Band>(band), 0, pushed, 0);
        reference.emplace(q.now_ns() + delay, band, pushed++);
      }
      most_in_heap = std::max(most_in_heap, q.heap_size());
      if (q.empty() || rng() % 2 == 0) continue;
      const Event e = q.pop();
      REQUIRE(!reference.empty());
      CHECK(e.time_ns == std::get<0>(*reference.begin()));
      CHECK(e.device == std::get<2>(*reference.begin()));
      reference.erase(reference.begin());
    }
    while (!q.empty()) {
      CHECK(q.pop().device == std::get<2>(*reference.begin()));
      reference.erase(reference.begin());
    }
    CHECK(reference.empty());
    CHECK(most_in_heap > 0);  // both layouts were used
  }
}

TEST_CASE("sim::EventQueue: scheduling in the past throws") {
  EventQueue q;
  q.push(10, Band::kDevice, 0, 0, 0);
  q.pop();
  CHECK_THROWS_AS(q.push(9, Band::kDevice, 0, 0, 0), std::logic_error);
  CHECK_NOTHROW(q.push(10, Band::kDevice, 0, 0, 0));
  CHECK_THROWS_AS(EventQueue().pop(), std::logic_error);
}

TEST_CASE("sim::Event: an event is 32 bytes") { CHECK(sizeof(Event) == 32); }
