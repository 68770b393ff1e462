// Internal interface between the dispatcher (chunk_attention.cu), the fused
// kernel (chunk_attention_fused*.cu), the cuBLAS path and the benchmark.
#pragma once
#include <cuda_runtime.h>

#include "kernels/attention/chunk_attention.hpp"

namespace ringsim::kernels {

// Checks the arguments and fills default (0) strides and scale.
Status resolve_args(const ChunkAttentionArgs& in, ChunkAttentionArgs* out);

// Fused kernel tilings (FusedTraits): 0 = the dispatcher's choice.
// kN64/kN128: 8 warps x one m16 tile (Q in registers), 128 query rows, 64/128
// keys per stage; kW4M2N64: 4 warps x two m16 tiles, 2 CTAs per SM;
// kW8M2N64: 8 warps x two m16 tiles (256 query rows), 1 CTA per SM;
// kW4M2N32: as kW4M2N64 with 32 keys per stage (fewer registers);
// *OneBarrier: one barrier per key block (FusedTraits::kOneBarrier);
// *Lazy: rescale only when a row max grew by > 2^8 (FusedTraits::kLazyRescale).
enum class FusedTile {
  kAuto = 0, kN64 = 1, kN128 = 2, kW4M2N64 = 3, kW8M2N64 = 4, kW4M2N32 = 5,
  kW4M2N64OneBarrier = 6, kW4M2N32OneBarrier = 7, kW4M2N64Lazy = 8, kW4M2N64OneBarrierLazy = 9
};
const char* fused_tile_name(FusedTile);
Status launch_fused_attention(const ChunkAttentionArgs& resolved, FusedTile, cudaStream_t);
// Per-dtype instantiations (one translation unit each, so they compile in parallel).
Status launch_fused_attention_bf16(const ChunkAttentionArgs& resolved, FusedTile, cudaStream_t);
Status launch_fused_attention_fp16(const ChunkAttentionArgs& resolved, FusedTile, cudaStream_t);
Status fused_tile_info_bf16(const ChunkAttentionArgs& resolved, FusedTile, KernelTileInfo*);
Status fused_tile_info_fp16(const ChunkAttentionArgs& resolved, FusedTile, KernelTileInfo*);
inline constexpr const char* kFusedKernelName = "ringsim-fused-fa2";  // as profiles name it

// Hopper kernel tilings (Sm90Traits in chunk_attention_sm90.cuh): the keys per
// block, i.e. the N of the S = Q K^T wgmma. kN128: 128 for both head dims;
// kNWide: 176 (head_dim 128) or 192 (head_dim 64), fewer softmax passes and
// barriers per flop for more registers and shared memory.
enum class Sm90Tile { kAuto = 0, kN128 = 1, kNWide = 2 };
const char* sm90_tile_name(Sm90Tile, int head_dim);
int sm90_block_n(Sm90Tile, int head_dim);  // keys per K/V stage (kAuto: what it resolves to)
inline constexpr const char* kSm90KernelName = "ringsim-sm90";  // as profiles name it
Sm90Tile auto_sm90_tile(int head_dim, Mask mask);
// Whether the Hopper kernel was built (sm_90a) and the current device is sm_90.
bool sm90_kernel_available();
Status launch_sm90_attention(const ChunkAttentionArgs& resolved, Sm90Tile, cudaStream_t);
Status launch_sm90_attention_bf16(const ChunkAttentionArgs& resolved, Sm90Tile, cudaStream_t);
Status launch_sm90_attention_fp16(const ChunkAttentionArgs& resolved, Sm90Tile, cudaStream_t);

Status launch_cublas_attention(const ChunkAttentionArgs& resolved, void* workspace,
                               std::size_t workspace_bytes, cublasContext* cublas,
                               cudaStream_t);

}  // namespace ringsim::kernels
