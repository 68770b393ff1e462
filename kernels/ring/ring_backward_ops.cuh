// The backward's streaming ops (sim/work.hpp: kDelta, kGradAdd, kCopy,
// kZero) and the row-stats transpose the fused backward kernel needs, as
// the ring executor runs them (ring_backward_ops.cu). CUDA only; 16-bit
// values travel as their bit patterns (bf16).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace ringsim::ring {

// D[r, h] = sum_c dO[r, h, c] O[r, h, c] (fp32, token-major [rows, heads]),
// dO and O bf16 [rows, heads, head_dim]: the kDelta block, once per rank.
void delta_rows(float* delta, const std::uint16_t* d_o, const std::uint16_t* o, long long rows, int heads,
                int head_dim, cudaStream_t stream);

// out[h * rows + r] = in[r * heads + h]: a slice of row stats (LSE, D;
// token-major as the programs hold them) head-major as the fused backward
// kernel reads them (its lse/delta_head_stride step over heads, rows are
// always adjacent, so a token-major layout has no stride form).
void row_stats_head_major(float* out, const float* in, long long rows, int heads, cudaStream_t stream);

// One elementwise pass over n elements (fp32 or bf16 each side, by the
// element size 4 or 2): out = (add ? out : 0) + sum over `slots` slots of in
// (slot s at element s * n). slots 0 with add false zeroes out; slots 1
// copies (converting). bf16 results round to nearest even.
void grad_stream(void* out, int out_bytes, const void* in, int in_bytes, long long n, long long slots, bool add,
                 cudaStream_t stream);

}  // namespace ringsim::ring
