// tests/models: memory model (buffer tables, per-GPU live/peak tracking,
// verdict). The buffer sizes of each schedule are checked in tests/sim.
#include <doctest/doctest.h>

#include <random>
#include <stdexcept>
#include <string>

#include "models/memory_model.hpp"

using namespace ringsim;

namespace {
constexpr double kGiB = 1073741824.0;

// Eight buffers of 10, 20, ... 80 bytes named b0..b7.
BufferTable tens() {
  BufferTable t;
  for (int i = 0; i < 8; ++i) t.add("b" + std::to_string(i), 10.0 * (i + 1));
  return t;
}
}  // namespace

TEST_CASE("models::BufferTable: ids are indices in order; names are unique") {
  BufferTable t;
  CHECK(t.add("q_chunk", 5) == 0);
  CHECK(t.add("own_kv", 7) == 1);
  CHECK(t.size() == 2);
  CHECK(t.name(1) == "own_kv");
  CHECK(t.bytes(0) == 5);
  CHECK(t.find("own_kv") == 1);
  CHECK(t.find("nope") == kNoBuffer);
  CHECK_THROWS_AS(t.add("q_chunk", 1), std::logic_error);
}

TEST_CASE("models::DeviceMemory: reserved bytes from the start; peak keeps the counts live when first reached") {
  const BufferTable t = tens();
  DeviceMemory mem(&t, 5);
  CHECK(mem.live_bytes() == 5);
  mem.alloc(0);  // 15
  mem.alloc(1);  // 35
  mem.alloc(3);  // 75
  CHECK(mem.peak_bytes() == 75);
  mem.free(3);   // 35
  mem.alloc(4);  // 85: new peak
  CHECK(mem.peak_counts() == std::vector<int>{1, 1, 0, 0, 1, 0, 0, 0});
  mem.free(4);
  mem.alloc(3);  // 75
  mem.alloc(2);  // 105: new peak
  mem.free(2);
  mem.free(3);
  mem.alloc(6);  // 105 again, another set: the peak counts stay the first ones
  CHECK(mem.peak_bytes() == 105);
  CHECK(mem.peak_counts() == std::vector<int>{1, 1, 1, 1, 0, 0, 0, 0});
  CHECK(mem.live_bytes() == 105);
  CHECK_THROWS_AS(mem.free(5), std::logic_error);
}

TEST_CASE("models::DeviceMemory: ranks sharing a GPU hold one copy each of a buffer") {
  const BufferTable t = tens();
  DeviceMemory gpu(&t, 100);
  gpu.alloc(2);  // rank 0: 30
  gpu.alloc(2);  // rank 1: 30
  CHECK(gpu.live_bytes() == 160);
  CHECK(gpu.peak_counts()[2] == 2);
  gpu.free(2);
  gpu.free(2);
  CHECK(gpu.live_bytes() == 100);
}

TEST_CASE("models::DeviceMemory: random alloc/free sequences keep live bytes equal to the live counts") {
  for (int seed = 0; seed < 50; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    BufferTable t;
    for (int i = 0; i < 10; ++i) t.add("b" + std::to_string(i), static_cast<double>(rng() % 1000000));
    const double reserved = static_cast<double>(rng() % 1000);
    std::vector<int> count(10, 0);
    double max_seen = reserved;
    DeviceMemory m(&t, reserved);
    for (int step = 0; step < 200; ++step) {
      const BufferId b = static_cast<BufferId>(rng() % 10);
      if (count[b] > 0 && rng() % 2) {
        m.free(b);
        --count[b];
      } else {
        m.alloc(b);
        ++count[b];
      }
      double expect = reserved;
      for (int i = 0; i < 10; ++i) expect += count[i] * t.bytes(i);
      CHECK(m.live_bytes() == doctest::Approx(expect));
      max_seen = std::max(max_seen, expect);
    }
    CHECK(m.peak_bytes() == doctest::Approx(max_seen));
  }
}

TEST_CASE("models::memory_verdict: fits at capacity; over capacity lists the peak buffers largest first") {
  BufferTable t;
  t.add("own_kv", 28.1 * kGiB);
  t.add("recv_kv0", 32 * kGiB);
  t.add("recv_kv1", 32 * kGiB);
  t.add("q_chunk", 0.5 * kGiB);
  const std::vector<int> counts{1, 1, 1, 0};
  const double peak = 93.1 * kGiB;
  CHECK(memory_verdict(t, counts, 1 * kGiB, peak, peak).fits);
  CHECK(memory_verdict(t, counts, 1 * kGiB, peak, peak).reason.empty());
  const MemoryVerdict v = memory_verdict(t, counts, 1 * kGiB, peak, 80 * kGiB);
  CHECK_FALSE(v.fits);
  CHECK(v.peak_bytes == peak);
  CHECK(v.capacity_bytes == 80 * kGiB);
  CHECK(v.reason == "needs 93.1 GiB of 80 GiB (over by 13.1 GiB): recv_kv0 32 GiB, recv_kv1 32 GiB, own_kv 28.1 GiB, reserved 1 GiB");
  // Two ranks on the GPU: copies are counted and named.
  const MemoryVerdict two = memory_verdict(t, {2, 0, 0, 2}, 1 * kGiB, 58.2 * kGiB, 40 * kGiB);
  CHECK(two.reason == "needs 58.2 GiB of 40 GiB (over by 18.2 GiB): own_kv 2 x 28.1 GiB, q_chunk 2 x 512 MiB, reserved 1 GiB");
}
