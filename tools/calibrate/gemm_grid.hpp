// The cuBLAS GEMM grid of a measured profile (`gemm:` samples, read by
// models/gemm_model.hpp for model.layers): bf16 C[m x n] = A[m x k] B[k x n],
// row-major as a framework's matmul calls it, fp32 accumulation, bf16 out.
// Full grid: m 1K/4K/16K x n, k 1K..32K by powers of two (108 samples, the
// grid tools/calibrate/layer_check.py times through torch.matmul); quick:
// m 1K/16K x n, k 1K/8K/32K (18).
#pragma once
#include <string>
#include <vector>

#include "kernels/common/gpu_timing.hpp"
#include "models/profile.hpp"

namespace ringsim::calibrate {

// Median of `runs` launches per shape after 2 warm-ups, L2 flushed before
// each (GpuTimer). Returns false (with `error` set) when a CUDA or cuBLAS
// call fails.
bool measure_gemm_grid(kernels::GpuTimer& timer, bool quick, int runs, std::vector<GemmSample>& out,
                       std::string& error);

}  // namespace ringsim::calibrate
