// Device utilities of kernels/ring (ring_device.cu): random input rows, fills
// and poisons, the executor's small kernels around the chunk kernel (a
// block's output into a partials row, a partial merged into an accumulator,
// an accumulator cast to the model's dtype), the gate kernel and non-finite
// counts. CUDA only. bf16 values travel as their 16-bit patterns.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/ring/ring_random.hpp"

namespace ringsim::ring {

// Row r of dst (row_stride elements apart) gets heads [head_first, head_first
// + heads) of token tokens[r] (null: token r) of `tensor`, whose rows hold
// total_heads heads: element (token, head, i) of ring_random.hpp.
void fill_rows(std::uint16_t* dst, long long rows, int heads, int head_dim, long long row_stride,
               const long long* tokens, int total_heads, int head_first, std::uint64_t seed, Tensor tensor,
               cudaStream_t stream);
void fill_f32(float* p, long long n, float value, cudaStream_t stream);
void fill_u16(std::uint16_t* p, long long n, std::uint16_t bits, cudaStream_t stream);
inline constexpr std::uint16_t kBf16NaN = 0x7FC0;

// Partials rows (BufferFormat::kPartials, dtype bf16): per row heads x
// head_dim bf16 outputs, then heads fp32 log-sum-exps.
//   poison: outputs NaN, log-sum-exp -inf (a row no block writes merges as nothing);
//   write: rows [0, rows) from a block's fp32 output o [rows, heads, head_dim]
//          and lse [heads, rows] (head stride `rows`);
//   merge: one slot of `rows` partial rows into an accumulator (fp32 o rows
//          dense, lse [heads][...] with head stride acc_lse_head_stride), as
//          kernels::attention_merge does; rows of log-sum-exp -inf add nothing.
void poison_partials(std::uint8_t* rows_base, long long rows, int heads, int head_dim, cudaStream_t stream);
void write_partials(std::uint8_t* rows_base, long long rows, int heads, int head_dim, const float* o,
                    const float* lse, cudaStream_t stream);
void merge_partials(float* acc_o, float* acc_lse, long long acc_lse_head_stride, const std::uint8_t* rows_base,
                    long long rows, int heads, int head_dim, cudaStream_t stream);
// dst[i] = bf16(src[i]), round to nearest even, for n elements.
void cast_to_bf16(std::uint16_t* dst, const float* src, long long n, cudaStream_t stream);

// Holds `stream` for `ns` nanoseconds of GPU time.
void gate(unsigned long long ns, cudaStream_t stream);
// A card slowed on purpose (ExecPlan::slow_devices): stamp() writes the GPU
// time (%globaltimer, ns) at which `stream` reaches it into *slot; stretch()
// then holds the stream until `factor` x the time since that stamp has
// passed, so the work enqueued between the two takes `factor` times as long.
void stamp(unsigned long long* slot, cudaStream_t stream);
void stretch(const unsigned long long* slot, double factor, cudaStream_t stream);
// Non-finite elements of x[0, n); synchronise `stream`.
long long count_nonfinite(const float* x, long long n, cudaStream_t stream);
long long count_nonfinite_bf16(const std::uint16_t* x, long long n, cudaStream_t stream);

}  // namespace ringsim::ring
