// Error plumbing of kernels/ring: every CUDA and NCCL call is checked and a
// failure throws std::runtime_error naming the call and the place.
#pragma once
#include <cuda_runtime.h>
#include <nccl.h>

#include <stdexcept>
#include <string>

#include "kernels/common/kernel_types.hpp"

namespace ringsim::ring {

[[noreturn]] inline void ring_fail(const std::string& what, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what);
}

// A device scope: sets the current device and restores it on exit.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    cudaGetDevice(&previous_);
    cudaSetDevice(device);
  }
  ~DeviceScope() { cudaSetDevice(previous_); }

 private:
  int previous_ = 0;
};

}  // namespace ringsim::ring

#define RING_CUDA(call)                                                                   \
  do {                                                                                    \
    const cudaError_t e_ = (call);                                                        \
    if (e_ != cudaSuccess)                                                                \
      ::ringsim::ring::ring_fail(std::string(#call) + ": " + cudaGetErrorString(e_),      \
                                 __FILE__, __LINE__);                                     \
  } while (0)
#define RING_NCCL(call)                                                                   \
  do {                                                                                    \
    const ncclResult_t r_ = (call);                                                       \
    if (r_ != ncclSuccess)                                                                \
      ::ringsim::ring::ring_fail(std::string(#call) + ": " + ncclGetErrorString(r_),      \
                                 __FILE__, __LINE__);                                     \
  } while (0)
#define RING_KERNEL(call)                                                                 \
  do {                                                                                    \
    const ::ringsim::kernels::Status s_ = (call);                                         \
    if (!s_.ok())                                                                         \
      ::ringsim::ring::ring_fail(std::string(#call) + ": " + ::ringsim::kernels::describe(s_), \
                                 __FILE__, __LINE__);                                     \
  } while (0)
#define RING_LAUNCHED() RING_CUDA(cudaGetLastError())
