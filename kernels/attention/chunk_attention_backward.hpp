// Chunk attention backward on the GPU: the stable C++ API the calibration tool
// and the ring executor use (the forward is chunk_attention.hpp). Plain device
// pointers, a stream, errors returned as Status (never thrown, never exit).
//
// One call adds one q x kv block's share of the gradients:
//   P[i,j]  = exp(scale * Q[i,h,:] . K[j,h/g,:] - LSE[h,i])     (visible(i,j), else 0)
//   D[h,i]  = sum_c dO[i,h,c] O[i,h,c]
//   dS[i,j] = P[i,j] (dO[i,h,:] . V[j,h/g,:] - D[h,i])
//   dQ[i,h,:]   (+)= scale sum_j dS[i,j] K[j,h/g,:]
//   dK[j,hk,:]  (+)= scale sum_{h in group hk} sum_i dS[i,j] Q[i,h,:]
//   dV[j,hk,:]  (+)= sum_{h in group hk} sum_i P[i,j] dO[i,h,:]
// with g = q_heads / kv_heads: dK and dV are reduced over the q heads of a group.
//
// LSE and O are the row's FINAL values, not the block's own: in a ring, the
// forward merges every block of the row, and the backward of each block takes
// that merged LSE (and D from the merged O). Then the blocks' dQ add up to the
// gradient of the whole row, and each block's P is its exact share of the full
// softmax. Passing a block's own LSE gives the gradient of that block alone.
// A row whose LSE is -inf (it saw no key anywhere) gets no gradient.
//
// `accumulate` (one flag for dQ, dK and dV): false overwrites the outputs,
// true adds to them (fp32), as a ring does: dQ stays home and collects every
// step; dK/dV travel with K/V and collect at each rank they visit.
// Sub-views as in the forward: every tensor has its own token stride, so a
// block may be a slice of a larger buffer (the zigzag half blocks).
#pragma once
#include <cstddef>

#include "kernels/attention/chunk_attention.hpp"

namespace ringsim::kernels {

struct ChunkAttentionBackwardArgs {
  Dtype dtype = Dtype::kBf16;
  Mask mask = Mask::kFull;
  int head_dim = 128;                       // 64 or 128
  int q_heads = 0, kv_heads = 0;            // kv_heads divides q_heads
  long long q_tokens = 0, kv_tokens = 0;    // diagonal masks: equal (zigzag: even)
  const void* q = nullptr;                  // [q_tokens, q_heads, head_dim] dtype
  const void* k = nullptr;                  // [kv_tokens, kv_heads, head_dim] dtype
  const void* v = nullptr;                  // [kv_tokens, kv_heads, head_dim] dtype
  const float* o = nullptr;                 // [q_tokens, q_heads, head_dim] fp32, final O
  const void* d_o = nullptr;                // [q_tokens, q_heads, head_dim] dtype, dL/dO
  const float* lse = nullptr;               // [q_heads, q_tokens] fp32, final LSE (natural log)
  const float* delta = nullptr;             // optional D = rowsum(dO * O) [q_heads, q_tokens]
                                            //   fp32; null: computed from o and d_o
  float* d_q = nullptr;                     // [q_tokens, q_heads, head_dim] fp32
  float* d_k = nullptr;                     // [kv_tokens, kv_heads, head_dim] fp32
  float* d_v = nullptr;                     // [kv_tokens, kv_heads, head_dim] fp32
  bool accumulate = false;                  // add to d_q, d_k, d_v instead of overwriting
  long long q_token_stride = 0;             // 0: dense (q_heads * head_dim)
  long long kv_token_stride = 0;            // 0: dense (kv_heads * head_dim), K and V
  long long o_token_stride = 0;             // 0: dense (q_heads * head_dim)
  long long do_token_stride = 0;            // 0: dense (q_heads * head_dim)
  long long dq_token_stride = 0;            // 0: dense (q_heads * head_dim)
  long long dkv_token_stride = 0;           // 0: dense (kv_heads * head_dim), dK and dV
  long long lse_head_stride = 0;            // 0: dense (q_tokens)
  long long delta_head_stride = 0;          // 0: lse_head_stride (when delta is given)
  float softmax_scale = 0.f;                // 0: 1/sqrt(head_dim)
};
// Pointers need 16-byte alignment; token strides are multiples of 8 elements
// (q, kv, d_o) or 4 elements (o, d_q, dkv). `o` may be null when `delta` is given.

// Matmul flops of the block's backward: 2.5x the forward's (5 matrix products
// against 2), so 10 q kv head_dim q_heads, halved by diagonal masks.
double chunk_attention_backward_flops(const ChunkAttentionBackwardArgs&);

// Device workspace the variant needs: kFused q_heads * q_tokens * 4 bytes for D
// (0 when `delta` is given); kCublas that plus q_heads * q_tokens * kv_tokens
// * 6 bytes (fp32 scores, then dP; dtype P, then dS).
std::size_t chunk_attention_backward_workspace_bytes(const ChunkAttentionBackwardArgs&,
                                                     AttentionVariant);

// Enqueues the block's backward on `stream`: D = rowsum(dO * O) (unless given;
// also zeroes d_q when not accumulating), then the variant's kernels. `cublas`
// is needed by kCublas only. Checks arguments and launches; does not synchronise.
Status chunk_attention_backward(const ChunkAttentionBackwardArgs&, AttentionVariant,
                                void* workspace, std::size_t workspace_bytes,
                                cublasContext* cublas, CUstream_st* stream);

// D = rowsum(dO * O) into `delta` (head stride args.delta_head_stride, else
// lse_head_stride), for callers that run many blocks of the same rows: a ring
// computes it once per layer and passes it as args.delta to every step.
Status chunk_attention_backward_delta(const ChunkAttentionBackwardArgs&, float* delta,
                                      CUstream_st* stream);

}  // namespace ringsim::kernels
