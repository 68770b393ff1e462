// The backward of the double-ring schedule (sim/schedules/double_ring_backward.cpp).
#pragma once
#include <memory>

#include "sim/schedule.hpp"

namespace ringsim::schedules {

std::unique_ptr<Plan> make_double_ring_backward(const PlanInput&, long long inner_ring);

}  // namespace ringsim::schedules
