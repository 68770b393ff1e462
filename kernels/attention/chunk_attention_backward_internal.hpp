// Internal interface between the backward dispatcher
// (chunk_attention_backward.cu), the fused backward kernel
// (chunk_attention_backward_fused*.cu), the cuBLAS path, the preprocessing
// kernel and the benchmark. Launchers take resolved arguments: default
// strides and scale filled in, `delta` set (given, or the workspace's).
#pragma once
#include <cuda_runtime.h>

#include "kernels/attention/chunk_attention_backward.hpp"

namespace ringsim::kernels {

// Checks the arguments and fills default (0) strides and scale; `delta` stays
// as given (null: the dispatcher computes it into the workspace).
Status resolve_backward_args(const ChunkAttentionBackwardArgs& in, ChunkAttentionBackwardArgs* out);

// Fused backward tilings (BwdTraits), named query rows per step x keys per CTA:
// kM64N128: 8 warps; S/dP 2x4 warps, dK/dV 4x2, dQ 2x4 (FlashAttention-2's
//           hdim-128 choice on sm80/sm90); dQ by red.global.add (any sm_80+);
// kM64N128Split: kM64N128 whose unmasked blocks skip the per-element mask
//           compares (a second copy of the exp loop);
// kM64N128Bulk, kM64N128BulkSplit: the same with dQ through shared memory and
//           the sm_90 bulk reduction (cp.reduce.async.bulk); sm_90a builds on
//           an sm_90 device only, else an invalid-argument status;
// kM64N64:  8 warps; S/dP 4x2, dK/dV 2x4, dQ 4x2: half the registers for dK/dV,
//           twice the dQ reductions and Q/dO reloads per flop;
// kM64N128HeadMajor: kM64N128 with FlashAttention-2's CTA order (the key
//           blocks of one head together) instead of kv heads varying fastest;
// kM64N128NoDq: timing only, kM64N128 without dQ (what its reductions cost).
enum class BwdTile {
  kAuto = 0,
  kM64N128 = 1,
  kM64N64 = 2,
  kM64N128NoDq = 3,
  kM64N128HeadMajor = 4,
  kM64N128Split = 5,
  kM64N128Bulk = 6,
  kM64N128BulkSplit = 7,
};
const char* bwd_tile_name(BwdTile);
// What kAuto runs on the current device: at head_dim 128 the bulk-reduction
// tile where it can run (bwd_bulk_available), else the split one; at 64 the
// original (measured, chunk_attention_backward.cu).
BwdTile auto_bwd_tile(int head_dim);
// The kBulk tiles can run: an sm_90a build on a compute capability 9.0 device
// (the forward's sm90_kernel_available()).
bool bwd_bulk_available();

// chunk_attention_backward with a chosen fused tile (kAuto: the public call).
Status run_attention_backward(const ChunkAttentionBackwardArgs& in, AttentionVariant, BwdTile,
                              void* workspace, std::size_t workspace_bytes, cublasContext* cublas,
                              cudaStream_t stream);

Status launch_fused_attention_backward(const ChunkAttentionBackwardArgs& resolved, BwdTile, cudaStream_t);
// Per-dtype instantiations (one translation unit each, so they compile in parallel).
Status launch_fused_attention_backward_bf16(const ChunkAttentionBackwardArgs& resolved, BwdTile, cudaStream_t);
Status launch_fused_attention_backward_fp16(const ChunkAttentionBackwardArgs& resolved, BwdTile, cudaStream_t);

Status launch_cublas_attention_backward(const ChunkAttentionBackwardArgs& resolved, void* workspace,
                                        std::size_t workspace_bytes, cublasContext* cublas, cudaStream_t);

// Row preprocessing: delta[h, i] = dO[i,h,:] . O[i,h,:] into `delta` (head
// stride delta_head_stride) when `compute_delta`; zeroes d_q when `zero_dq`.
Status launch_backward_prep(const ChunkAttentionBackwardArgs& resolved, float* delta,
                            long long delta_head_stride, bool compute_delta, bool zero_dq, cudaStream_t);

}  // namespace ringsim::kernels
