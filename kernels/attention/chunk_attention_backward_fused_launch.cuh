// Launcher of the fused backward kernel for one dtype: picks the instantiation
// (head_dim x tile x diagonal) and launches it. Included once per dtype.
#pragma once
#include "kernels/attention/chunk_attention_backward_fused_kernel.cuh"
#include "kernels/attention/chunk_attention_backward_internal.hpp"
#include "kernels/common/cuda_check.cuh"

namespace ringsim::kernels::fused_bwd {

template <class Tr, bool kDiagonal, DqMode kDqMode = DqMode::kAtomic, bool kSplitMask = false>
Status launch_instance(const ChunkAttentionBackwardArgs& a, cudaStream_t stream, bool heads_fastest = true) {
  auto* kernel = fused_attention_backward_kernel<Tr, kDiagonal, kDqMode, kSplitMask>;
  constexpr int kSmemBytes = Tr::kSmemBytes + (kDqMode == DqMode::kBulk ? Tr::kBulkExtraBytes : 0);
  // Per launch, not cached: the attribute belongs to the current device's context.
  RINGSIM_TRY_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
  const BwdParams p{a.q, a.k, a.v, a.d_o, a.lse, a.delta, a.d_q, a.d_k, a.d_v,
                    a.q_token_stride, a.kv_token_stride, a.do_token_stride, a.dq_token_stride,
                    a.dkv_token_stride, a.lse_head_stride, a.delta_head_stride,
                    static_cast<int>(a.q_tokens), static_cast<int>(a.kv_tokens), a.kv_heads,
                    a.q_heads / a.kv_heads, a.softmax_scale, a.softmax_scale * kLog2e, a.accumulate,
                    heads_fastest};
  const long long blocks = (a.kv_tokens + Tr::kBlockN - 1) / Tr::kBlockN * a.kv_heads;
  if (blocks == 0) return {};
  if (blocks > 0x7fffffffLL) return invalid("backward: kv_tokens * kv_heads too large for one launch");
  kernel<<<static_cast<unsigned>(blocks), Tr::kThreads, kSmemBytes, stream>>>(p);
  return cuda_status(cudaGetLastError(), "fused_attention_backward_kernel launch");
}

template <class Tr, DqMode kDqMode = DqMode::kAtomic, bool kSplitMask = false>
Status launch_masked(const ChunkAttentionBackwardArgs& a, cudaStream_t stream, bool heads_fastest = true) {
  if (a.mask == Mask::kFull) return launch_instance<Tr, false, kDqMode, kSplitMask>(a, stream, heads_fastest);
  return launch_instance<Tr, true, kDqMode, kSplitMask>(a, stream, heads_fastest);  // causal == zigzag (j <= i)
}

// The tilings (BwdTile) as BwdTraits<T, head_dim, kBlockM, kBlockN, kWarps,
// kSdPWarpsM, kdKVWarpsN, kdQWarpsM>, and how dQ leaves the CTA. The kBulk
// tiles are launched only on sm_90 devices of sm_90a builds (the dispatcher,
// chunk_attention_backward.cu, checks before calling).
template <typename T, int kHeadDim>
Status launch_tile(const ChunkAttentionBackwardArgs& a, BwdTile tile, cudaStream_t stream) {
  using M64N128 = BwdTraits<T, kHeadDim, 64, 128, 8, 2, 4, 2>;
  switch (tile) {
    case BwdTile::kM64N128: return launch_masked<M64N128>(a, stream);
    case BwdTile::kM64N128Split: return launch_masked<M64N128, DqMode::kAtomic, true>(a, stream);
    case BwdTile::kM64N128Bulk: return launch_masked<M64N128, DqMode::kBulk>(a, stream);
    case BwdTile::kM64N128BulkSplit: return launch_masked<M64N128, DqMode::kBulk, true>(a, stream);
    case BwdTile::kM64N64: return launch_masked<BwdTraits<T, kHeadDim, 64, 64, 8, 4, 2, 4>>(a, stream);
    case BwdTile::kM64N128HeadMajor: return launch_masked<M64N128>(a, stream, false);
    case BwdTile::kM64N128NoDq:  // timing only: full mask
      return launch_instance<M64N128, false, DqMode::kNone>(a, stream);
    default: return invalid("unknown fused backward tile");
  }
}

// kAuto is resolved by the dispatcher (auto_bwd_tile, chunk_attention_backward.cu).
template <typename T>
Status launch_typed(const ChunkAttentionBackwardArgs& a, BwdTile tile, cudaStream_t stream) {
  if (a.head_dim == 64) return launch_tile<T, 64>(a, tile, stream);
  return launch_tile<T, 128>(a, tile, stream);
}

}  // namespace ringsim::kernels::fused_bwd
