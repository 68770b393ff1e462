// CUDA facts and the RingContext (cards and NCCL communicators); see
// ring_executor.hpp.
#include "kernels/ring/ring_executor.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "kernels/ring/ring_cuda.cuh"

namespace ringsim::ring {

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
  // Sets 0..gpus-1: one per source card; set `gpus`: the shared one.
  comms_.assign(gpus + 1, std::vector<void*>(gpus, nullptr));
  for (int set = 0; set <= gpus; ++set) {
    std::vector<ncclComm_t> comms(gpus);
    RING_NCCL(ncclCommInitAll(comms.data(), gpus, devices.data()));
    for (int g = 0; g < gpus; ++g) comms_[set][g] = comms[g];
  }
}

RingContext::~RingContext() {
  for (auto& set : comms_)
    for (void* c : set)
      if (c) ncclCommDestroy(static_cast<ncclComm_t>(c));
}

void* RingContext::comm(int src_gpu, int gpu) const { return comms_.at(src_gpu).at(gpu); }
void* RingContext::shared_comm(int gpu) const { return comms_.at(gpus_).at(gpu); }

}  // namespace ringsim::ring
