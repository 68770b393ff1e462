// Ring schedule: see ring_schedule.hpp.
#include "kernels/ring/ring_schedule.hpp"

#include <cassert>

namespace ringsim::ring {

const char* ring_layout_name(RingLayout l) {
  switch (l) {
    case RingLayout::kNonCausal: return "non-causal";
    case RingLayout::kContiguous: return "causal contiguous";
    case RingLayout::kZigzag: return "causal zigzag";
  }
  return "?";
}

RingBlock ring_block(RingLayout layout, int ring_size, long long chunk_tokens, int rank,
                     int step) {
  assert(ring_size >= 1 && rank >= 0 && rank < ring_size && step >= 0 && step < ring_size);
  RingBlock b;
  b.source = ((rank - step) % ring_size + ring_size) % ring_size;
  b.computed = true;
  b.q_tokens = chunk_tokens;
  b.kv_tokens = chunk_tokens;
  if (layout == RingLayout::kNonCausal) return b;
  if (b.source == rank) {
    b.mask = layout == RingLayout::kZigzag ? kernels::Mask::kZigzag : kernels::Mask::kCausal;
    return b;
  }
  const bool lower = b.source < rank;
  if (layout == RingLayout::kContiguous) {
    b.computed = lower;
    if (!lower) b.q_tokens = b.kv_tokens = 0;
    return b;
  }
  const long long c = chunk_tokens / 2;
  if (lower) {
    b.kv_tokens = c;  // both local chunks see the earlier chunk of the block only
  } else {
    b.q_offset = c;   // only the later local chunk sees anything of the block
    b.q_tokens = c;
  }
  return b;
}

long long global_token(RingLayout layout, int ring_size, long long chunk_tokens, int rank,
                       long long row) {
  if (layout != RingLayout::kZigzag) return rank * chunk_tokens + row;
  const long long c = chunk_tokens / 2;
  const long long chunk = row < c ? rank : 2LL * ring_size - 1 - rank;
  return chunk * c + row % c;
}

}  // namespace ringsim::ring
