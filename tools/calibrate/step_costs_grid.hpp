// The per-step cost samples of a measured profile (`step_overhead`,
// `link_under_compute`; models/profile.hpp), measured over a small grid of
// ring steps by kernels/ring/step_costs.hpp: chunks of 1K-8K tokens (quick:
// 2K and 8K), a full chunk x chunk bf16 block of 32 query / 8 K/V heads at
// d128 (the shape `ringsim validate` runs), its K/V block as one message and
// as two; over a device-to-device copy on card 0 and, with two cards, NCCL
// send/recv both ways between cards 0 and 1. About 10 s of GPU time.
#pragma once
#include <string>
#include <vector>

#include "models/profile.hpp"

namespace ringsim::calibrate {

struct StepCostSamples {
  std::vector<StepOverheadSample> overhead;
  std::vector<LinkUnderComputeSample> link;
  std::string note;  // which transports were measured, for the profile's comment
};

// Returns false with `error` set when a CUDA or NCCL call fails.
bool measure_step_costs(bool quick, StepCostSamples& out, std::string& error);

}  // namespace ringsim::calibrate
