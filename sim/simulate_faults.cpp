// A point with faults: the fault-free run, `repeats` realisations (seeds
// derived per repeat, models/faults.hpp), and the first straggler alone;
// their distribution in FaultStats (sim/simulate.hpp).
#include <algorithm>
#include <chrono>
#include <cmath>

#include "sim/simulate.hpp"

namespace ringsim {
namespace {

// Nearest-rank percentile of sorted values.
TimeNs percentile(const std::vector<TimeNs>& sorted, double p) {
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

// Progress of run k of `runs` as a share of the point's device-steps.
SimOptions run_options(const SimOptions& opt, int k, int runs) {
  SimOptions o = opt;
  o.trace = k == 1 ? opt.trace : nullptr;  // the trace shows repeat 0
  o.event_log = k == 1 ? opt.event_log : nullptr;
  o.record_events = k == 1 && opt.record_events;
  if (opt.progress)
    o.progress = [p = opt.progress, k, runs](std::uint64_t done, std::uint64_t total) {
      p((static_cast<std::uint64_t>(k) * total + done) / static_cast<std::uint64_t>(runs), total);
    };
  return o;
}

// A repeat run again for what its first run did not keep: no trace, no
// progress, no event log (those came from the first run).
SimOptions rerun_options(const SimOptions& opt) {
  SimOptions o = opt;
  o.trace = nullptr;
  o.progress = nullptr;
  o.record_events = false;
  return o;
}

// Repeat `repeat` again, tracing its critical path (sim/critical_block.hpp):
// one pass more, for that repeat alone.
std::optional<CriticalBlock> critical_block_of(const Scenario& scn, const Point& pt, const SimOptions& opt,
                                               const FaultSpec& spec, int repeat) {
  SimOptions o = rerun_options(opt);
  o.keep_finish_times = false;
  o.critical_block = true;
  return simulate_realisation(scn, pt, o, spec, repeat).critical_block;
}

}  // namespace

PointResult simulate_faults(const Scenario& scn, const Point& pt, const SimOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const FaultSpec& spec = faults_of(scn, pt);
  const bool straggler = !spec.stragglers.empty() || spec.fraction;
  const int runs = 1 + spec.repeats + (straggler ? 1 : 0);  // progress shares (the straggler run may be skipped)
  FaultStats st;
  st.repeats = spec.repeats;
  SimOptions base_opt = run_options(opt, 0, runs);
  base_opt.keep_finish_times = false;
  st.fault_free_ns = simulate_realisation(scn, pt, base_opt, FaultSpec{}, 0).makespan_ns;

  std::vector<PointResult> results;
  for (int rep = 0; rep < spec.repeats; ++rep) {
    SimOptions o = run_options(opt, 1 + rep, runs);
    o.keep_finish_times = false;
    results.push_back(simulate_realisation(scn, pt, o, spec, rep));
    st.makespans_ns.push_back(results.back().makespan_ns);
  }
  std::vector<TimeNs> sorted = st.makespans_ns;
  std::sort(sorted.begin(), sorted.end());
  st.median_ns = percentile(sorted, 50);
  st.p90_ns = percentile(sorted, 90);
  st.p99_ns = percentile(sorted, 99);
  st.max_ns = sorted.back();
  const auto slowest = std::max_element(st.makespans_ns.begin(), st.makespans_ns.end());
  st.critical_repeat = static_cast<int>(slowest - st.makespans_ns.begin());
  st.critical_device = results[static_cast<std::size_t>(st.critical_repeat)].slowest_device;
  if (results[static_cast<std::size_t>(st.critical_repeat)].mode == Mode::kRecurrence &&
      pt.ring_size <= kCriticalBlockMaxDevices)
    st.critical_block = critical_block_of(scn, pt, opt, spec, st.critical_repeat);
  st.shown_repeat = static_cast<int>(std::find(st.makespans_ns.begin(), st.makespans_ns.end(), st.median_ns) -
                                     st.makespans_ns.begin());
  st.steps = static_cast<double>(results[0].device_steps) / static_cast<double>(pt.ring_size);

  if (straggler) {  // the first named straggler, else the fraction's first draw of repeat 0
    FaultSpec one;
    one.line = spec.line;
    if (!spec.stragglers.empty()) {
      one.stragglers.push_back(spec.stragglers.front());
    } else {
      const FaultModel drawn(spec, pt.ring_size, 0);
      const auto& lv = drawn.device_levels();
      const auto it = std::find_if(lv.begin(), lv.end(), [](std::uint8_t l) { return l != 0; });
      if (it != lv.end()) one.stragglers.push_back({it - lv.begin(), spec.fraction->slowdown, 0, spec.fraction->line});
    }
    const bool alone = spec.stragglers.size() == 1 && !spec.fraction && !spec.jitter && spec.links.empty();
    if (alone) {  // the faults are that straggler: every repeat is the same run
      st.one_straggler_device = spec.stragglers.front().device;
      st.one_straggler_ns = st.makespans_ns.front();
    } else if (!one.stragglers.empty()) {
      st.one_straggler_device = one.stragglers.front().device;
      SimOptions o = run_options(opt, runs - 1, runs);
      o.keep_finish_times = false;
      st.one_straggler_ns = simulate_realisation(scn, pt, o, one, 0).makespan_ns;
    }
  }
  if (opt.keep_finish_times)  // the shown repeat again, keeping its finish times
    results[static_cast<std::size_t>(st.shown_repeat)] =
        simulate_realisation(scn, pt, rerun_options(opt), spec, st.shown_repeat);
  PointResult r = std::move(results[static_cast<std::size_t>(st.shown_repeat)]);
  r.faults = std::move(st);
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (opt.progress) opt.progress(r.device_steps, r.device_steps);
  return r;
}

}  // namespace ringsim
