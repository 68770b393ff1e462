// A training point (attention.pass: training): the forward, then the
// backward from what the forward saved. The rest of the model runs between
// them (every other layer's forward, the loss, the later layers' backwards),
// so ringsim starts the backward on every device together once the
// forward's last device is done, and each pass runs on its own plan and
// its own fastest exact mode. The point's figures combine the two:
//   time       forward makespan + backward makespan (forward_ns, backward_ns)
//   compute    each pass's slowest device's compute, summed (so exposed
//              communication is each pass's, summed); largest and mean
//              device compute summed over the passes
//   memory     the pass with the higher peak (the backward holds the saved
//              tensors: sim/schedules/backward.hpp), its verdict naming the
//              buffers live at that peak
//   flops, events, device-steps summed; label estimated if either pass is;
//   finish times (when kept): the forward's makespan + the backward's
// Progress counts the forward's device-steps then the backward's; a trace
// (one process) holds the forward, then the backward drawn the forward's
// makespan later.
#pragma once
#include "sim/simulate.hpp"

namespace ringsim {

class TrainingRun {
 public:
  explicit TrainingRun(const SimOptions& opt) : opt_(opt) {}
  SimOptions forward_options() const;
  SimOptions backward_options(const PointResult& forward);
  PointResult combine(const PointResult& forward, const PointResult& backward);

 private:
  const SimOptions& opt_;
};

}  // namespace ringsim
