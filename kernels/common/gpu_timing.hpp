// Timing of GPU work for the benchmarks and the calibration tool: warm-up,
// L2 flushed before every run (a write over a buffer larger than L2), CUDA
// events around the work alone, median of the runs.
#pragma once
#include <cstddef>
#include <functional>

#include "kernels/common/kernel_types.hpp"

struct CUstream_st;

namespace ringsim::kernels {

class GpuTimer {
 public:
  explicit GpuTimer(CUstream_st* stream);  // allocates the flush buffer (2x L2)
  ~GpuTimer();
  GpuTimer(const GpuTimer&) = delete;
  GpuTimer& operator=(const GpuTimer&) = delete;
  // Median seconds of `reps` runs of `work` after `warmup` runs; a failed
  // Status from `work` or a CUDA call is returned through `status`.
  double median_seconds(const std::function<Status()>& work, int warmup, int reps,
                        Status* status);

 private:
  CUstream_st* stream_;
  void* flush_ = nullptr;
  std::size_t flush_bytes_ = 0;
  void* start_ = nullptr;  // cudaEvent_t
  void* stop_ = nullptr;
};

// Fills n 16-bit values with hashed grid values (see host_tensor.hpp) on the
// device: random-looking data for timing, never zeros (zeros run faster).
Status fill_random_device(void* data, std::size_t n, Dtype dtype, unsigned long long seed,
                          CUstream_st* stream);

}  // namespace ringsim::kernels
