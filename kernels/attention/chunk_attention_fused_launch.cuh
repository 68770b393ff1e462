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

// Calls f.template operator()<Traits>() with the traits of `tile`: one switch
// over the tilings (FusedTile) for launching them and for describing them.
template <typename T, int kHeadDim, typename F>
Status visit_tile(FusedTile tile, F&& f) {
  switch (tile) {
    case FusedTile::kN64: return f.template operator()<FusedTraits<T, kHeadDim, 64, 8, 1, 1>>();
    case FusedTile::kN128: return f.template operator()<FusedTraits<T, kHeadDim, 128, 8, 1, 1>>();
    case FusedTile::kW4M2N64: return f.template operator()<FusedTraits<T, kHeadDim, 64, 4, 2, 2>>();
    case FusedTile::kW8M2N64: return f.template operator()<FusedTraits<T, kHeadDim, 64, 8, 2, 1>>();
    case FusedTile::kW4M2N32: return f.template operator()<FusedTraits<T, kHeadDim, 32, 4, 2, 2>>();
    case FusedTile::kW4M2N64OneBarrier: return f.template operator()<FusedTraits<T, kHeadDim, 64, 4, 2, 2, true>>();
    case FusedTile::kW4M2N32OneBarrier: return f.template operator()<FusedTraits<T, kHeadDim, 32, 4, 2, 2, true>>();
    case FusedTile::kW4M2N64Lazy:
      return f.template operator()<FusedTraits<T, kHeadDim, 64, 4, 2, 2, false, true>>();
    case FusedTile::kW4M2N64OneBarrierLazy:
      return f.template operator()<FusedTraits<T, kHeadDim, 64, 4, 2, 2, true, true>>();
    default: return invalid("unknown fused tile");
  }
}

// The tile's CTA shape and how many of its CTAs one SM of the current device
// holds (registers, shared memory and __launch_bounds__ all counted).
template <class Tr>
Status tile_info(const ChunkAttentionArgs& a, KernelTileInfo* out) {
  auto* kernel = a.mask == Mask::kFull ? fused_attention_kernel<Tr, false> : fused_attention_kernel<Tr, true>;
  RINGSIM_TRY_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::kSmemBytes));
  int ctas = 0;
  RINGSIM_TRY_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&ctas, kernel, Tr::kThreads, Tr::kSmemBytes));
  *out = KernelTileInfo{kFusedKernelName, Tr::kBlockM, Tr::kBlockN, ctas};
  return {};
}

// kAuto: the tile measured fastest on every benchmark shape (H200, 2026-11-26,
// kernels/README.md): w4m2n64 with one barrier and lazy rescale, e.g. bf16 d128
// 4K full 344 TFLOP/s vs 316 (w4m2n64), 279 (m128n128); causal 4K 267 vs 237.
inline FusedTile auto_tile(int /*head_dim*/, Mask /*mask*/) { return FusedTile::kW4M2N64OneBarrierLazy; }

template <typename T, typename F>
Status visit_typed(const ChunkAttentionArgs& a, FusedTile tile, F&& f) {
  if (tile == FusedTile::kAuto) tile = auto_tile(a.head_dim, a.mask);
  if (a.head_dim == 64) return visit_tile<T, 64>(tile, f);
  return visit_tile<T, 128>(tile, f);
}

template <typename T>
Status launch_typed(const ChunkAttentionArgs& a, FusedTile tile, cudaStream_t stream) {
  return visit_typed<T>(a, tile, [&]<class Tr>() { return launch_masked<Tr>(a, stream); });
}

template <typename T>
Status tile_info_typed(const ChunkAttentionArgs& a, FusedTile tile, KernelTileInfo* out) {
  return visit_typed<T>(a, tile, [&]<class Tr>() { return tile_info<Tr>(a, out); });
}

}  // namespace ringsim::kernels::fused
