// TMA tensor maps (host side) for the Hopper kernels. The encoder,
// cuTensorMapEncodeTiled, is a driver-API function; it is fetched through the
// runtime's cudaGetDriverEntryPointByVersion, so nothing links -lcuda.
#pragma once
#include <cuda.h>  // CUtensorMap and its enums (types only)

#include "kernels/common/kernel_types.hpp"

namespace ringsim::kernels {

// Map of a [tokens, heads, head_dim] bf16/fp16 tensor whose tokens are
// `token_stride` elements apart (heads dense within a token): 3-D, innermost
// first {head_dim, heads, tokens}, box {64, 1, box_rows} (one head, 64
// head_dim elements = one 128-byte row per token), 128-byte swizzle, rows past
// `tokens` zero-filled. Needs base 16-byte aligned and token_stride a multiple
// of 8 elements (what resolve_args checks), tokens >= 1, box_rows <= 256.
Status encode_token_head_map(CUtensorMap* map, const void* base, Dtype dtype, int head_dim,
                             int heads, long long tokens, long long token_stride, int box_rows);

}  // namespace ringsim::kernels
