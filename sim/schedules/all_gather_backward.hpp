// The backward of the all-gather schedule (sim/schedules/all_gather_backward.cpp).
#pragma once
#include <memory>

#include "sim/schedule.hpp"

namespace ringsim::schedules {

std::unique_ptr<Plan> make_all_gather_backward(const PlanInput&);

}  // namespace ringsim::schedules
