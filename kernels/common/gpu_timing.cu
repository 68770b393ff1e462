// GpuTimer (see gpu_timing.hpp).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "kernels/common/cuda_check.cuh"
#include "kernels/common/gpu_timing.hpp"

namespace ringsim::kernels {

GpuTimer::GpuTimer(CUstream_st* stream) : stream_(stream) {
  int device = 0, l2_bytes = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device) != cudaSuccess)
    throw std::runtime_error("GpuTimer: cannot query the device");
  flush_bytes_ = std::max<std::size_t>(2 * static_cast<std::size_t>(l2_bytes), 64u << 20);
  cudaEvent_t a, b;
  if (cudaMalloc(&flush_, flush_bytes_) != cudaSuccess || cudaEventCreate(&a) != cudaSuccess ||
      cudaEventCreate(&b) != cudaSuccess)
    throw std::runtime_error("GpuTimer: cannot allocate the L2 flush buffer or events");
  start_ = a;
  stop_ = b;
}

GpuTimer::~GpuTimer() {
  cudaFree(flush_);
  cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}

double GpuTimer::median_seconds(const std::function<Status()>& work, int warmup, int reps,
                                Status* status) {
  auto fail = [&](Status s) { *status = s; return -1.0; };
  for (int i = 0; i < warmup; ++i) {
    const Status s = work();
    if (!s.ok()) return fail(s);
  }
  std::vector<double> seconds;
  auto start = static_cast<cudaEvent_t>(start_), stop = static_cast<cudaEvent_t>(stop_);
  for (int i = 0; i < reps; ++i) {
    Status s = cuda_status(cudaMemsetAsync(flush_, i & 0xff, flush_bytes_, stream_), "L2 flush");
    if (s.ok()) s = cuda_status(cudaEventRecord(start, stream_), "cudaEventRecord");
    if (s.ok()) s = work();
    if (s.ok()) s = cuda_status(cudaEventRecord(stop, stream_), "cudaEventRecord");
    if (s.ok()) s = cuda_status(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.f;
    if (s.ok()) s = cuda_status(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    if (!s.ok()) return fail(s);
    seconds.push_back(ms * 1e-3);
  }
  std::nth_element(seconds.begin(), seconds.begin() + reps / 2, seconds.end());
  *status = {};
  return seconds[reps / 2];
}

namespace {

__global__ void fill_random_kernel(uint16_t* data, std::size_t n, bool bf16,
                                   unsigned long long seed) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
       i += std::size_t(gridDim.x) * blockDim.x) {
    unsigned long long h = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;  // splitmix64 finaliser
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
    const float x = (static_cast<int>(h % 513) - 256) / 128.f;  // [-2, 2], step 1/128
    data[i] = bf16 ? __bfloat16_as_ushort(__float2bfloat16(x)) : __half_as_ushort(__float2half(x));
  }
}

}  // namespace

Status fill_random_device(void* data, std::size_t n, Dtype dtype, unsigned long long seed,
                          CUstream_st* stream) {
  fill_random_kernel<<<1024, 256, 0, stream>>>(static_cast<uint16_t*>(data), n,
                                               dtype == Dtype::kBf16, seed);
  return cuda_status(cudaGetLastError(), "fill_random_kernel launch");
}

}  // namespace ringsim::kernels
