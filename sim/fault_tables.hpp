// Per-(class, straggler level, jitter quantile) step costs of a faulted ring,
// shared by the recurrence (sim/recurrence_faults.cpp) and the critical block
// (sim/critical_block.cpp): each entry FaultModel::scaled(cost, slowdown x
// quantile), so the inner loops load a table instead of multiplying and
// rounding per (device, step).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "sim/fault_model.hpp"
#include "sim/ring_lowering.hpp"

namespace ringsim {

// One class's step costs: table[(level << shift) | quantile] (shift 0 and
// mask 0 without compute jitter: one entry per level).
struct CostTable {
  const TimeNs* t;
  int shift;
  std::uint32_t mask;
};

// The class tables of one thread, rebuilt when a straggler level starts.
// A block's faulted time is get(class).t[(level << shift) | quantile], with
// class 0 the diagonal (step 0), 1 lower (d >= step), 2 upper (d < step): the
// expression FaultModel::compute_ns evaluates, once per table entry.
class FaultCostTables {
 public:
  FaultCostTables(const RingCosts& costs, const FaultModel& f) : costs_(costs), f_(f) {
    quantiles_ = f.compute_jitter() ? FaultModel::kQuantiles : 1;
    shift_ = f.compute_jitter() ? FaultModel::kQuantileBits : 0;
    for (auto& t : t_) t.resize(f.levels().size() * quantiles_);
  }
  void build(long long step) {
    const TimeNs cost[3] = {costs_.diagonal_ns, costs_.lower_ns, costs_.upper_ns};
    for (int c = 0; c < 3; ++c)
      for (std::size_t l = 0; l < f_.levels().size(); ++l) {
        const FaultModel::Level& lv = f_.levels()[l];
        const double slow = step >= lv.from_step ? lv.slowdown : 1.0;
        for (std::uint32_t k = 0; k < quantiles_; ++k) {
          const double q = f_.compute_jitter() ? f_.quantiles()[k] : 1.0;
          t_[c][(l << shift_) | k] = f_.compute_faults() ? FaultModel::scaled(cost[c], slow * q) : cost[c];
        }
      }
  }
  bool starts_level(long long step) const {
    return std::any_of(f_.levels().begin(), f_.levels().end(), [&](const auto& l) { return l.from_step == step; });
  }
  CostTable get(int cls) const { return {t_[cls].data(), shift_, quantiles_ - 1}; }

 private:
  const RingCosts& costs_;
  const FaultModel& f_;
  std::uint32_t quantiles_ = 1;
  int shift_ = 0;
  std::vector<TimeNs> t_[3];  // diagonal, lower, upper
};

}  // namespace ringsim
