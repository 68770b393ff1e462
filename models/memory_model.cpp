// Memory model: buffer sizes, per-device live/peak tracking, the fit verdict.
// The buffer table is in memory_model.hpp; tests in tests/models/test_memory.cpp.
#include "models/memory_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

namespace ringsim {

namespace {
constexpr int kBufferCount = static_cast<int>(Buffer::kCount);
unsigned bit(Buffer b) { return 1u << static_cast<unsigned>(b); }
}  // namespace

const char* buffer_name(Buffer b) {
  switch (b) {
    case Buffer::kReserved: return "reserved";
    case Buffer::kQChunk: return "q_chunk";
    case Buffer::kOwnKv: return "own_kv";
    case Buffer::kRecvKv0: return "recv_kv0";
    case Buffer::kRecvKv1: return "recv_kv1";
    case Buffer::kOutAcc: return "out_acc";
    case Buffer::kSoftmaxStats: return "softmax_stats";
    case Buffer::kWorkspace: return "workspace";
    case Buffer::kCount: break;
  }
  return "?";
}

BufferSizes buffer_sizes(const AttentionShape& s, long long q_tokens, long long kv_tokens, double reserved_bytes) {
  const double q = static_cast<double>(q_tokens), kv = static_cast<double>(kv_tokens);
  const double qh = s.q_heads, kvh = s.kv_heads, d = s.head_dim, dt = dtype_bytes(s.dtype);
  const double kv_bytes = 2.0 * kv * kvh * d * dt;
  BufferSizes out;
  auto set = [&](Buffer b, double v) { out.bytes[static_cast<int>(b)] = v; };
  set(Buffer::kReserved, reserved_bytes);
  set(Buffer::kQChunk, q * qh * d * dt);
  set(Buffer::kOwnKv, kv_bytes);
  set(Buffer::kRecvKv0, kv_bytes);
  set(Buffer::kRecvKv1, kv_bytes);
  set(Buffer::kOutAcc, q * qh * d * 4.0);
  set(Buffer::kSoftmaxStats, q * qh * 4.0 * 2.0);
  set(Buffer::kWorkspace, q * qh * (d + 1.0) * 4.0);
  return out;
}

void DeviceMemory::alloc(Buffer b) {
  assert(b != Buffer::kCount);
  assert((live_set_ & bit(b)) == 0 && "buffer allocated twice");
  live_set_ |= bit(b);
  live_bytes_ += sizes_->of(b);
  // Strictly greater: the peak set is the one live when the peak was first reached.
  if (live_bytes_ > peak_bytes_) {
    peak_bytes_ = live_bytes_;
    peak_set_ = live_set_;
  }
}

void DeviceMemory::free(Buffer b) {
  assert(b != Buffer::kCount);
  assert((live_set_ & bit(b)) != 0 && "freeing a buffer that is not live");
  live_set_ &= ~bit(b);
  live_bytes_ -= sizes_->of(b);
  if (live_set_ == 0) live_bytes_ = 0;  // no drift from subtracting doubles
}

MemoryVerdict memory_verdict(const BufferSizes& sizes, unsigned peak_set, double peak_bytes, double capacity_bytes) {
  MemoryVerdict v;
  v.peak_bytes = peak_bytes;
  v.capacity_bytes = capacity_bytes;
  v.fits = peak_bytes <= capacity_bytes;
  if (v.fits) return v;
  std::vector<Buffer> live;
  for (int i = 0; i < kBufferCount; ++i) {
    if (peak_set & bit(Buffer(i))) live.push_back(Buffer(i));
  }
  // Largest first; equal sizes keep the table's order.
  std::stable_sort(live.begin(), live.end(), [&](Buffer a, Buffer b) { return sizes.of(a) > sizes.of(b); });
  v.reason = fmt::format("needs {} of {} (over by {}):", format_bytes(peak_bytes), format_bytes(capacity_bytes),
                         format_bytes(peak_bytes - capacity_bytes));
  for (std::size_t i = 0; i < live.size(); ++i) {
    v.reason += fmt::format("{} {} {}", i == 0 ? "" : ",", buffer_name(live[i]), format_bytes(sizes.of(live[i])));
  }
  return v;
}

}  // namespace ringsim
