// Shared pieces of kernels/ring: device utilities (random slices, fills, the
// gate, the non-finite count), CUDA facts, and the RingContext (cards and
// NCCL communicators). See ring_device.cuh and ring_executor.hpp.
#include "kernels/ring/ring_device.cuh"
#include "kernels/ring/ring_executor.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "kernels/attention/chunk_attention.hpp"
#include "kernels/ring/ring_cuda.cuh"
#include "kernels/ring/ring_random.hpp"

namespace ringsim::ring {

// ---- device kernels ---------------------------------------------------------

namespace {

// dst[row, head, i] = element (global_token(row), head, i) of `tensor`.
__global__ void fill_slice_kernel(std::uint16_t* dst, long long rows, int heads, int head_dim,
                                  TokenMap map, std::uint64_t seed, Tensor tensor) {
  const long long per_row = static_cast<long long>(heads) * head_dim;
  const long long n = rows * per_row;
  for (long long e = blockIdx.x * 1LL * blockDim.x + threadIdx.x; e < n;
       e += 1LL * gridDim.x * blockDim.x) {
    const long long row = e / per_row, rest = e % per_row;
    dst[e] = random_bf16_bits(seed, tensor, map(row) * per_row + rest);
  }
}

__global__ void fill_f32_kernel(float* dst, long long n, float value) {
  for (long long e = blockIdx.x * 1LL * blockDim.x + threadIdx.x; e < n;
       e += 1LL * gridDim.x * blockDim.x)
    dst[e] = value;
}

__global__ void count_nonfinite_kernel(const float* x, long long n, unsigned long long* count) {
  unsigned long long mine = 0;
  for (long long e = blockIdx.x * 1LL * blockDim.x + threadIdx.x; e < n;
       e += 1LL * gridDim.x * blockDim.x)
    mine += isfinite(x[e]) ? 0 : 1;
  if (mine) atomicAdd(count, mine);
}

// Holds its stream for `ns` so the host enqueues a whole run before it starts.
__global__ void gate_kernel(unsigned long long ns) {
  unsigned long long start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    __nanosleep(10000);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
}

constexpr int kFillBlocks = 1024, kFillThreads = 256;

}  // namespace

void fill_slice(std::uint16_t* dst, long long rows, int heads, int head_dim, TokenMap map,
                std::uint64_t seed, Tensor tensor, cudaStream_t stream) {
  fill_slice_kernel<<<kFillBlocks, kFillThreads, 0, stream>>>(dst, rows, heads, head_dim, map,
                                                              seed, tensor);
  RING_LAUNCHED();
}

void fill_f32(float* p, long long n, float value, cudaStream_t stream) {
  fill_f32_kernel<<<kFillBlocks, kFillThreads, 0, stream>>>(p, n, value);
  RING_LAUNCHED();
}

void gate(unsigned long long ns, cudaStream_t stream) {
  gate_kernel<<<1, 1, 0, stream>>>(ns);
  RING_LAUNCHED();
}

long long count_nonfinite(const float* x, long long n, cudaStream_t stream) {
  unsigned long long* d_count = nullptr;
  unsigned long long count = 0;
  RING_CUDA(cudaMallocAsync(&d_count, sizeof count, stream));
  RING_CUDA(cudaMemsetAsync(d_count, 0, sizeof count, stream));
  count_nonfinite_kernel<<<kFillBlocks, kFillThreads, 0, stream>>>(x, n, d_count);
  RING_LAUNCHED();
  RING_CUDA(cudaMemcpyAsync(&count, d_count, sizeof count, cudaMemcpyDeviceToHost, stream));
  RING_CUDA(cudaFreeAsync(d_count, stream));
  RING_CUDA(cudaStreamSynchronize(stream));
  return static_cast<long long>(count);
}

// ---- context and CUDA facts ------------------------------------------------

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear: no driver or no device is an answer, not an error
    return 0;
  }
  return n;
}

std::string cuda_device_name(int device) {
  cudaDeviceProp prop{};
  RING_CUDA(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

double cuda_memory_bytes(int device) {
  cudaDeviceProp prop{};
  RING_CUDA(cudaGetDeviceProperties(&prop, device));
  return static_cast<double>(prop.totalGlobalMem);
}

std::string cuda_versions() {
  int driver = 0, runtime = 0, nccl = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  ncclGetVersion(&nccl);
  auto v = [](int x) { return std::to_string(x / 1000) + "." + std::to_string(x % 1000 / 10); };
  return "driver " + v(driver) + ", runtime " + v(runtime) + ", NCCL " + std::to_string(nccl / 10000) +
         "." + std::to_string(nccl / 100 % 100) + "." + std::to_string(nccl % 100);
}

RingContext::RingContext(int gpus) : gpus_(gpus) {
  if (gpus < 1 || gpus > cuda_device_count())
    ring_fail("RingContext: needs " + std::to_string(gpus) + " GPUs, found " +
                  std::to_string(cuda_device_count()),
              __FILE__, __LINE__);
  if (gpus == 1) return;
  // NVLink multicast can take a shared host's GPUs out of service: never on.
  setenv("NCCL_NVLS_ENABLE", "0", 1);
  std::vector<int> devices(gpus);
  for (int g = 0; g < gpus; ++g) devices[g] = g;
  comms_.assign(gpus, std::vector<void*>(gpus, nullptr));
  for (int src = 0; src < gpus; ++src) {
    std::vector<ncclComm_t> comms(gpus);
    RING_NCCL(ncclCommInitAll(comms.data(), gpus, devices.data()));
    for (int g = 0; g < gpus; ++g) comms_[src][g] = comms[g];
  }
}

RingContext::~RingContext() {
  for (auto& set : comms_)
    for (void* c : set)
      if (c) ncclCommDestroy(static_cast<ncclComm_t>(c));
}

void* RingContext::comm(int src_gpu, int gpu) const { return comms_.at(src_gpu).at(gpu); }

}  // namespace ringsim::ring
