// Interference in the event engine (see sim/engine.hpp): transfers in flight
// slow the running compute of the GPUs they touch; its end is rescheduled
// only when it moves earlier (an early event is woken again at the new end).
#include <algorithm>
#include <cmath>

#include "sim/engine_impl.hpp"

namespace ringsim {

using namespace engine_detail;





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


}  // namespace ringsim
