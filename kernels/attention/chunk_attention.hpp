// Chunk attention on the GPU: the stable C++ API the calibration tool and the
// ring executor use. Plain device pointers, a stream, errors returned (never
// thrown, never exit). Include from C++ or CUDA; no CUDA header needed here.
//
// One call computes a query chunk against one key/value block:
//   O[i, h, :] = softmax_j(scale * Q[i,h,:] . K[j,h/g,:], visible(i,j)) V[j,h/g,:]
//   LSE[h, i]  = log sum_j exp(scale * Q[i,h,:] . K[j,h/g,:])   (natural log)
// with g = q_heads / kv_heads (GQA), fp32 accumulation, fp32 O and LSE.
// A row that sees no key gets O = 0 and LSE = -inf, which the merge treats
// as "nothing to add".
//
// Sub-views: every tensor has its own token stride (elements between
// consecutive tokens), so a block can be a slice of a larger buffer, e.g. the
// zigzag half blocks: q = both chunks vs kv = first chunk, or q = second chunk
// (q + c * q_token_stride, o + c * o_token_stride, lse + c with
// lse_head_stride = 2c) vs kv = both chunks. Heads within a token are
// contiguous (stride head_dim). Pointers need 16-byte alignment and token
// strides a multiple of 8 elements (inputs) / 4 elements (O).
#pragma once
#include <cstddef>

#include "kernels/common/kernel_types.hpp"

struct CUstream_st;    // cudaStream_t is CUstream_st*
struct cublasContext;  // cublasHandle_t is cublasContext*

namespace ringsim::kernels {

enum class AttentionVariant {
  kFused,          // flash-style kernel, chosen by device: kFusedSm90 on sm_90 (H100/H200),
                   // else kFusedPortable. What calibration and the ring executor run.
  kCublas,         // cuBLAS GEMM (fp32 scores) -> masked softmax kernel -> cuBLAS GEMM
  kFusedPortable,  // FlashAttention-2 style (mma.sync, cp.async): any sm_80+ GPU
  kFusedSm90,      // FlashAttention-3 style (wgmma, TMA, warp specialisation): sm_90
                   // only (a build for sm_90a); elsewhere an invalid-argument status
};
const char* variant_name(AttentionVariant);

struct ChunkAttentionArgs {
  Dtype dtype = Dtype::kBf16;
  Mask mask = Mask::kFull;
  int head_dim = 128;                       // 64 or 128
  int q_heads = 0, kv_heads = 0;            // kv_heads divides q_heads
  long long q_tokens = 0, kv_tokens = 0;    // diagonal masks: equal (zigzag: even)
  const void* q = nullptr;                  // [q_tokens, q_heads, head_dim] dtype
  const void* k = nullptr;                  // [kv_tokens, kv_heads, head_dim] dtype
  const void* v = nullptr;                  // [kv_tokens, kv_heads, head_dim] dtype
  float* o = nullptr;                       // [q_tokens, q_heads, head_dim] fp32
  float* lse = nullptr;                     // [q_heads, q_tokens] fp32
  long long q_token_stride = 0;             // 0: dense (q_heads * head_dim)
  long long kv_token_stride = 0;            // 0: dense (kv_heads * head_dim), K and V
  long long o_token_stride = 0;             // 0: dense (q_heads * head_dim)
  long long lse_head_stride = 0;            // 0: dense (q_tokens)
  float softmax_scale = 0.f;                // 0: 1/sqrt(head_dim)
};

// Matmul flops of the block: 4 q kv head_dim q_heads, halved by diagonal masks.
double chunk_attention_flops(const ChunkAttentionArgs&);

// Device workspace the variant needs (0 for the fused variants; kCublas holds fp32 scores
// and dtype probabilities: q_heads * q_tokens * kv_tokens * 6 bytes).
std::size_t chunk_attention_workspace_bytes(const ChunkAttentionArgs&, AttentionVariant);

// Enqueues the block on `stream`. `cublas` is needed by kCublas only (the call
// sets its stream). Checks arguments and launch errors; does not synchronise.
Status chunk_attention_forward(const ChunkAttentionArgs&, AttentionVariant, void* workspace,
                               std::size_t workspace_bytes, cublasContext* cublas,
                               CUstream_st* stream);

// What the fused kernel (kAuto) runs for these arguments, for calibration
// profiles (`kernel`, `tile`): its name, query rows and keys per CTA step, and
// the CTAs one SM of the current device holds (cudaOccupancy...). A block of
// q x kv with H query heads launches ceil(q / block_m) * H CTAs.
struct KernelTileInfo {
  const char* kernel = "";  // "ringsim-sm90" (Hopper kernel) or "ringsim-fused-fa2" (portable)
  int block_m = 0, block_n = 0, ctas_per_sm = 0;
};
Status chunk_attention_tile(const ChunkAttentionArgs&, KernelTileInfo*);

// Ring-step merge: acc = merge(acc, block), per (token, head) row:
//   lse' = log(exp(acc_lse) + exp(lse)),
//   acc_o' = acc_o exp(acc_lse - lse') + o exp(lse - lse'),
// safe when either or both LSEs are -inf (both: accumulator unchanged).
// The accumulator starts at acc_o = 0, acc_lse = -inf.
struct MergeArgs {
  long long tokens = 0;
  int heads = 0, head_dim = 0;              // head_dim a multiple of 4, <= 1024
  float* acc_o = nullptr;                   // [tokens, heads, head_dim]
  float* acc_lse = nullptr;                 // [heads, tokens], head stride below
  const float* o = nullptr;                 // [tokens, heads, head_dim]
  const float* lse = nullptr;               // [heads, tokens]
  long long acc_o_token_stride = 0, o_token_stride = 0;      // 0: heads * head_dim
  long long acc_lse_head_stride = 0, lse_head_stride = 0;    // 0: tokens
};
Status attention_merge(const MergeArgs&, CUstream_st* stream);

}  // namespace ringsim::kernels
