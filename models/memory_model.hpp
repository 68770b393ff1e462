// Memory model: the buffers a device holds during the forward ring, their
// sizes, and a per-device tracker that records allocations and frees as the
// engine runs and keeps the peak.
//
// Buffers (bytes for a device holding q query tokens and kv key/value tokens):
//   q_chunk      q * q_heads * head_dim * dtype           whole pass
//   own_kv       2 * kv * kv_heads * head_dim * dtype     whole pass (kept for backward)
//   recv_kv[0,1] 2 * kv * kv_heads * head_dim * dtype     each; [0] from step 0, [1] from step 1
//   out_acc      q * q_heads * head_dim * 4 (fp32)        whole pass
//   softmax_stats q * q_heads * 4 * 2 (running max, sum)  whole pass
//   workspace    q * q_heads * (head_dim + 1) * 4         block output + lse, steps >= 1
//   reserved     profile.reserved_memory                  whole pass
// A ring of size 1 receives nothing: no recv buffers.
#pragma once
#include <string>
#include <vector>

#include "models/compute_model.hpp"

namespace ringsim {

enum class Buffer { kReserved, kQChunk, kOwnKv, kRecvKv0, kRecvKv1, kOutAcc, kSoftmaxStats, kWorkspace, kCount };
const char* buffer_name(Buffer);

struct BufferSizes {
  double bytes[static_cast<int>(Buffer::kCount)] = {};
  double of(Buffer b) const { return bytes[static_cast<int>(b)]; }
};

// Sizes for a device with q query and kv key/value tokens per chunk pair.
BufferSizes buffer_sizes(const AttentionShape&, long long q_tokens, long long kv_tokens,
                         double reserved_bytes);

// Allocations and frees of one device, as events; tracks live and peak bytes
// and which buffers were live at the peak.
class DeviceMemory {
 public:
  explicit DeviceMemory(const BufferSizes* sizes) : sizes_(sizes) {}
  void alloc(Buffer b);
  void free(Buffer b);  // asserts b is live
  double live_bytes() const { return live_bytes_; }
  double peak_bytes() const { return peak_bytes_; }
  unsigned peak_set() const { return peak_set_; }  // bit i: Buffer(i) live at peak

 private:
  const BufferSizes* sizes_;
  unsigned live_set_ = 0, peak_set_ = 0;
  double live_bytes_ = 0, peak_bytes_ = 0;
};

struct MemoryVerdict {
  bool fits = true;
  double peak_bytes = 0, capacity_bytes = 0;
  std::string reason;  // when !fits: "over by 3.2 GiB: recv_kv0 8 GiB, ..." (largest first)
};
MemoryVerdict memory_verdict(const BufferSizes&, unsigned peak_set, double peak_bytes,
                             double capacity_bytes);

}  // namespace ringsim
