// Dispatcher of chunk attention (API in chunk_attention.hpp): argument checks,
// default strides, workspace query, variant selection.
#include <climits>
#include <cmath>
#include <cstdint>

#include "kernels/attention/chunk_attention_internal.hpp"
#include "kernels/common/cuda_check.cuh"

namespace ringsim::kernels {
namespace {

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// Largest token count per block: the kernels index rows with int.
constexpr long long kMaxTokens = INT_MAX / 2;

}  // namespace

const char* variant_name(AttentionVariant v) {
  switch (v) {
    case AttentionVariant::kFused: return "fused";
    case AttentionVariant::kCublas: return "cublas";
    case AttentionVariant::kFusedPortable: return "fused_portable";
    case AttentionVariant::kFusedSm90: return "fused_sm90";
  }
  return "?";
}

const char* fused_tile_name(FusedTile t) {
  switch (t) {
    case FusedTile::kAuto: return "auto";
    case FusedTile::kN64: return "m128n64";
    case FusedTile::kN128: return "m128n128";
    case FusedTile::kW4M2N64: return "w4m2n64";
    case FusedTile::kW8M2N64: return "w8m2n64";
    case FusedTile::kW4M2N32: return "w4m2n32";
    case FusedTile::kW4M2N64OneBarrier: return "w4m2n64_1bar";
    case FusedTile::kW4M2N32OneBarrier: return "w4m2n32_1bar";
    case FusedTile::kW4M2N64Lazy: return "w4m2n64_lazy";
    case FusedTile::kW4M2N64OneBarrierLazy: return "w4m2n64_1bar_lazy";
  }
  return "?";
}

double chunk_attention_flops(const ChunkAttentionArgs& a) {
  const double full = 4.0 * double(a.q_tokens) * double(a.kv_tokens) * a.head_dim * a.q_heads;
  return a.mask == Mask::kFull ? full : full / 2;
}

Status resolve_args(const ChunkAttentionArgs& in, ChunkAttentionArgs* out) {
  ChunkAttentionArgs a = in;
  if (a.head_dim != 64 && a.head_dim != 128) return invalid("head_dim must be 64 or 128");
  if (a.q_heads <= 0 || a.kv_heads <= 0 || a.q_heads % a.kv_heads != 0)
    return invalid("kv_heads must be positive and divide q_heads");
  if (a.q_tokens < 0 || a.kv_tokens < 0 || a.q_tokens > kMaxTokens || a.kv_tokens > kMaxTokens)
    return invalid("token counts must be in [0, 2^30)");
  if (a.mask != Mask::kFull && a.q_tokens != a.kv_tokens)
    return invalid("diagonal masks need q_tokens == kv_tokens");
  if (a.mask == Mask::kZigzag && a.q_tokens % 2 != 0)
    return invalid("zigzag_diagonal needs an even token count (2 chunks)");
  if (!a.q || !a.k || !a.v || !a.o || !a.lse) return invalid("null tensor pointer");
  if (!aligned16(a.q) || !aligned16(a.k) || !aligned16(a.v) || !aligned16(a.o))
    return invalid("q, k, v, o must be 16-byte aligned");
  if (a.q_token_stride == 0) a.q_token_stride = static_cast<long long>(a.q_heads) * a.head_dim;
  if (a.kv_token_stride == 0) a.kv_token_stride = static_cast<long long>(a.kv_heads) * a.head_dim;
  if (a.o_token_stride == 0) a.o_token_stride = static_cast<long long>(a.q_heads) * a.head_dim;
  if (a.lse_head_stride == 0) a.lse_head_stride = a.q_tokens;
  if (a.q_token_stride % 8 || a.kv_token_stride % 8 || a.o_token_stride % 4)
    return invalid("token strides must be multiples of 8 (q, kv) and 4 (o) elements");
  if (a.q_token_stride < static_cast<long long>(a.q_heads) * a.head_dim ||
      a.kv_token_stride < static_cast<long long>(a.kv_heads) * a.head_dim ||
      a.o_token_stride < static_cast<long long>(a.q_heads) * a.head_dim ||
      a.lse_head_stride < a.q_tokens)
    return invalid("a stride is smaller than the row it steps over");
  if (a.softmax_scale == 0.f) a.softmax_scale = 1.f / std::sqrt(static_cast<float>(a.head_dim));
  *out = a;
  return {};
}

std::size_t chunk_attention_workspace_bytes(const ChunkAttentionArgs& a, AttentionVariant v) {
  if (v != AttentionVariant::kCublas) return 0;
  return static_cast<std::size_t>(a.q_heads) * a.q_tokens * a.kv_tokens * (4 + 2);
}

Status launch_fused_attention(const ChunkAttentionArgs& a, FusedTile tile, cudaStream_t s) {
  return a.dtype == Dtype::kBf16 ? launch_fused_attention_bf16(a, tile, s)
                                 : launch_fused_attention_fp16(a, tile, s);
}

Status chunk_attention_tile(const ChunkAttentionArgs& in, KernelTileInfo* out) {
  ChunkAttentionArgs a;
  RINGSIM_TRY(resolve_args(in, &a));
  // What kFused runs (chunk_attention_forward): on sm_90 the persistent
  // Hopper kernel, one CTA per SM walking 128-row query tiles (auto tile
  // m128n128 at d64 and d128, auto_sm90_tile), so its waves are tiles / SMs.
  if (a.kv_tokens > 0 && sm90_kernel_available()) {
    *out = {kSm90KernelName, 128, sm90_block_n(auto_sm90_tile(a.head_dim, a.mask), a.head_dim), 1};
    return {};
  }
  return a.dtype == Dtype::kBf16 ? fused_tile_info_bf16(a, FusedTile::kAuto, out)
                                 : fused_tile_info_fp16(a, FusedTile::kAuto, out);
}

Status chunk_attention_forward(const ChunkAttentionArgs& in, AttentionVariant variant,
                               void* workspace, std::size_t workspace_bytes,
                               cublasContext* cublas, CUstream_st* stream) {
  ChunkAttentionArgs a;
  RINGSIM_TRY(resolve_args(in, &a));
  if (a.q_tokens == 0) return {};
  switch (variant) {
    case AttentionVariant::kCublas:
      return launch_cublas_attention(a, workspace, workspace_bytes, cublas, stream);
    case AttentionVariant::kFusedPortable: return launch_fused_attention(a, FusedTile::kAuto, stream);
    case AttentionVariant::kFusedSm90:
      if (!sm90_kernel_available())
        return invalid("fused_sm90 needs an sm_90 GPU (H100/H200) and a build for sm_90a");
      [[fallthrough]];
    case AttentionVariant::kFused:
      // With no keys there is nothing for TMA to load (a zero-sized tensor
      // map is invalid): every row is O = 0, LSE = -inf, which the portable
      // kernel writes.
      if (a.kv_tokens > 0 && sm90_kernel_available())
        return launch_sm90_attention(a, Sm90Tile::kAuto, stream);
      return launch_fused_attention(a, FusedTile::kAuto, stream);
  }
  return invalid("unknown attention variant");
}

}  // namespace ringsim::kernels
