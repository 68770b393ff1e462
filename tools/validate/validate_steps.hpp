// What a point's ring steps cost beyond their blocks, measured on the card for
// the self-calibrated profile's `step_overhead` and `link_under_compute`
// samples (format in models/profile.hpp, meaning in models/step_costs.hpp and
// kernels/ring/step_costs.hpp): for every compute the executor runs in a round
// that also moves data (a ring step), its largest attention block, at the
// point's most common message size beside computes, over NCCL send/recv both
// ways when the point spans cards, else a copy on one card, K and V as one
// message (as the executor sends them). The simulator looks these up with the
// same key (sim/schedules/common.cpp: the step's largest block, one message,
// NCCL when the ring spans cards). Each (shape, bytes, transport) is measured
// once per run and reused by every point that needs it.
#pragma once
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/ring/step_costs.hpp"
#include "tools/validate/validate_point.hpp"

namespace ringsim::validate {

struct StepSample {
  ring::BlockTimingShape shape;
  double bytes = 0;
  StepTransport transport = StepTransport::kNccl;
  ring::StepCostMeasurement overhead;
  ring::LinkUnderCompute link;
};
struct PointSteps {
  std::vector<StepSample> samples;  // in the order of first occurrence over the program
};

class StepCalibration {
 public:
  // Nothing when opt.step_costs is off or the point has no ring step.
  PointSteps ensure(const ring::ExecPlan&, const ring::RingContext&, const Links&, const Options&);

 private:
  using Key = std::tuple<int, long long, long long, int, int, int, double, int>;  // shape, bytes, transport
  std::map<Key, StepSample> measured_;
};

// The samples as profile entries (replacing the profile's own).
void add_step_samples(DeviceProfile&, const PointSteps&);
// Appends a point's shares and step samples not yet in the run's (same shape,
// bytes and kind or transport): the run's profile for --save-profile.
void keep_new(PointShares& run_shares, const PointShares& shares, PointSteps& run_steps, const PointSteps& steps);
// Writes `profile` as YAML to `path` (comments: tool, date, scenarios);
// throws InputError naming the path when it cannot.
void save_profile(const std::string& path, const DeviceProfile& profile, const std::vector<std::string>& scenarios);

}  // namespace ringsim::validate
