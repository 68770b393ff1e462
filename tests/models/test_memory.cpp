// tests/models: memory model (buffer sizes, live/peak tracking, verdict).
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "models/memory_model.hpp"

using namespace ringsim;

namespace {
constexpr double kGiB = 1073741824.0;
unsigned bit(Buffer b) { return 1u << static_cast<unsigned>(b); }
}  // namespace

TEST_CASE("models::memory: buffer sizes match the table for a hand-computed GQA case") {
  const AttentionShape s{32, 8, 128, DType::kBf16};
  const BufferSizes b = buffer_sizes(s, 65536, 65536, 1 * kGiB);
  CHECK(b.of(Buffer::kReserved) == kGiB);
  CHECK(b.of(Buffer::kQChunk) == 65536.0 * 32 * 128 * 2);  // 0.5 GiB
  CHECK(b.of(Buffer::kQChunk) == 0.5 * kGiB);
  CHECK(b.of(Buffer::kOwnKv) == 0.25 * kGiB);                // 2 * 65536 * 8 * 128 * 2
  CHECK(b.of(Buffer::kRecvKv0) == 0.25 * kGiB);
  CHECK(b.of(Buffer::kRecvKv1) == 0.25 * kGiB);
  CHECK(b.of(Buffer::kOutAcc) == 1.0 * kGiB);                // fp32
  CHECK(b.of(Buffer::kSoftmaxStats) == 65536.0 * 32 * 8);    // max and sum, fp32
  CHECK(b.of(Buffer::kWorkspace) == 65536.0 * 32 * 129 * 4);
  CHECK(buffer_sizes({32, 8, 128, DType::kFp32}, 65536, 65536, 0).of(Buffer::kOwnKv) == 0.5 * kGiB);
}

TEST_CASE("models::memory: buffer names are the documented ones") {
  const char* names[] = {"reserved", "q_chunk", "own_kv", "recv_kv0", "recv_kv1", "out_acc", "softmax_stats", "workspace"};
  for (int i = 0; i < static_cast<int>(Buffer::kCount); ++i) CHECK(std::string(buffer_name(Buffer(i))) == names[i]);
}

TEST_CASE("models::DeviceMemory: peak keeps the set live when it was first reached") {
  BufferSizes sizes;
  for (int i = 0; i < static_cast<int>(Buffer::kCount); ++i) sizes.bytes[i] = 10.0 * (i + 1);
  DeviceMemory mem(&sizes);
  mem.alloc(Buffer::kReserved);  // 10
  mem.alloc(Buffer::kQChunk);    // 30
  mem.alloc(Buffer::kRecvKv0);   // 70
  CHECK(mem.peak_bytes() == 70);
  mem.free(Buffer::kRecvKv0);    // 30
  mem.alloc(Buffer::kRecvKv1);   // 80: new peak
  const unsigned at_peak = bit(Buffer::kReserved) | bit(Buffer::kQChunk) | bit(Buffer::kRecvKv1);
  CHECK(mem.peak_set() == at_peak);
  mem.free(Buffer::kRecvKv1);
  mem.alloc(Buffer::kRecvKv0);   // 70
  mem.alloc(Buffer::kOwnKv);     // 100: new peak
  mem.free(Buffer::kOwnKv);
  mem.free(Buffer::kRecvKv0);
  mem.alloc(Buffer::kSoftmaxStats);  // 100 again, another set: the peak set stays the first one
  CHECK(mem.peak_bytes() == 100);
  CHECK(mem.peak_set() == (bit(Buffer::kReserved) | bit(Buffer::kQChunk) | bit(Buffer::kRecvKv0) | bit(Buffer::kOwnKv)));
  CHECK(mem.live_bytes() == 100);
}

TEST_CASE("models::DeviceMemory: random alloc/free sequences keep live bytes equal to the live set") {
  BufferSizes sizes;
  for (int seed = 0; seed < 50; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    for (double& b : sizes.bytes) b = static_cast<double>(rng() % 1000000);
    double max_seen = 0;
    unsigned set = 0;
    DeviceMemory m2(&sizes);
    for (int step = 0; step < 200; ++step) {
      const Buffer b = Buffer(rng() % static_cast<unsigned>(Buffer::kCount));
      if (set & bit(b)) {
        m2.free(b);
        set &= ~bit(b);
      } else {
        m2.alloc(b);
        set |= bit(b);
      }
      double expect = 0;
      for (int i = 0; i < static_cast<int>(Buffer::kCount); ++i) {
        if (set & (1u << i)) expect += sizes.bytes[i];
      }
      CHECK(m2.live_bytes() == doctest::Approx(expect));
      max_seen = std::max(max_seen, expect);
    }
    CHECK(m2.peak_bytes() == doctest::Approx(max_seen));
  }
}

TEST_CASE("models::memory_verdict: fits at capacity; over capacity lists the peak set largest first") {
  BufferSizes sizes;
  sizes.bytes[static_cast<int>(Buffer::kReserved)] = 1 * kGiB;
  sizes.bytes[static_cast<int>(Buffer::kRecvKv0)] = 32 * kGiB;
  sizes.bytes[static_cast<int>(Buffer::kRecvKv1)] = 32 * kGiB;
  sizes.bytes[static_cast<int>(Buffer::kOwnKv)] = 28.1 * kGiB;
  const unsigned set = bit(Buffer::kReserved) | bit(Buffer::kRecvKv0) | bit(Buffer::kRecvKv1) | bit(Buffer::kOwnKv);
  const double peak = 93.1 * kGiB;
  CHECK(memory_verdict(sizes, set, peak, peak).fits);
  CHECK(memory_verdict(sizes, set, peak, peak).reason.empty());
  const MemoryVerdict v = memory_verdict(sizes, set, peak, 80 * kGiB);
  CHECK_FALSE(v.fits);
  CHECK(v.peak_bytes == peak);
  CHECK(v.capacity_bytes == 80 * kGiB);
  CHECK(v.reason == "needs 93.1 GiB of 80 GiB (over by 13.1 GiB): recv_kv0 32 GiB, recv_kv1 32 GiB, own_kv 28.1 GiB, reserved 1 GiB");
}
