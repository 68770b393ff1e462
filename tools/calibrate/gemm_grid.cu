// The cuBLAS GEMM grid (see gemm_grid.hpp).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/common/cuda_check.cuh"
#include "tools/calibrate/gemm_grid.hpp"

namespace ringsim::calibrate {
namespace {

using kernels::Status;

constexpr std::size_t kWorkspaceBytes = std::size_t(32) << 20;

struct Grid {
  std::vector<long long> m, nk;
};
Grid grid_of(bool quick) {
  if (quick) return {{1024, 16384}, {1024, 8192, 32768}};
  return {{1024, 4096, 16384}, {1024, 2048, 4096, 8192, 16384, 32768}};
}

// Row-major C[m x n] = A[m x k] B[k x n] is column-major C^T = B^T A^T:
// cuBLAS multiplies B (n x k, leading dimension n) by A (k x m, leading k).
Status gemm(cublasHandle_t h, const void* a, const void* b, void* c, long long m, long long n, long long k) {
  const float one = 1.f, zero = 0.f;
  const cublasStatus_t r =
      cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &one, b,
                   CUDA_R_16BF, static_cast<int>(n), a, CUDA_R_16BF, static_cast<int>(k), &zero, c, CUDA_R_16BF,
                   static_cast<int>(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (r != CUBLAS_STATUS_SUCCESS) return {kernels::StatusCode::kCublasError, static_cast<int>(r), "cublasGemmEx"};
  return {};
}

}  // namespace

bool measure_gemm_grid(kernels::GpuTimer& timer, bool quick, int runs, std::vector<GemmSample>& out, std::string& error) {
  const Grid g = grid_of(quick);
  const long long max_m = *std::max_element(g.m.begin(), g.m.end()), max_nk = *std::max_element(g.nk.begin(), g.nk.end());
  const std::size_t a_n = std::size_t(max_m) * max_nk, b_n = std::size_t(max_nk) * max_nk, c_n = a_n;  // elements
  void *a = nullptr, *b = nullptr, *c = nullptr, *workspace = nullptr;
  cublasHandle_t h = nullptr;
  Status st = kernels::cuda_status(cudaMalloc(&a, a_n * 2), "cudaMalloc GEMM A");
  if (st.ok()) st = kernels::cuda_status(cudaMalloc(&b, b_n * 2), "cudaMalloc GEMM B");
  if (st.ok()) st = kernels::cuda_status(cudaMalloc(&c, c_n * 2), "cudaMalloc GEMM C");
  if (st.ok()) st = kernels::fill_random_device(a, a_n, kernels::Dtype::kBf16, 11, nullptr);
  if (st.ok()) st = kernels::fill_random_device(b, b_n, kernels::Dtype::kBf16, 12, nullptr);
  if (st.ok() && cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) st = {kernels::StatusCode::kCublasError, 0, "cublasCreate"};
  // A 32 MiB workspace, as PyTorch gives cuBLAS on Hopper: with the default
  // handle's, cuBLAS picked kernels up to 43% slower than torch.matmul on the
  // same H100 (16384 x 4096 x 4096; median +4.6% over the grid, 2026-11-27).
  if (st.ok()) st = kernels::cuda_status(cudaMalloc(&workspace, kWorkspaceBytes), "cudaMalloc cuBLAS workspace");
  if (st.ok() && cublasSetWorkspace(h, workspace, kWorkspaceBytes) != CUBLAS_STATUS_SUCCESS)
    st = {kernels::StatusCode::kCublasError, 0, "cublasSetWorkspace"};
  for (long long m : g.m)
    for (long long k : g.nk)
      for (long long n : g.nk) {
        if (!st.ok()) break;
        const double s = timer.median_seconds([&] { return gemm(h, a, b, c, m, n, k); }, 2, runs, &st);
        if (st.ok()) out.push_back({DType::kBf16, m, n, k, s});
      }
  if (h) cublasDestroy(h);
  cudaFree(a), cudaFree(b), cudaFree(c), cudaFree(workspace);
  if (!st.ok()) error = kernels::describe(st);
  return st.ok();
}

}  // namespace ringsim::calibrate
