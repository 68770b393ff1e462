// Device utilities of kernels/ring: see ring_device.cuh.
#include "kernels/ring/ring_device.cuh"

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/ring/ring_cuda.cuh"

namespace ringsim::ring {

namespace {

constexpr int kBlocks = 1024, kThreads = 256;

__device__ long long grid_start() { return blockIdx.x * 1LL * blockDim.x + threadIdx.x; }
__device__ long long grid_step() { return 1LL * gridDim.x * blockDim.x; }

__global__ void fill_rows_kernel(std::uint16_t* dst, long long rows, int heads, int head_dim, long long row_stride,
                                 const long long* tokens, int total_heads, int head_first, std::uint64_t seed,
                                 Tensor tensor) {
  const long long per_row = static_cast<long long>(heads) * head_dim;
  for (long long e = grid_start(); e < rows * per_row; e += grid_step()) {
    const long long row = e / per_row, rest = e % per_row;
    const long long token = tokens ? tokens[row] : row;
    const long long index = (token * total_heads + head_first) * head_dim + rest;
    dst[row * row_stride + rest] = random_bf16_bits(seed, tensor, static_cast<std::uint64_t>(index));
  }
}

template <typename T>
__global__ void fill_kernel(T* dst, long long n, T value) {
  for (long long e = grid_start(); e < n; e += grid_step()) dst[e] = value;
}

__device__ std::uint16_t* partial_o(std::uint8_t* base, long long row, long long row_bytes) {
  return reinterpret_cast<std::uint16_t*>(base + row * row_bytes);
}
__device__ float* partial_lse(std::uint8_t* base, long long row, long long row_bytes, int heads, int head_dim) {
  return reinterpret_cast<float*>(base + row * row_bytes + 2LL * heads * head_dim);
}

__global__ void poison_partials_kernel(std::uint8_t* base, long long rows, int heads, int head_dim) {
  const long long row_bytes = heads * (2LL * head_dim + 4), per_row = static_cast<long long>(heads) * (head_dim + 1);
  for (long long e = grid_start(); e < rows * per_row; e += grid_step()) {
    const long long row = e / per_row, i = e % per_row;
    if (i < static_cast<long long>(heads) * head_dim) partial_o(base, row, row_bytes)[i] = kBf16NaN;
    else partial_lse(base, row, row_bytes, heads, head_dim)[i - heads * head_dim] = -__builtin_huge_valf();
  }
}

__global__ void write_partials_kernel(std::uint8_t* base, long long rows, int heads, int head_dim, const float* o,
                                      const float* lse) {
  const long long row_bytes = heads * (2LL * head_dim + 4), per_row = static_cast<long long>(heads) * (head_dim + 1);
  for (long long e = grid_start(); e < rows * per_row; e += grid_step()) {
    const long long row = e / per_row, i = e % per_row;
    if (i < static_cast<long long>(heads) * head_dim) {
      partial_o(base, row, row_bytes)[i] = __bfloat16_as_ushort(__float2bfloat16_rn(o[row * heads * head_dim + i]));
    } else {
      const long long h = i - static_cast<long long>(heads) * head_dim;
      partial_lse(base, row, row_bytes, heads, head_dim)[h] = lse[h * rows + row];
    }
  }
}

// One (row, head) per group of head_dim / 4 threads, as attention_merge: every
// thread reads the old log-sum-exp before the first one writes it.
constexpr int kMergeThreads = 256, kVec = 4;
__global__ void __launch_bounds__(kMergeThreads) merge_partials_kernel(float* acc_o, float* acc_lse, long long acc_stride,
                                                                       const std::uint8_t* base, long long rows,
                                                                       int heads, int head_dim) {
  const int per = head_dim / kVec, rows_per_block = kMergeThreads / per;
  const long long unit = static_cast<long long>(blockIdx.x) * rows_per_block + threadIdx.x / per;
  const int part = threadIdx.x % per;
  const bool live = unit < rows * heads && threadIdx.x < rows_per_block * per;
  const long long row_bytes = heads * (2LL * head_dim + 4);
  float new_lse = 0.f;
  if (live) {
    const long long row = unit / heads;
    const int h = static_cast<int>(unit % heads);
    auto* b8 = const_cast<std::uint8_t*>(base);
    const float a = acc_lse[h * acc_stride + row], b = partial_lse(b8, row, row_bytes, heads, head_dim)[h];
    new_lse = a;
    if (b != -__builtin_huge_valf()) {  // a row nobody wrote: nothing to add, its output unread
      const float m = fmaxf(a, b), wa0 = __expf(a - m), wb0 = __expf(b - m), sum = wa0 + wb0;
      const float wa = wa0 / sum, wb = wb0 / sum;
      new_lse = m + __logf(sum);
      float* acc = acc_o + (row * heads + h) * head_dim + part * kVec;
      const std::uint16_t* o = partial_o(b8, row, row_bytes) + h * head_dim + part * kVec;
      for (int k = 0; k < kVec; ++k) acc[k] = wa * acc[k] + wb * __bfloat162float(__ushort_as_bfloat16(o[k]));
    }
  }
  __syncthreads();
  if (live && part == 0) acc_lse[(unit % heads) * acc_stride + unit / heads] = new_lse;
}

__global__ void cast_kernel(std::uint16_t* dst, const float* src, long long n) {
  for (long long e = grid_start(); e < n; e += grid_step()) dst[e] = __bfloat16_as_ushort(__float2bfloat16_rn(src[e]));
}

__global__ void count_nonfinite_kernel(const float* x, long long n, unsigned long long* count) {
  unsigned long long mine = 0;
  for (long long e = grid_start(); e < n; e += grid_step()) mine += isfinite(x[e]) ? 0 : 1;
  if (mine) atomicAdd(count, mine);
}
__global__ void count_nonfinite_bf16_kernel(const std::uint16_t* x, long long n, unsigned long long* count) {
  unsigned long long mine = 0;
  for (long long e = grid_start(); e < n; e += grid_step()) mine += (x[e] & 0x7F80u) == 0x7F80u ? 1 : 0;
  if (mine) atomicAdd(count, mine);
}

__device__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Holds its stream for `ns` so the host enqueues a whole run before it starts.
__global__ void gate_kernel(unsigned long long ns) {
  const unsigned long long start = global_ns();
  do {
    __nanosleep(10000);
  } while (global_ns() - start < ns);
}

__global__ void stamp_kernel(unsigned long long* slot) { *slot = global_ns(); }

// One thread on one SM: the card's other SMs stay free for the transfers'
// kernels, as on a card whose compute is slow. Sleeps of 0.5 us keep the
// overshoot well under 1% of a block of 100 us or more.
__global__ void stretch_kernel(const unsigned long long* slot, double factor) {
  const unsigned long long start = *slot, now = global_ns();
  const auto until = start + static_cast<unsigned long long>(static_cast<double>(now - start) * factor);
  while (global_ns() < until) __nanosleep(500);
}

template <typename Kernel, typename T>
long long count_with(Kernel kernel, const T* x, long long n, cudaStream_t stream) {
  unsigned long long* d_count = nullptr;
  unsigned long long count = 0;
  RING_CUDA(cudaMallocAsync(&d_count, sizeof count, stream));
  RING_CUDA(cudaMemsetAsync(d_count, 0, sizeof count, stream));
  kernel<<<kBlocks, kThreads, 0, stream>>>(x, n, d_count);
  RING_LAUNCHED();
  RING_CUDA(cudaMemcpyAsync(&count, d_count, sizeof count, cudaMemcpyDeviceToHost, stream));
  RING_CUDA(cudaFreeAsync(d_count, stream));
  RING_CUDA(cudaStreamSynchronize(stream));
  return static_cast<long long>(count);
}

}  // namespace

void fill_rows(std::uint16_t* dst, long long rows, int heads, int head_dim, long long row_stride,
               const long long* tokens, int total_heads, int head_first, std::uint64_t seed, Tensor tensor,
               cudaStream_t stream) {
  fill_rows_kernel<<<kBlocks, kThreads, 0, stream>>>(dst, rows, heads, head_dim, row_stride, tokens, total_heads,
                                                     head_first, seed, tensor);
  RING_LAUNCHED();
}

void fill_f32(float* p, long long n, float value, cudaStream_t stream) {
  fill_kernel<<<kBlocks, kThreads, 0, stream>>>(p, n, value);
  RING_LAUNCHED();
}

void fill_u16(std::uint16_t* p, long long n, std::uint16_t bits, cudaStream_t stream) {
  fill_kernel<<<kBlocks, kThreads, 0, stream>>>(p, n, bits);
  RING_LAUNCHED();
}

void poison_partials(std::uint8_t* base, long long rows, int heads, int head_dim, cudaStream_t stream) {
  poison_partials_kernel<<<kBlocks, kThreads, 0, stream>>>(base, rows, heads, head_dim);
  RING_LAUNCHED();
}

void write_partials(std::uint8_t* base, long long rows, int heads, int head_dim, const float* o, const float* lse,
                    cudaStream_t stream) {
  write_partials_kernel<<<kBlocks, kThreads, 0, stream>>>(base, rows, heads, head_dim, o, lse);
  RING_LAUNCHED();
}

void merge_partials(float* acc_o, float* acc_lse, long long acc_lse_head_stride, const std::uint8_t* base,
                    long long rows, int heads, int head_dim, cudaStream_t stream) {
  if (head_dim % kVec != 0 || head_dim / kVec > kMergeThreads)
    ring_fail("merge_partials: head_dim must be a multiple of 4, at most 1024", __FILE__, __LINE__);
  if (rows == 0) return;
  const long long units = rows * heads, per_block = kMergeThreads / (head_dim / kVec);
  merge_partials_kernel<<<static_cast<unsigned>((units + per_block - 1) / per_block), kMergeThreads, 0, stream>>>(
      acc_o, acc_lse, acc_lse_head_stride, base, rows, heads, head_dim);
  RING_LAUNCHED();
}

void cast_to_bf16(std::uint16_t* dst, const float* src, long long n, cudaStream_t stream) {
  cast_kernel<<<kBlocks, kThreads, 0, stream>>>(dst, src, n);
  RING_LAUNCHED();
}

void gate(unsigned long long ns, cudaStream_t stream) {
  gate_kernel<<<1, 1, 0, stream>>>(ns);
  RING_LAUNCHED();
}

void stamp(unsigned long long* slot, cudaStream_t stream) {
  stamp_kernel<<<1, 1, 0, stream>>>(slot);
  RING_LAUNCHED();
}

void stretch(const unsigned long long* slot, double factor, cudaStream_t stream) {
  stretch_kernel<<<1, 1, 0, stream>>>(slot, factor);
  RING_LAUNCHED();
}

long long count_nonfinite(const float* x, long long n, cudaStream_t stream) {
  return count_with(count_nonfinite_kernel, x, n, stream);
}
long long count_nonfinite_bf16(const std::uint16_t* x, long long n, cudaStream_t stream) {
  return count_with(count_nonfinite_bf16_kernel, x, n, stream);
}

}  // namespace ringsim::ring
