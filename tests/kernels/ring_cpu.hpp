// CPU ring-attention driver over the fp64 reference, shared by the CPU and GPU
// tests: full-sequence tensors, chunk gathering, and the block schedule of the
// contiguous and zigzag layouts (which (q rows, kv rows, mask) each step runs).
#pragma once
#include <vector>

#include "kernels/attention/attention_ref.hpp"

namespace ringsim::kernels::test {

struct Sequence {
  int q_heads, kv_heads, head_dim;
  long long tokens;
  std::vector<double> q, k, v;  // [tokens, heads, head_dim]
};

// Rows `token_list` of a [tokens, heads * head_dim] tensor, densely.
inline std::vector<double> gather(const std::vector<double>& src, const std::vector<long long>& rows,
                                  long long width) {
  std::vector<double> out;
  out.reserve(rows.size() * width);
  for (long long r : rows) out.insert(out.end(), src.begin() + r * width, src.begin() + (r + 1) * width);
  return out;
}

inline std::vector<long long> range(long long begin, long long count) {
  std::vector<long long> out(count);
  for (long long i = 0; i < count; ++i) out[i] = begin + i;
  return out;
}

enum class Layout { kContiguous, kZigzag };

// Sequence tokens held by `rank` of a ring of `ranks` with chunk size c
// (contiguous: one chunk of c; zigzag: chunks rank and 2P-1-rank of c each).
inline std::vector<long long> rank_tokens(Layout layout, int rank, int ranks, long long c) {
  if (layout == Layout::kContiguous) return range(rank * c, c);
  auto a = range(rank * c, c), b = range((2LL * ranks - 1 - rank) * c, c);
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// One block of a ring step, in the rank's local row numbers.
struct BlockPlan {
  bool skip = false;
  long long q_begin = 0, q_count = 0, kv_begin = 0, kv_count = 0;
  Mask mask = Mask::kFull;
};

// What rank `r` computes against the kv of rank `s` (causal or not).
inline BlockPlan plan_block(Layout layout, bool causal, int r, int s, long long c) {
  const long long n = layout == Layout::kContiguous ? c : 2 * c;
  if (!causal) return {false, 0, n, 0, n, Mask::kFull};
  if (layout == Layout::kContiguous) {
    if (s > r) return {true};
    return {false, 0, c, 0, c, s == r ? Mask::kCausal : Mask::kFull};
  }
  if (s == r) return {false, 0, 2 * c, 0, 2 * c, Mask::kZigzag};
  if (s < r) return {false, 0, 2 * c, 0, c, Mask::kFull};  // both chunks vs chunk s
  return {false, c, c, 0, 2 * c, Mask::kFull};               // chunk 2P-1-r vs both
}

}  // namespace ringsim::kernels::test
