// Device utilities of kernels/ring (ring_context.cu): random input slices,
// fills, the gate kernel and a non-finite count. CUDA only.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/ring/ring_random.hpp"

namespace ringsim::ring {

// global_token() of ring_schedule.hpp, on the device.
struct TokenMap {
  int zigzag = 0, ring_size = 1, rank = 0;
  long long chunk = 0;
  __host__ __device__ long long operator()(long long row) const {
    if (!zigzag) return rank * chunk + row;
    const long long c = chunk / 2;
    const long long part = row < c ? rank : 2LL * ring_size - 1 - rank;
    return part * c + row % c;
  }
};

// dst[row, head, i] = element (map(row), head, i) of `tensor` (bf16 bits).
void fill_slice(std::uint16_t* dst, long long rows, int heads, int head_dim, TokenMap map,
                std::uint64_t seed, Tensor tensor, cudaStream_t stream);
void fill_f32(float* p, long long n, float value, cudaStream_t stream);
// Holds `stream` for `ns` nanoseconds of GPU time.
void gate(unsigned long long ns, cudaStream_t stream);
// Non-finite elements of x[0, n); synchronises `stream`.
long long count_nonfinite(const float* x, long long n, cudaStream_t stream);

}  // namespace ringsim::ring
