// Ulysses x ring (USP, Fang & Zhao 2024), shared by the usp and ulysses
// schedules (ulysses is USP with one ring part). See usp.cpp.
#pragma once
#include <memory>

#include "sim/schedules/common.hpp"

namespace ringsim::schedules {

std::unique_ptr<Plan> make_usp_plan(const PlanInput&, long long ulysses_degree);
// Checks shared by both: the heads split over the degree, the degree
// dividing the ring, no cached prefix.
void check_usp(const Scenario&, const Point&, const PointAttention&, long long ulysses_degree);

}  // namespace ringsim::schedules
