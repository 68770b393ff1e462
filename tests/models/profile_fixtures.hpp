// tests/models: shared helpers of the profile tests.
#pragma once
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "models/profile.hpp"

namespace ringsim::test {

// The smallest valid profile.
inline const char* const kMinimalProfile =
    "name: test\n"
    "memory: \"16 GiB\"\n"
    "hbm_bandwidth: \"1 TB/s\"\n"
    "tflops: 100\n";

// The InputError profile_from_yaml throws for `yaml` (read as "p.yaml"); a
// test failure if it throws none.
inline InputError profile_error(const std::string& yaml, const std::string& prefix = "") {
  try {
    profile_from_yaml(YAML::Load(yaml), "p.yaml", prefix);
  } catch (const InputError& e) {
    return e;
  }
  FAIL("no InputError for:\n" << yaml);
  return InputError("", 0, "", "");
}

// A measured profile with every field away from its default and every list
// with an entry (the writer's and the cache's round trips).
inline DeviceProfile full_profile() {
  DeviceProfile p;
  p.name = "round-trip";
  p.card = "NVIDIA H100 80GB HBM3";
  p.measured = true;
  p.calibration = {{"date", "2026-11-27"}, {"cuda", "13.0"}, {"tool", "ringsim-calibrate"}};
  p.kernel = "ringsim-fused-fa2";
  p.sm_count = 132;
  p.tile = {128, 64, 2};
  p.attention_efficiency = 0.5;
  p.memory_bytes = 79.18 * 1024 * 1024 * 1024;
  p.hbm_bytes_per_s = 3.35e12;
  p.copy_bytes_per_s = 2.99e12;
  p.copy_latency_s = 5e-6;
  p.copy_compute_share = 0.3;
  p.link_compute_share = 0.25;
  p.flops_per_s = {{DType::kBf16, 780.2e12}, {DType::kFp32, 51.3e12}};
  p.launch_overhead_s = 3.14e-6;
  p.reserved_memory_bytes = 0.514 * 1024 * 1024 * 1024;
  AttentionSample a{DType::kBf16, 128, 32, 32, MaskKind::kFull, 16384, 8192, 0.00696925};
  a.spread = 0.0123;
  a.suspect = true;
  a.reason = "rate 315.5 TFLOP/s is 7.9% below both neighbours (352.5, 342.7): a, b";
  p.attention = {{DType::kFp16, 64, 8, 8, MaskKind::kZigzagDiagonal, 512, 512, 1.6192e-05}, a};
  p.merge = {{4096, 32, 128, 7.2864e-05}};
  p.backward = {{DType::kBf16, 128, 32, 8, MaskKind::kCausalDiagonal, 4096, 4096, 0.0012}};
  p.interference = {{TransferKind::kLink, DType::kBf16, 128, 32, 8, MaskKind::kCausalDiagonal, 2048, 2048, 8388608, 0.29}};
  p.step_overhead = {{StepTransport::kNccl, 2, 33554432, DType::kBf16, 128, 32, 8, MaskKind::kFull, 8192, 8192, 6.25e-6}};
  p.link_under_compute = {{StepTransport::kCopy, 4194304, DType::kBf16, 128, 32, 8, MaskKind::kFull, 1024, 1024, 0.8125}};
  p.gemm = {{DType::kBf16, 4096, 8192, 1024, 1e-4}};
  p.gemm_efficiency = 0.75;
  return p;
}

}  // namespace ringsim::test
