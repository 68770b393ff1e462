// Fixtures of the GPU kernel tests (suite 'gpu'): device arrays that check
// every CUDA call, a cuBLAS handle, Status checks, the block shape of a case
// and the tolerance per dtype. Include after doctest.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "kernels/common/kernel_types.hpp"

namespace ringsim::kernels::test {

#define REQUIRE_CUDA(call) REQUIRE_MESSAGE((call) == cudaSuccess, #call)
#define REQUIRE_OK(expr)                          \
  do {                                            \
    const ::ringsim::kernels::Status s_ = (expr); \
    REQUIRE_MESSAGE(s_.ok(), describe(s_));       \
  } while (0)

template <typename T>
struct DeviceArray {
  T* ptr = nullptr;
  std::size_t n = 0;
  explicit DeviceArray(std::size_t count) : n(count) {
    REQUIRE_CUDA(cudaMalloc(&ptr, std::max<std::size_t>(n, 1) * sizeof(T)));
  }
  ~DeviceArray() { cudaFree(ptr); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  void upload(const std::vector<T>& h) {
    REQUIRE(h.size() == n);
    REQUIRE_CUDA(cudaMemcpy(ptr, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> h(n);
    REQUIRE_CUDA(cudaMemcpy(h.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
  void poison() { REQUIRE_CUDA(cudaMemset(ptr, 0xff, n * sizeof(T))); }  // NaN for floats
};

struct CublasHandle {
  cublasHandle_t h = nullptr;
  CublasHandle() { REQUIRE(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS); }
  ~CublasHandle() { cublasDestroy(h); }
};

// Relative error allowed against fp64, ||out - ref|| / ||ref||: bf16 operands
// (8 significant bits) and fp32 accumulation land near 1e-3, fp16 near 2e-4.
inline double tolerance(Dtype d) { return d == Dtype::kBf16 ? 1e-2 : 2e-3; }

// One block under test.
struct Case {
  Dtype dtype;
  int head_dim, q_heads, kv_heads;
  long long q, kv;
  Mask mask;
  float softmax_scale = 0.f;  // 0: 1/sqrt(head_dim)
};

template <typename T>
std::vector<float> to_float(const std::vector<T>& x) {
  return std::vector<float>(x.begin(), x.end());
}

}  // namespace ringsim::kernels::test
