// The backward's streaming ops: see ring_backward_ops.cuh. Memory-bound
// grid-stride loops; the event model charges them by bytes moved
// (Block::stream_bytes at the profile's copy rate).
#include "kernels/ring/ring_backward_ops.cuh"

#include <cuda_bf16.h>

#include "kernels/ring/ring_cuda.cuh"

namespace ringsim::ring {

namespace {

constexpr int kBlocks = 1024, kThreads = 256;

__device__ long long grid_start() { return blockIdx.x * 1LL * blockDim.x + threadIdx.x; }
__device__ long long grid_step() { return 1LL * gridDim.x * blockDim.x; }
__device__ float bf16_bits(std::uint16_t b) { return __bfloat162float(__ushort_as_bfloat16(b)); }

// One warp per (row, head): lanes stride over head_dim, then a shuffle sum.
__global__ void delta_kernel(float* delta, const std::uint16_t* d_o, const std::uint16_t* o, long long rows,
                             int heads, int head_dim) {
  const long long warps = 1LL * gridDim.x * blockDim.x / 32;
  const int lane = threadIdx.x % 32;
  for (long long w = grid_start() / 32; w < rows * heads; w += warps) {
    const long long base = w * head_dim;  // (row, head) rows are dense: [rows, heads, head_dim]
    float dot = 0.f;
    for (int c = lane; c < head_dim; c += 32) dot += bf16_bits(d_o[base + c]) * bf16_bits(o[base + c]);
    for (int off = 16; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    if (lane == 0) delta[w] = dot;
  }
}

__global__ void head_major_kernel(float* out, const float* in, long long rows, int heads) {
  for (long long e = grid_start(); e < rows * heads; e += grid_step()) {
    const long long r = e / heads;
    const int h = static_cast<int>(e % heads);
    out[h * rows + r] = in[e];
  }
}

__device__ float load(const void* p, int bytes, long long i) {
  return bytes == 4 ? static_cast<const float*>(p)[i] : bf16_bits(static_cast<const std::uint16_t*>(p)[i]);
}

__global__ void grad_stream_kernel(void* out, int out_bytes, const void* in, int in_bytes, long long n,
                                   long long slots, bool add) {
  for (long long e = grid_start(); e < n; e += grid_step()) {
    float acc = add ? load(out, out_bytes, e) : 0.f;
    for (long long s = 0; s < slots; ++s) acc += load(in, in_bytes, s * n + e);
    if (out_bytes == 4) static_cast<float*>(out)[e] = acc;
    else static_cast<std::uint16_t*>(out)[e] = __bfloat16_as_ushort(__float2bfloat16_rn(acc));
  }
}

unsigned blocks_for(long long n) { return static_cast<unsigned>(n < kBlocks * 1LL * kThreads ? (n + kThreads - 1) / kThreads : kBlocks); }

}  // namespace

void delta_rows(float* delta, const std::uint16_t* d_o, const std::uint16_t* o, long long rows, int heads,
                int head_dim, cudaStream_t stream) {
  if (rows * heads == 0) return;
  delta_kernel<<<blocks_for(rows * heads * 32), kThreads, 0, stream>>>(delta, d_o, o, rows, heads, head_dim);
  RING_CUDA(cudaGetLastError());
}

void row_stats_head_major(float* out, const float* in, long long rows, int heads, cudaStream_t stream) {
  if (rows * heads == 0) return;
  head_major_kernel<<<blocks_for(rows * heads), kThreads, 0, stream>>>(out, in, rows, heads);
  RING_CUDA(cudaGetLastError());
}

void grad_stream(void* out, int out_bytes, const void* in, int in_bytes, long long n, long long slots, bool add,
                 cudaStream_t stream) {
  if (n == 0) return;
  grad_stream_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, out_bytes, in, in_bytes, n, slots, add);
  RING_CUDA(cudaGetLastError());
}

}  // namespace ringsim::ring
