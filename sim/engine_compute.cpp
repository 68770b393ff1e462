// Each GPU's compute stream for the event engine (see sim/engine.hpp):
// computes start in (step, rank) order on the one stream of their GPU; with
// interference, transfers in flight slow the running compute, whose end is
// rescheduled only when it moves earlier (an early event is woken again).
#include <algorithm>
#include <cmath>

#include "sim/engine_impl.hpp"

namespace ringsim {

using namespace engine_detail;

void Engine::Impl::wake_compute(long long d) {
  Device& dev = devices[d];
  push(dev.quiet_end_ns, Band::kCompute, kComputeDone, d, dev.compute_label);
  dev.quiet_end_ns = -1;
}

// Its end has passed by now: done, as its event would have done it then.
void Engine::Impl::retire_quiet_compute(long long d) {
  Device& dev = devices[d];
  trace("compute", 0, d, dev.compute_start_ns, dev.quiet_end_ns, dev.compute_label);
  dev.computing = false;
  gpus[d].busy = false;  // one rank per GPU
  dev.quiet_end_ns = -1;
  --dev.outstanding;
}

void Engine::Impl::post_compute(TimeNs now, long long d, const Op& op) {
  Device& dev = devices[d];
  if (dev.computing || dev.queued) throw std::logic_error("Engine: overlapping computes");
  dev.queued = true;
  ++dev.outstanding;
  dev.compute_label = op.label;
  dev.compute_duration_ns = op.duration_ns;
  dev.copy_share = op.copy_share < 0 ? opt.copy_compute_share : op.copy_share;
  dev.link_share = op.link_share < 0 ? opt.link_compute_share : op.link_share;
  result.compute_ns[d] = checked_add_ns(result.compute_ns[d], op.duration_ns);
  start_computes(now, d / rpg);
}

void Engine::Impl::start_computes(TimeNs now, long long g) {
  Gpu& gpu = gpus[g];
  while (!gpu.busy) {
    const long long d = g * rpg + gpu.head;
    Device& dev = devices[d];
    if (!dev.queued) return;  // the next in order has not posted yet
    dev.queued = false;
    dev.computing = true;
    dev.compute_start_ns = now;
    gpu.busy = true;
    gpu.head = (gpu.head + 1) % rpg;
    if (!interference) {
      const TimeNs end = checked_add_ns(now, dev.compute_duration_ns);
      if (rpg == 1) {
        dev.quiet_end_ns = end;  // no event yet: see Device::quiet_end_ns
      } else {
        push(end, Band::kCompute, kComputeDone, d, dev.compute_label);
      }
      continue;
    }
    gpu.running = d;
    gpu.copy_share = dev.copy_share;
    gpu.link_share = dev.link_share;
    gpu.remaining_ns = static_cast<double>(dev.compute_duration_ns);
    gpu.since_ns = now;
    gpu.woken_ns = kTimeNever;
    schedule_completion(now, gpu);
  }
}

void Engine::Impl::schedule_completion(TimeNs now, Gpu& gpu) {
  if (gpu.running < 0) return;
  const double rate = Impl::rate(gpu);
  const double left_ns = rate > 0 ? std::ceil(std::max(0.0, gpu.remaining_ns) / rate) : kTwoTo63;
  TimeNs done = kTimeNever;
  if (left_ns >= kTwoTo63 || __builtin_add_overflow(now, static_cast<TimeNs>(left_ns), &done)) done = kTimeNever;
  gpu.done_ns = done;
  if (done >= gpu.woken_ns) return;
  gpu.woken_ns = done;
  push(done, Band::kCompute, kComputeDone, gpu.running, ++gpu.epoch);
}

void Engine::Impl::transfer_share(TimeNs now, const Transfer& t, int sign) {
  if (!interference) return;
  const long long gs = t.src / rpg, gd = t.dst / rpg;
  const auto apply = [&](long long g, bool copy) {
    Gpu& gpu = gpus[g];
    if (gpu.running >= 0) {
      gpu.remaining_ns -= static_cast<double>(now - gpu.since_ns) * rate(gpu);
      gpu.since_ns = now;
    }
    long long& count = copy ? gpu.copies : gpu.link_ends;
    count += sign;
    if (count < 0) throw std::logic_error("Engine: transfer ended twice");
    schedule_completion(now, gpu);
  };
  if (gs == gd) {
    apply(gs, true);
  } else {
    apply(gs, false);
    apply(gd, false);
  }
}

void Engine::Impl::compute_done(TimeNs now, const Event& e) {
  Gpu& gpu = gpus[e.device / rpg];
  if (interference) {
    if (e.arg != gpu.epoch) return;  // a later event replaced it
    gpu.woken_ns = kTimeNever;
    if (gpu.done_ns > now) {  // slowed down since: wake again at its end (if not stalled)
      if (gpu.done_ns == kTimeNever) return;
      gpu.woken_ns = gpu.done_ns;
      push(gpu.done_ns, Band::kCompute, kComputeDone, gpu.running, ++gpu.epoch);
      return;
    }
    gpu.running = -1;
  }
  Device& dev = devices[e.device];
  dev.computing = false;
  gpu.busy = false;
  trace("compute", 0, e.device, dev.compute_start_ns, now, dev.compute_label);
  finish_one(now, e.device);
  start_computes(now, e.device / rpg);
}

}  // namespace ringsim
