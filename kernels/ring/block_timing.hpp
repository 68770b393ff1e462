// Timing of one ring block on a card, as the ring runs it: the fused chunk
// kernel, then the merge into an accumulator, back to back on one stream
// behind a gate (no host gaps), warm-up then the median of repeats from CUDA
// events, rotating over three buffer sets so a small block's data is not
// served from L2 as it would not be in the ring. The validate tool turns these into a measured DeviceProfile
// (attention and merge samples at exactly the shapes a scenario needs).
#pragma once
#include <cstdint>

#include "kernels/common/kernel_types.hpp"

namespace ringsim::ring {

struct BlockTimingShape {
  kernels::Mask mask = kernels::Mask::kFull;
  long long q_tokens = 0, kv_tokens = 0;
  int q_heads = 32, kv_heads = 8, head_dim = 128;
};

struct BlockTiming {
  double attention_s = 0;  // median, fused kernel alone
  double merge_s = 0;      // median, merge alone
};

BlockTiming time_block(int device, const BlockTimingShape&, int repeats, std::uint64_t seed);
// The block's backward as the ring executor runs it (block_timing_backward.cu):
// median seconds of the row stats' transposes and the fused backward kernel.
double time_block_backward(int device, const BlockTimingShape&, int repeats, std::uint64_t seed);

}  // namespace ringsim::ring
