// Dispatcher of the chunk attention backward (API in chunk_attention_backward.hpp):
// argument checks, default strides, workspace query, D and dQ preprocessing,
// variant selection.
#include <cmath>
#include <cstdint>

#include "kernels/attention/chunk_attention_backward_internal.hpp"
#include "kernels/attention/chunk_attention_internal.hpp"
#include "kernels/common/cuda_check.cuh"

namespace ringsim::kernels {
namespace {

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

constexpr std::size_t kWorkspaceAlign = 256;
std::size_t round_up(std::size_t n) { return (n + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign; }

// Bytes of the D buffer the dispatcher keeps in the workspace (0 when given).
std::size_t delta_bytes(const ChunkAttentionBackwardArgs& a) {
  return a.delta ? 0 : round_up(static_cast<std::size_t>(a.q_heads) * a.q_tokens * sizeof(float));
}

// Defaults and checks of the row tensors the forward has no counterpart for:
// o and d_o (read by the preprocessing) and delta's layout.
Status resolve_row_tensors(ChunkAttentionBackwardArgs& a) {
  if (!a.d_o || (!a.o && !a.delta)) return invalid("backward: d_o is null, or o is null and no delta is given");
  if (!aligned16(a.d_o) || (a.o && !aligned16(a.o))) return invalid("backward: o and d_o must be 16-byte aligned");
  const long long q_row = static_cast<long long>(a.q_heads) * a.head_dim;
  if (a.o_token_stride == 0) a.o_token_stride = q_row;
  if (a.do_token_stride == 0) a.do_token_stride = q_row;
  if (a.lse_head_stride == 0) a.lse_head_stride = a.q_tokens;
  if (a.delta_head_stride == 0) a.delta_head_stride = a.lse_head_stride;
  if (a.do_token_stride % 8 || a.o_token_stride % 4)
    return invalid("backward: token strides must be multiples of 8 (d_o) and 4 (o) elements");
  if (a.o_token_stride < q_row || a.do_token_stride < q_row || a.delta_head_stride < a.q_tokens)
    return invalid("backward: a stride of o, d_o or delta is smaller than the row it steps over");
  return {};
}

}  // namespace

const char* bwd_tile_name(BwdTile t) {
  switch (t) {
    case BwdTile::kAuto: return "auto";
    case BwdTile::kM64N128: return "m64n128";
    case BwdTile::kM64N64: return "m64n64";
    case BwdTile::kM64N128NoDq: return "m64n128_no_dq";
    case BwdTile::kM64N128HeadMajor: return "m64n128_head_major";
    case BwdTile::kM64N128Split: return "m64n128_split";
    case BwdTile::kM64N128Bulk: return "m64n128_bulk";
    case BwdTile::kM64N128BulkSplit: return "m64n128_bulk_split";
  }
  return "?";
}

bool bwd_bulk_available() { return sm90_kernel_available(); }

// Measured choice (H100, 2026-11-27, results/2026-11-27-h100-bwdtune-run1;
// kernels/README.md, backward tuning log): d128 bulk+split, bf16 4K full 2.62
// ms vs 2.85 (the original), 8K full 10.31 vs 11.05, causal 8K 5.12 vs 6.13;
// split alone 2.70, 10.54, 5.35 (what other GPUs get). d64: the original, 1.65
// ms vs 1.70 for bulk+split (its dQ tile is half the size, it never spilled).
BwdTile auto_bwd_tile(int head_dim) {
  if (head_dim != 128) return BwdTile::kM64N128;
  return bwd_bulk_available() ? BwdTile::kM64N128BulkSplit : BwdTile::kM64N128Split;
}

double chunk_attention_backward_flops(const ChunkAttentionBackwardArgs& a) {
  const double full = 10.0 * double(a.q_tokens) * double(a.kv_tokens) * a.head_dim * a.q_heads;
  return a.mask == Mask::kFull ? full : full / 2;
}

Status resolve_backward_args(const ChunkAttentionBackwardArgs& in, ChunkAttentionBackwardArgs* out) {
  // Shapes, masks, Q/K/V and their strides are checked as the forward checks
  // them, with d_q in O's place (same shape, fp32).
  ChunkAttentionArgs f;
  f.dtype = in.dtype, f.mask = in.mask, f.head_dim = in.head_dim;
  f.q_heads = in.q_heads, f.kv_heads = in.kv_heads, f.q_tokens = in.q_tokens, f.kv_tokens = in.kv_tokens;
  f.q = in.q, f.k = in.k, f.v = in.v, f.o = in.d_q, f.lse = const_cast<float*>(in.lse);
  f.q_token_stride = in.q_token_stride, f.kv_token_stride = in.kv_token_stride;
  f.o_token_stride = in.dq_token_stride, f.lse_head_stride = in.lse_head_stride;
  f.softmax_scale = in.softmax_scale;
  RINGSIM_TRY(resolve_args(f, &f));
  ChunkAttentionBackwardArgs a = in;
  a.q_token_stride = f.q_token_stride, a.kv_token_stride = f.kv_token_stride;
  a.dq_token_stride = f.o_token_stride, a.lse_head_stride = f.lse_head_stride;
  a.softmax_scale = f.softmax_scale;
  RINGSIM_TRY(resolve_row_tensors(a));
  if (!a.d_k || !a.d_v) return invalid("backward: null d_k or d_v");
  if (!aligned16(a.d_k) || !aligned16(a.d_v)) return invalid("backward: d_k and d_v must be 16-byte aligned");
  const long long kv_row = static_cast<long long>(a.kv_heads) * a.head_dim;
  if (a.dkv_token_stride == 0) a.dkv_token_stride = kv_row;
  if (a.dkv_token_stride % 4 || a.dkv_token_stride < kv_row)
    return invalid("backward: the d_k/d_v token stride must be a multiple of 4 and at least kv_heads * head_dim");
  *out = a;
  return {};
}

std::size_t chunk_attention_backward_workspace_bytes(const ChunkAttentionBackwardArgs& a, AttentionVariant v) {
  if (v != AttentionVariant::kCublas) return delta_bytes(a);
  return delta_bytes(a) + static_cast<std::size_t>(a.q_heads) * a.q_tokens * a.kv_tokens * (4 + 2);
}

Status launch_fused_attention_backward(const ChunkAttentionBackwardArgs& a, BwdTile tile, cudaStream_t s) {
  if (tile == BwdTile::kAuto) tile = auto_bwd_tile(a.head_dim);
  return a.dtype == Dtype::kBf16 ? launch_fused_attention_backward_bf16(a, tile, s)
                                 : launch_fused_attention_backward_fp16(a, tile, s);
}

// chunk_attention_backward with a chosen fused tile (the benchmark times each).
Status run_attention_backward(const ChunkAttentionBackwardArgs& in, AttentionVariant variant, BwdTile tile,
                              void* workspace, std::size_t workspace_bytes, cublasContext* cublas,
                              cudaStream_t stream) {
  ChunkAttentionBackwardArgs a;
  RINGSIM_TRY(resolve_backward_args(in, &a));
  if (variant != AttentionVariant::kFused && variant != AttentionVariant::kCublas)
    return invalid("backward: the variant has no backward (kFused or kCublas)");
  const bool bulk_tile = tile == BwdTile::kM64N128Bulk || tile == BwdTile::kM64N128BulkSplit;
  if (variant == AttentionVariant::kFused && bulk_tile && !bwd_bulk_available())  // no silent fallback
    return invalid("backward: the bulk-reduction tiles need an sm_90 GPU and an sm_90a build");
  if (workspace_bytes < chunk_attention_backward_workspace_bytes(a, variant))
    return Status{StatusCode::kWorkspaceTooSmall, 0, "backward workspace"};
  if (a.q_tokens == 0) {  // no query: dK = dV = 0
    if (a.accumulate || a.kv_tokens == 0) return {};
    const std::size_t pitch = a.dkv_token_stride * sizeof(float), width = a.kv_heads * a.head_dim * sizeof(float);
    RINGSIM_TRY_CUDA(cudaMemset2DAsync(a.d_k, pitch, 0, width, a.kv_tokens, stream));
    return cuda_status(cudaMemset2DAsync(a.d_v, pitch, 0, width, a.kv_tokens, stream), "cudaMemset2DAsync");
  }
  const bool compute_delta = a.delta == nullptr;
  if (compute_delta) a.delta = static_cast<const float*>(workspace), a.delta_head_stride = a.q_tokens;
  // The fused kernel adds dQ by reductions: zero it first unless accumulating
  // (the cuBLAS path overwrites it with beta = 0).
  const bool zero_dq = !a.accumulate && (variant == AttentionVariant::kFused || a.kv_tokens == 0);
  RINGSIM_TRY(launch_backward_prep(a, const_cast<float*>(a.delta), a.delta_head_stride, compute_delta, zero_dq, stream));
  if (a.kv_tokens == 0) return {};
  if (variant == AttentionVariant::kFused) return launch_fused_attention_backward(a, tile, stream);
  const std::size_t used = compute_delta ? delta_bytes(in) : 0;
  return launch_cublas_attention_backward(a, static_cast<char*>(workspace) + used, workspace_bytes - used, cublas,
                                          stream);
}

Status chunk_attention_backward(const ChunkAttentionBackwardArgs& in, AttentionVariant variant, void* workspace,
                                std::size_t workspace_bytes, cublasContext* cublas, CUstream_st* stream) {
  return run_attention_backward(in, variant, BwdTile::kAuto, workspace, workspace_bytes, cublas, stream);
}

Status chunk_attention_backward_delta(const ChunkAttentionBackwardArgs& in, float* delta, CUstream_st* stream) {
  ChunkAttentionBackwardArgs a = in;
  if (a.head_dim != 64 && a.head_dim != 128) return invalid("head_dim must be 64 or 128");
  if (a.q_heads <= 0 || a.q_tokens < 0) return invalid("backward delta: q_heads > 0 and q_tokens >= 0");
  if (!delta || !a.o) return invalid("backward delta: null delta or o");
  a.delta = delta;
  RINGSIM_TRY(resolve_row_tensors(a));
  return launch_backward_prep(a, delta, a.delta_head_stride, true, false, stream);
}

}  // namespace ringsim::kernels
