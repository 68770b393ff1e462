// Launcher of the fused kernel for one dtype: picks the instantiation
// (head_dim x tile x diagonal) and launches it. Included once per dtype.
#pragma once
#include "kernels/attention/chunk_attention_fused.cuh"
#include "kernels/attention/chunk_attention_internal.hpp"
#include "kernels/common/cuda_check.cuh"

namespace ringsim::kernels::fused {

// Kernel parameters of a resolved call (shared with the Hopper kernel).
inline FusedParams fused_params(const ChunkAttentionArgs& a) {
  return {a.q, a.k, a.v, a.o, a.lse,
          a.q_token_stride, a.kv_token_stride, a.o_token_stride, a.lse_head_stride,
          static_cast<int>(a.q_tokens), static_cast<int>(a.kv_tokens),
          a.q_heads / a.kv_heads, a.softmax_scale * kLog2e};
}

template <class Tr, bool kDiagonal>
Status launch_instance(const ChunkAttentionArgs& a, cudaStream_t stream) {
  auto* kernel = fused_attention_kernel<Tr, kDiagonal>;
  // Per launch, not cached: the attribute belongs to the current device's context.
  RINGSIM_TRY_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        Tr::kSmemBytes));
  const FusedParams p = fused_params(a);
  const dim3 grid(static_cast<unsigned>((a.q_tokens + Tr::kBlockM - 1) / Tr::kBlockM),
                  static_cast<unsigned>(a.q_heads));
  kernel<<<grid, Tr::kThreads, Tr::kSmemBytes, stream>>>(p);
  return cuda_status(cudaGetLastError(), "fused_attention_kernel launch");
}

template <class Tr>
Status launch_masked(const ChunkAttentionArgs& a, cudaStream_t stream) {
  if (a.mask == Mask::kFull) return launch_instance<Tr, false>(a, stream);
  return launch_instance<Tr, true>(a, stream);  // causal == zigzag (j <= i)
}

// The tilings (FusedTile), as FusedTraits<T, head_dim, kBlockN, kWarps, kMTiles, kMinBlocks>.
template <typename T, int kHeadDim>
Status launch_tile(const ChunkAttentionArgs& a, FusedTile tile, cudaStream_t stream) {
  switch (tile) {
    case FusedTile::kN64: return launch_masked<FusedTraits<T, kHeadDim, 64, 8, 1, 1>>(a, stream);
    case FusedTile::kN128: return launch_masked<FusedTraits<T, kHeadDim, 128, 8, 1, 1>>(a, stream);
    case FusedTile::kW4M2N64: return launch_masked<FusedTraits<T, kHeadDim, 64, 4, 2, 2>>(a, stream);
    case FusedTile::kW8M2N64: return launch_masked<FusedTraits<T, kHeadDim, 64, 8, 2, 1>>(a, stream);
    case FusedTile::kW4M2N32: return launch_masked<FusedTraits<T, kHeadDim, 32, 4, 2, 2>>(a, stream);
    case FusedTile::kW4M2N64OneBarrier:
      return launch_masked<FusedTraits<T, kHeadDim, 64, 4, 2, 2, true>>(a, stream);
    case FusedTile::kW4M2N32OneBarrier:
      return launch_masked<FusedTraits<T, kHeadDim, 32, 4, 2, 2, true>>(a, stream);
    case FusedTile::kW4M2N64Lazy:
      return launch_masked<FusedTraits<T, kHeadDim, 64, 4, 2, 2, false, true>>(a, stream);
    case FusedTile::kW4M2N64OneBarrierLazy:
      return launch_masked<FusedTraits<T, kHeadDim, 64, 4, 2, 2, true, true>>(a, stream);
    default: return invalid("unknown fused tile");
  }
}

// kAuto: the tile measured fastest on every benchmark shape (H200, 2026-11-26,
// kernels/README.md): w4m2n64 with one barrier and lazy rescale, e.g. bf16 d128
// 4K full 344 TFLOP/s vs 316 (w4m2n64), 279 (m128n128); causal 4K 267 vs 237.
inline FusedTile auto_tile(int /*head_dim*/, Mask /*mask*/) { return FusedTile::kW4M2N64OneBarrierLazy; }

template <typename T>
Status launch_typed(const ChunkAttentionArgs& a, FusedTile tile, cudaStream_t stream) {
  if (tile == FusedTile::kAuto) tile = auto_tile(a.head_dim, a.mask);
  if (a.head_dim == 64) return launch_tile<T, 64>(a, tile, stream);
  return launch_tile<T, 128>(a, tile, stream);
}

}  // namespace ringsim::kernels::fused
