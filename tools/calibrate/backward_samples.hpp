// Backward samples of a measured profile: `ringsim calibrate` times the fused
// attention backward over the same grid of block shapes as the forward
// samples and writes them as the profile's `backward:` list (same fields as
// `attention:`; models/profile.hpp).
#pragma once
#include <string>
#include <vector>

#include "kernels/attention/chunk_attention_backward.hpp"
#include "kernels/common/gpu_timing.hpp"

namespace ringsim::calibrate {

struct BackwardSample {
  kernels::ChunkAttentionBackwardArgs args;
  double seconds;
};

// Times one block's backward as a ring step runs it: D = rowsum(dO * O) given
// (computed once per layer, not per block) and dQ, dK, dV accumulated. Grid
// "full" or "quick" as calibrate.cu's forward samples. Returns false with
// `error` set when a CUDA call fails.
bool measure_backward(const std::string& grid, kernels::GpuTimer& timer, std::vector<BackwardSample>& out,
                      std::string& error);

// calibrate.cu turns them into the profile's `backward:` list, written by
// write_profile_yaml (models/profile_writer.hpp; tflops at 2.5x the forward's
// flops, halved on diagonals) after the FLOPs check.

}  // namespace ringsim::calibrate
