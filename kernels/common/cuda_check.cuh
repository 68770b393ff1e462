// Error plumbing for the CUDA kernels: launchers return Status, never exit.
#pragma once
#include <cuda_runtime.h>

#include "kernels/common/kernel_types.hpp"

namespace ringsim::kernels {

inline Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return {};
  return Status{StatusCode::kCudaError, static_cast<int>(err), what};
}

inline Status invalid(const char* what) { return Status{StatusCode::kInvalidArgument, 0, what}; }

}  // namespace ringsim::kernels

// Early return of a failed Status from inside a launcher.
#define RINGSIM_TRY(expr)                      \
  do {                                         \
    const ::ringsim::kernels::Status s_ = (expr); \
    if (!s_.ok()) return s_;                   \
  } while (0)
#define RINGSIM_TRY_CUDA(call) RINGSIM_TRY(::ringsim::kernels::cuda_status((call), #call))
