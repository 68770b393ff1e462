// Per-step costs of a real ring beyond its block and merge, as profile
// samples (`step_overhead`, `link_under_compute`; format in profile.hpp) and
// their lookups (ComputeModel::step_overhead, ::link_rate_factor, defined in
// step_costs.cpp). Measured by kernels/ring/step_costs.hpp.
//
// Lookup, for samples of the step's transport:
//   1. preferences, each applied only if some sample meets it: the same
//      message count (step_overhead), the same dtype and head_dim, the same mask;
//   2. the head pair nearest the shape (same q/kv ratio first);
//   3. the message size nearest in log (ties: the smaller);
//   4. bilinear in (log q, log kv) of the block, clamped at the edges.
// No sample of the transport: 0 s, `measured` false (step_overhead), factor 1.
#pragma once
#include <string>

#include "models/profile.hpp"

namespace ringsim {

class YamlMapReader;

// Reads `step_overhead` and `link_under_compute` from a profile map, if
// present (InputError naming file, line and key otherwise).
void read_step_cost_samples(const YamlMapReader& r, const std::string& prefix, DeviceProfile& p);

}  // namespace ringsim
