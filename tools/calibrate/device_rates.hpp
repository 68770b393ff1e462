// Device-wide rates for a measured profile: what the card is, how fast it
// copies, multiplies and launches (each a median of CUDA-event timed runs).
#pragma once
#include <string>

#include "kernels/common/gpu_timing.hpp"

namespace ringsim::calibrate {

struct DeviceFacts {
  std::string card;            // cudaDeviceProp::name
  std::string driver;          // "580.159.04" (from /proc), else the driver API version
  std::string cuda;            // runtime version, "13.0"
  double memory_bytes = 0;     // total global memory
  double reserved_bytes = 0;   // total - free right after context creation
  double hbm_bytes_per_s = 0;  // datasheet of the detected card, 0 if unknown
  int sm_count = 0;
};
DeviceFacts read_device_facts();  // creates the context; call first

struct DeviceRates {
  double copy_bytes_per_s = 0;   // cudaMemcpy device-to-device, bytes read + written
  double bf16_flops = 0, fp16_flops = 0, fp32_flops = 0;  // large cuBLAS GEMMs
  double launch_s = 0;           // back-to-back empty-kernel launches, per launch
};
// Returns false (with `error` set) when a CUDA or cuBLAS call fails.
bool measure_rates(kernels::GpuTimer& timer, DeviceRates& out, std::string& error);

}  // namespace ringsim::calibrate
