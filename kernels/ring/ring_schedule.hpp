// The pass-KV ring's forward schedule as the real executor runs it: which
// block a rank computes at each step, and where its tokens sit in the
// sequence. It mirrors the pass-kv schedule (sim/schedules/pass_kv.cpp)
// exactly (tests/sim/test_ring_mirror.cpp compares the two); CPU only, no CUDA.
//
// P ranks; rank d sends to (d+1)%P and receives from (d-1+P)%P. At step s
// rank d holds the K/V block of rank j = (d - s) mod P:
//   non-causal          every block full, q = kv = chunk
//   causal contiguous   j == d causal diagonal; j < d full; j > d masked
//   causal zigzag       (rank r holds chunks r and 2P-1-r, c = chunk/2)
//                       j == d zigzag diagonal q = kv = 2c;
//                       j < d  q = all 2c rows vs kv = first c of the block;
//                       j > d  q = last c rows vs kv = all 2c.
#pragma once
#include "kernels/common/kernel_types.hpp"

namespace ringsim::ring {

enum class RingLayout { kNonCausal, kContiguous, kZigzag };
const char* ring_layout_name(RingLayout);

struct RingBlock {
  bool computed = false;          // false: masked, no compute, no merge
  kernels::Mask mask = kernels::Mask::kFull;
  int source = 0;                 // rank whose K/V block this is
  long long q_offset = 0;         // first row of the rank's local query chunk
  long long q_tokens = 0;
  long long kv_offset = 0;        // first row of the held K/V block
  long long kv_tokens = 0;
};

// chunk_tokens: tokens per rank (even for kZigzag).
RingBlock ring_block(RingLayout, int ring_size, long long chunk_tokens, int rank, int step);

// Global position of local row `row` of rank `rank` (queries and keys alike).
long long global_token(RingLayout, int ring_size, long long chunk_tokens, int rank,
                       long long row);

}  // namespace ringsim::ring
