// Device-wide rates (see device_rates.hpp).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "kernels/common/cuda_check.cuh"
#include "tools/calibrate/device_rates.hpp"

namespace ringsim::calibrate {
namespace {

using kernels::Status;

constexpr std::size_t kCopyBytes = std::size_t(1) << 30;  // 1 GiB: far past L2
constexpr int kGemmN = 8192;                               // 8192^3: fills the card
constexpr int kLaunches = 2000;

__global__ void empty_kernel() {}

__global__ void fill_f32(float* x, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n;
       i += std::size_t(gridDim.x) * blockDim.x)
    x[i] = static_cast<float>((i * 2654435761u) % 1024) / 512.f - 1.f;  // never zeros
}

// Datasheet HBM bandwidth of cards we know by name; 0 otherwise.
double datasheet_hbm(const std::string& card) {
  if (card.find("H200") != std::string::npos) return 4.8e12;
  if (card.find("H100") != std::string::npos && card.find("HBM3") != std::string::npos) return 3.35e12;
  if (card.find("H100") != std::string::npos && card.find("PCIe") != std::string::npos) return 2.0e12;
  if (card.find("A100") != std::string::npos && card.find("80GB") != std::string::npos) return 2.039e12;
  return 0;
}

// "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release ..."
// -> "580.159.04": the first token of digits and dots with two dots.
std::string kernel_driver_version() {
  std::ifstream f("/proc/driver/nvidia/version");
  std::string line, token;
  if (!std::getline(f, line)) return "";
  std::istringstream words(line);
  while (words >> token) {
    const bool numeric = token.find_first_not_of("0123456789.") == std::string::npos;
    if (numeric && std::count(token.begin(), token.end(), '.') == 2) return token;
  }
  return "";
}

double gemm_flops(kernels::GpuTimer& timer, cudaDataType_t type, Status* st) {
  const std::size_t n = std::size_t(kGemmN) * kGemmN, elem = type == CUDA_R_32F ? 4 : 2;
  void *a = nullptr, *b = nullptr, *c = nullptr;
  cublasHandle_t h = nullptr;
  double flops = 0;
  *st = kernels::cuda_status(cudaMalloc(&a, n * elem), "cudaMalloc");
  if (st->ok()) *st = kernels::cuda_status(cudaMalloc(&b, n * elem), "cudaMalloc");
  if (st->ok()) *st = kernels::cuda_status(cudaMalloc(&c, n * 4), "cudaMalloc");
  if (st->ok() && elem == 2) *st = kernels::fill_random_device(a, n, type == CUDA_R_16BF ? kernels::Dtype::kBf16 : kernels::Dtype::kFp16, 1, nullptr);
  if (st->ok() && elem == 2) *st = kernels::fill_random_device(b, n, type == CUDA_R_16BF ? kernels::Dtype::kBf16 : kernels::Dtype::kFp16, 2, nullptr);
  if (st->ok() && elem == 4) {
    fill_f32<<<1024, 256>>>(static_cast<float*>(a), n);
    fill_f32<<<1024, 256>>>(static_cast<float*>(b), n);
    *st = kernels::cuda_status(cudaGetLastError(), "fill_f32");
  }
  if (st->ok() && cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) *st = {kernels::StatusCode::kCublasError, 0, "cublasCreate"};
  if (st->ok()) {
    const float one = 1.f, zero = 0.f;
    // fp32: CUBLAS_COMPUTE_32F without tensor-op math, the plain FP32 rate.
    const double s = timer.median_seconds([&]() -> Status {
      const cublasStatus_t r = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, kGemmN, kGemmN, kGemmN, &one, a, type, kGemmN,
                                            b, type, kGemmN, &zero, c, CUDA_R_32F, kGemmN, CUBLAS_COMPUTE_32F,
                                            CUBLAS_GEMM_DEFAULT);
      if (r != CUBLAS_STATUS_SUCCESS) return {kernels::StatusCode::kCublasError, int(r), "cublasGemmEx"};
      return {};
    }, 2, 10, st);
    flops = 2.0 * kGemmN * double(kGemmN) * kGemmN / s;
  }
  if (h) cublasDestroy(h);
  cudaFree(a), cudaFree(b), cudaFree(c);
  return flops;
}

}  // namespace

DeviceFacts read_device_facts() {
  DeviceFacts f;
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess || cudaFree(nullptr) != cudaSuccess) return f;
  std::size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  int runtime = 0, driver_api = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver_api);
  f.card = prop.name;
  f.memory_bytes = double(prop.totalGlobalMem);
  f.reserved_bytes = double(total_b - free_b);
  f.sm_count = prop.multiProcessorCount;
  f.cuda = std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10);
  f.driver = kernel_driver_version();
  if (f.driver.empty()) f.driver = "cuda-driver-api-" + std::to_string(driver_api / 1000) + "." + std::to_string(driver_api % 1000 / 10);
  f.hbm_bytes_per_s = datasheet_hbm(f.card);
  return f;
}

bool measure_rates(kernels::GpuTimer& timer, DeviceRates& out, std::string& error) {
  Status st;
  void *src = nullptr, *dst = nullptr;
  st = kernels::cuda_status(cudaMalloc(&src, kCopyBytes), "cudaMalloc copy source");
  if (st.ok()) st = kernels::cuda_status(cudaMalloc(&dst, kCopyBytes), "cudaMalloc copy destination");
  if (st.ok()) st = kernels::cuda_status(cudaMemset(src, 1, kCopyBytes), "cudaMemset");
  if (st.ok()) {
    const double s = timer.median_seconds([&] {
      return kernels::cuda_status(cudaMemcpyAsync(dst, src, kCopyBytes, cudaMemcpyDeviceToDevice, nullptr), "cudaMemcpyAsync");
    }, 2, 10, &st);
    out.copy_bytes_per_s = 2.0 * kCopyBytes / s;  // convention: bytes read + bytes written
  }
  cudaFree(src), cudaFree(dst);
  if (st.ok()) out.bf16_flops = gemm_flops(timer, CUDA_R_16BF, &st);
  if (st.ok()) out.fp16_flops = gemm_flops(timer, CUDA_R_16F, &st);
  if (st.ok()) out.fp32_flops = gemm_flops(timer, CUDA_R_32F, &st);
  if (st.ok()) {
    const double s = timer.median_seconds([&] {
      for (int i = 0; i < kLaunches; ++i) empty_kernel<<<1, 32>>>();
      return kernels::cuda_status(cudaGetLastError(), "empty_kernel");
    }, 1, 5, &st);
    out.launch_s = s / kLaunches;
  }
  if (!st.ok()) error = kernels::describe(st);
  return st.ok();
}

}  // namespace ringsim::calibrate
