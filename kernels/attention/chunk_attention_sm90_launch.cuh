// Launcher of the Hopper kernel for one dtype: tensor maps, instantiation
// (head_dim x kBlockN x diagonal), persistent grid. Included once per dtype.
#pragma once
#include <algorithm>

#include "kernels/attention/chunk_attention_fused_launch.cuh"  // fused_params
#include "kernels/attention/chunk_attention_internal.hpp"
#include "kernels/attention/chunk_attention_sm90.cuh"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/tensor_map.hpp"

namespace ringsim::kernels::sm90 {

template <class Tr, bool kDiagonal>
Status launch_instance(const ChunkAttentionArgs& a, cudaStream_t stream) {
  CUtensorMap tm_q, tm_k, tm_v;
  RINGSIM_TRY(encode_token_head_map(&tm_q, a.q, a.dtype, Tr::kHeadDim, a.q_heads, a.q_tokens,
                                    a.q_token_stride, Tr::kBlockM));
  RINGSIM_TRY(encode_token_head_map(&tm_k, a.k, a.dtype, Tr::kHeadDim, a.kv_heads, a.kv_tokens,
                                    a.kv_token_stride, Tr::kBlockN));
  RINGSIM_TRY(encode_token_head_map(&tm_v, a.v, a.dtype, Tr::kHeadDim, a.kv_heads, a.kv_tokens,
                                    a.kv_token_stride, Tr::kBlockN));
  auto* kernel = attention_kernel<Tr, kDiagonal>;
  // Per launch, not cached: the attribute belongs to the current device's context.
  RINGSIM_TRY_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        Tr::kSmemBytes));
  int device = 0, sms = 0;
  RINGSIM_TRY_CUDA(cudaGetDevice(&device));
  RINGSIM_TRY_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const FusedParams p = fused::fused_params(a);
  const int m_blocks = static_cast<int>((a.q_tokens + Tr::kBlockM - 1) / Tr::kBlockM);
  const TileSpace ts{m_blocks, m_blocks * a.q_heads};
  const int grid = std::min(ts.tiles, sms);  // one persistent CTA per SM (shared memory allows one)
  kernel<<<grid, Tr::kThreads, Tr::kSmemBytes, stream>>>(tm_q, tm_k, tm_v, p, ts);
  return cuda_status(cudaGetLastError(), "sm90 attention_kernel launch");
}

template <class Tr>
Status launch_masked(const ChunkAttentionArgs& a, cudaStream_t stream) {
  if (a.mask == Mask::kFull) return launch_instance<Tr, false>(a, stream);
  return launch_instance<Tr, true>(a, stream);  // causal == zigzag (j <= i)
}

// The tilings (Sm90Tile) as Sm90Traits<T, head_dim, kBlockN, kStages>.
template <typename T, int kHeadDim>
Status launch_tile(const ChunkAttentionArgs& a, Sm90Tile tile, cudaStream_t stream) {
  switch (tile) {
    case Sm90Tile::kN128: return launch_masked<Sm90Traits<T, kHeadDim, 128, 2>>(a, stream);
    case Sm90Tile::kNWide:
      return launch_masked<Sm90Traits<T, kHeadDim, kHeadDim == 128 ? 176 : 192, 2>>(a, stream);
    default: return invalid("unknown sm90 tile");
  }
}

// kAuto: see auto_sm90_tile (chunk_attention_sm90.cu) for the measurements.
template <typename T>
Status launch_typed(const ChunkAttentionArgs& a, Sm90Tile tile, cudaStream_t stream) {
  if (tile == Sm90Tile::kAuto) tile = auto_sm90_tile(a.head_dim, a.mask);
  if (a.head_dim == 64) return launch_tile<T, 64>(a, tile, stream);
  return launch_tile<T, 128>(a, tile, stream);
}

}  // namespace ringsim::kernels::sm90
