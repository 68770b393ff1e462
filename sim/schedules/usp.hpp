// Ulysses x ring (USP, Fang & Zhao 2024), shared by the usp and ulysses
// schedules (ulysses is USP with one ring part). See usp.cpp.
#pragma once
#include <memory>

#include "sim/schedules/common.hpp"

namespace ringsim::schedules {

// Where USP's devices sit: R groups of U (inside-node: U consecutive
// devices; across-nodes: strided), device (g, u) = member u of group g.
struct UspPlacement {
  long long p = 1, u = 1, r = 1;  // devices, Ulysses degree, ring degree
  bool inside = true;
  int kv_heads = 1;               // the model's kv heads
  int kv_heads_per_device = 1;    // after the split (replicated past kv_heads)
  long long group(long long d) const { return inside ? d / u : d % r; }
  long long member(long long d) const { return inside ? d % u : d / r; }
  long long device(long long g, long long v) const { return inside ? g * u + v : v * r + g; }
  // The first kv head member v uses (replicated when the degree exceeds kv_heads).
  long long kv_head_of(long long v) const { return kv_heads >= u ? v * kv_heads_per_device : v / (u / kv_heads); }
};
UspPlacement usp_placement(const PlanInput&, long long ulysses_degree);

std::unique_ptr<Plan> make_usp_plan(const PlanInput&, long long ulysses_degree);
std::unique_ptr<Plan> make_usp_backward(const PlanInput&, long long ulysses_degree);  // usp_backward.cpp
// Checks shared by both: the heads split over the degree, the degree
// dividing the ring, no cached prefix.
void check_usp(const Scenario&, const Point&, const PointAttention&, long long ulysses_degree);

}  // namespace ringsim::schedules
