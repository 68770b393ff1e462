// How a training point's two passes run and combine; see sim/training.hpp.
#include "sim/training.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "sim/trace.hpp"

namespace ringsim {

SimOptions TrainingRun::forward_options() const { return opt_; }

SimOptions TrainingRun::backward_options(const PointResult& forward) {
  SimOptions o = opt_;
  if (opt_.progress) {
    const std::uint64_t before = forward.device_steps;
    auto progress = opt_.progress;
    o.progress = [progress, before](std::uint64_t done, std::uint64_t total) { progress(before + done, before + total); };
  }
  if (opt_.trace) opt_.trace->set_offset_ns(forward.makespan_ns);
  return o;
}

PointResult TrainingRun::combine(const PointResult& f, const PointResult& b) {
  PointResult r = f;
  r.pass = Pass::kTraining;
  r.backward_mode = b.mode;
  r.forward_ns = f.makespan_ns;
  r.backward_ns = b.makespan_ns;
  r.makespan_ns = checked_add_ns(f.makespan_ns, b.makespan_ns);
  r.slowest_device = b.slowest_device;  // finishes last: the backward starts on every device together
  r.slowest_is_lowest_index = b.slowest_is_lowest_index;
  r.slowest_compute_ns = checked_add_ns(f.slowest_compute_ns, b.slowest_compute_ns);
  r.slowest_exposed_comm_ns = r.makespan_ns - r.slowest_compute_ns;
  r.max_compute_ns = checked_add_ns(f.max_compute_ns, b.max_compute_ns);
  r.mean_compute_ns = f.mean_compute_ns + b.mean_compute_ns;
  r.total_flops = f.total_flops + b.total_flops;
  r.compute_source = f.compute_source == CostSource::kEstimated ? f.compute_source : b.compute_source;
  r.memory = b.memory.peak_bytes >= f.memory.peak_bytes ? b.memory : f.memory;
  r.memory.fits = f.memory.fits && b.memory.fits;
  r.events = f.events + b.events;
  r.device_steps = f.device_steps + b.device_steps;
  r.threads = std::max(f.threads, b.threads);
  r.bound_tight = false;
  r.finish_ns.clear();
  for (TimeNs t : b.finish_ns) r.finish_ns.push_back(checked_add_ns(f.makespan_ns, t));
  if (opt_.trace) opt_.trace->set_offset_ns(0);
  return r;
}

}  // namespace ringsim
