// fp64 CPU references for chunk attention and the ring merge. They define what
// the CUDA kernels compute; they build without CUDA so CI tests them.
//
// Layouts (dense, row-major): q [q_tokens, q_heads, head_dim],
// k/v [kv_tokens, kv_heads, head_dim], o [q_tokens, q_heads, head_dim],
// lse [q_heads, q_tokens] (natural log, -inf for a row that sees no key).
#pragma once
#include <vector>

#include "kernels/common/kernel_types.hpp"

namespace ringsim::kernels {

struct RefShape {
  int q_heads = 0, kv_heads = 0, head_dim = 0;  // kv_heads divides q_heads (GQA)
  long long q_tokens = 0, kv_tokens = 0;
  Mask mask = Mask::kFull;
};

// Softmax scale 1/sqrt(head_dim) when scale <= 0.
void attention_forward_cpu(const RefShape& shape, const double* q, const double* k,
                           const double* v, double* o, double* lse, double scale = 0.0);

// Gradients of one block (see chunk_attention_backward.hpp for the formulas):
// given dO [q_tokens, q_heads, head_dim] and the row's FINAL o (same layout)
// and lse [q_heads, q_tokens] (in a ring: after merging every block, not the
// block's own), overwrites dq [q_tokens, q_heads, head_dim] and dk, dv
// [kv_tokens, kv_heads, head_dim] with this block's share; dk and dv sum the q
// heads of each group. A row with lse = -inf gets no gradient.
void attention_backward_cpu(const RefShape& shape, const double* q, const double* k,
                            const double* v, const double* o, const double* d_o,
                            const double* lse, double* dq, double* dk, double* dv,
                            double scale = 0.0);

// Folds a block's (o, lse) into the accumulator (acc_o, acc_lse) as one ring
// step does; the accumulator starts at o = 0, lse = -inf. LSE rows are strided:
// element (head h, token t) at lse[h * lse_head_stride + t]. o rows are dense.
void attention_merge_cpu(long long tokens, int heads, int head_dim, double* acc_o,
                         double* acc_lse, long long acc_lse_head_stride, const double* o,
                         const double* lse, long long lse_head_stride);

}  // namespace ringsim::kernels
