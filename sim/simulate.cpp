// simulate_point: plans the point with its schedule (sim/schedule.hpp) and
// dispatches to the event engine or to the exact fast paths the schedule
// lowers to, or (mode walk, rings above kMaxFullRing) to the periodic paths,
// which never build the program or the full topology. See sim/simulate.hpp
// for the modes.
#include "sim/simulate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "sim/critical_block.hpp"
#include "sim/engine.hpp"
#include "sim/recurrence.hpp"
#include "sim/ring_periodic.hpp"
#include "sim/training.hpp"

namespace ringsim {

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kAuto: return "auto";
    case Mode::kEvent: return "event";
    case Mode::kRecurrence: return "recurrence";
    case Mode::kFolded: return "folded";
    case Mode::kWalk: return "walk";
  }
  return "?";
}

namespace {

// A program whose computes take the faults' times (stragglers, jitter): the
// schedules keep costing blocks per class (CostContext stays uniform, their
// step caches and lowerings stay valid), and the one place a (device, step)
// compute changes is here, as in the recurrence's tables.
class FaultyProgram : public Program {
 public:
  FaultyProgram(const Program& inner, const FaultModel& faults) : inner_(inner), faults_(faults) {}
  Op next(long long d, ProgramCursor& c) const override {
    Op op = inner_.next(d, c);
    if (op.kind == Op::kCompute) op.duration_ns = faults_.compute_ns(d, op.label, op.duration_ns);
    return op;
  }
  const BufferTable* buffer_table() const override { return inner_.buffer_table(); }

 private:
  const Program& inner_;
  const FaultModel& faults_;
};

// Everything a point's run needs, built once.
struct Setup {
  const Scenario& scn;
  const Point& pt;
  const SimOptions& opt;
  PointAttention att;
  std::optional<Topology> topo;  // not on the periodic paths (a ring of 2^31 devices)
  CostContext costs;
  std::optional<DocumentMask> docs;
  long long rpg;
  std::unique_ptr<Plan> plan;
  const FaultModel* faults = nullptr;       // null: none
  std::vector<std::pair<TimeNs, Topology>> later;  // NIC failures after time 0
  std::optional<FaultyProgram> faulty;      // the plan's program with faulted computes
  const Program& program() const {
    if (faulty) return *faulty;
    return plan->program();
  }
};

EngineOptions engine_options(const Setup& su) {
  EngineOptions eo;
  if (su.opt.record_events) eo.event_log = su.opt.event_log;
  eo.trace = su.opt.trace;
  eo.ranks_per_gpu = su.rpg;
  eo.copy_compute_share = su.scn.profile.copy_compute_share;
  eo.link_compute_share = su.scn.profile.link_compute_share;
  eo.block_shares = has_interference(su.scn.profile);  // the programs' computes carry their shares
  eo.reserved_bytes_per_gpu = su.scn.profile.reserved_memory_bytes;
  eo.progress = su.opt.progress;
  eo.total_waits = su.plan->waits();
  eo.faults = su.faults;
  for (const auto& [at, topo] : su.later) eo.topology_changes.emplace_back(at, &topo);
  return eo;
}

void set_compute(PointResult& r, const std::vector<TimeNs>& compute_ns) {
  r.max_compute_ns = *std::max_element(compute_ns.begin(), compute_ns.end());
  double sum = 0;
  for (TimeNs c : compute_ns) sum += static_cast<double>(c);
  r.mean_compute_ns = sum / static_cast<double>(compute_ns.size());
}

void set_finish(PointResult& r, std::vector<TimeNs>& finish_ns, const std::vector<TimeNs>& compute_ns, bool keep) {
  auto it = std::max_element(finish_ns.begin(), finish_ns.end());  // first of the maxima
  r.makespan_ns = *it;
  r.slowest_device = it - finish_ns.begin();
  r.slowest_compute_ns = compute_ns[static_cast<std::size_t>(r.slowest_device)];
  set_compute(r, compute_ns);
  if (keep) r.finish_ns = std::move(finish_ns);
}

void fill_event(Setup& su, PointResult& r) {
  const EngineOptions eo = engine_options(su);
  EngineResult er = Engine(*su.topo, su.program(), su.pt.ring_size, eo).run();
  r.mode = Mode::kEvent;
  set_finish(r, er.finish_ns, er.compute_ns, su.opt.keep_finish_times);
  r.total_flops = er.flops;
  if (const BufferTable* t = su.plan->program().buffer_table())
    r.memory = memory_verdict(*t, er.peak_counts, eo.reserved_bytes_per_gpu, er.peak_bytes, su.scn.profile.memory_bytes);
  r.events = er.events;
  if (su.opt.progress) su.opt.progress(eo.total_waits, eo.total_waits);
}

// The memory of one device with `counts` copies of each buffer live.
MemoryVerdict stated_memory(const Setup& su, const BufferTable& table, const std::vector<int>& counts) {
  DeviceMemory m(&table, su.scn.profile.reserved_memory_bytes);
  for (BufferId b = 0; b < table.size(); ++b)
    for (int k = 0; k < counts[static_cast<std::size_t>(b)]; ++k) m.alloc(b);
  return memory_verdict(m, table, su.scn.profile.memory_bytes);
}

// The memory of one device (all alike, one per GPU on the fast paths): the
// peak the plan states, else its allocations and frees replayed in program order.
MemoryVerdict replayed_memory(const Setup& su) {
  const BufferTable* table = su.plan->program().buffer_table();
  if (!table) return MemoryVerdict{};
  if (const auto counts = su.plan->peak_counts()) return stated_memory(su, *table, *counts);
  DeviceMemory m(table, su.scn.profile.reserved_memory_bytes);
  ProgramCursor c;
  for (Op op = su.plan->program().next(0, c); op.kind != Op::kDone; op = su.plan->program().next(0, c)) {
    if (op.kind == Op::kAlloc) m.alloc(op.buffer);
    if (op.kind == Op::kFree) m.free(op.buffer);
  }
  return memory_verdict(m, *table, su.scn.profile.memory_bytes);
}

// A schedule's tail after its ring phase: each device starts it when its
// ring phase ends (a compute of that length stands for the wait: the fast
// paths run only without interference), then continues its own program,
// less its allocations (memory is replayed from the whole program).
class TailProgram : public Program {
 public:
  TailProgram(const Program& inner, const std::vector<TimeNs>& start_ns, ProgramCursor tail_start)
      : inner_(inner), start_ns_(start_ns), tail_start_(tail_start) {}
  Op next(long long d, ProgramCursor& c) const override {
    if (c.step == 0 && c.phase == 0) {  // the ring phase, as one delay
      c.step = kAfterDelay;
      Op delay;
      delay.kind = Op::kCompute;
      delay.duration_ns = start_ns_[static_cast<std::size_t>(d)];
      delay.copy_share = delay.link_share = 0;
      return delay;
    }
    if (c.step == kAfterDelay) {  // nothing of the tail is posted before the ring phase ends
      c = tail_start_;
      Op wait;
      wait.kind = Op::kWaitAll;
      return wait;
    }
    Op op = inner_.next(d, c);
    while (op.kind == Op::kAlloc || op.kind == Op::kFree) op = inner_.next(d, c);  // memory: replayed apart
    return op;
  }

 private:
  static constexpr long long kAfterDelay = -1;
  const Program& inner_;
  const std::vector<TimeNs>& start_ns_;
  ProgramCursor tail_start_;
};

// Compute faults or transfer jitter: devices differ step by step.
bool device_faults(const Setup& su) {
  return su.faults && (su.faults->compute_faults() || su.faults->transfer_jitter());
}

void fill_fast(Setup& su, const RingLowering& low, const RingLinks& links, Mode mode, PointResult& r) {
  const long long ring = low.ring_size;
  const bool faulted = device_faults(su);  // every device its own costs: no folding
  const long long n = mode == Mode::kFolded && !faulted ? fold_period(low.costs, links.tx_ns, ring) : ring;
  const bool whole = n == ring || low.has_tail;  // the tail needs every device's ring finish
  RecurrenceResult rr = faulted ? run_recurrence_faults(low.costs, links, ring, su.opt.threads, *su.faults, su.opt.progress)
                                : run_recurrence(low.costs, links.tx_ns, n, ring, su.opt.threads, su.opt.progress);
  r.mode = n < ring ? Mode::kFolded : Mode::kRecurrence;  // folded only when it folded
  r.threads = rr.threads;
  r.events = rr.nodes;
  std::vector<TimeNs> compute(static_cast<std::size_t>(ring)), finish;
  for (long long d = 0; d < ring; ++d) compute[d] = faulted ? rr.compute_ns[d] : low.costs.device_compute_ns(d, ring);
  if (whole || su.opt.keep_finish_times) {
    finish.resize(static_cast<std::size_t>(ring));
    for (long long d = 0; d < ring; ++d) finish[d] = rr.finish_ns[d % n];
  }
  r.total_flops = low.total_flops();
  if (low.has_tail) {
    TailProgram tail(su.program(), finish, low.tail_start);
    EngineResult er = Engine(*su.topo, tail, ring, engine_options(su)).run();
    for (long long d = 0; d < ring; ++d) compute[d] += er.compute_ns[d] - finish[d];
    finish = std::move(er.finish_ns);
    r.total_flops += er.flops;
    r.events += er.events;
  }
  if (!finish.empty()) {
    set_finish(r, finish, compute, su.opt.keep_finish_times);
  } else {
    r.makespan_ns = rr.makespan_ns;
    r.slowest_device = rr.slowest_device;  // in the first period: the lowest index overall
    r.slowest_compute_ns = compute[static_cast<std::size_t>(r.slowest_device)];
    set_compute(r, compute);
  }
  if (su.opt.critical_block && faulted && !low.has_tail && ring <= kCriticalBlockMaxDevices)  // the ring's end is the point's
    r.critical_block = critical_block(low.costs, links, ring, *su.faults, rr.slowest_device);
  r.memory = replayed_memory(su);
}

// A backward ring's rounds (RingLowering::grad) in the recurrence.
void fill_grad_fast(Setup& su, const RingLowering& low, const GradTx& tx, Mode mode, PointResult& r) {
  const long long ring = low.ring_size;
  const long long n = mode == Mode::kFolded ? fold_period(low, tx) : ring;
  RecurrenceResult rr = run_grad_recurrence(low, tx, n, su.opt.threads, su.opt.progress);
  r.mode = n < ring ? Mode::kFolded : Mode::kRecurrence;
  r.threads = rr.threads;
  r.events = rr.nodes;
  std::vector<TimeNs> compute(static_cast<std::size_t>(ring)), finish(static_cast<std::size_t>(ring));
  for (long long d = 0; d < ring; ++d) {
    compute[d] = low.device_compute_ns(d);
    finish[d] = rr.finish_ns[d % n];
  }
  r.total_flops = low.total_flops();
  set_finish(r, finish, compute, su.opt.keep_finish_times);
  r.memory = replayed_memory(su);
}

GradTx grad_tx(const Setup& su, const RingLowering& low, const RingLinks& mid) {
  GradTx tx;
  tx.mid = mid.tx_ns;
  tx.first = ring_links(*su.topo, low.ring_size, low.grad->first_bytes).tx_ns;
  tx.last = ring_links(*su.topo, low.ring_size, low.grad->last_bytes).tx_ns;
  return tx;
}

// Why the fast paths cannot give this point exactly; empty if they can.
std::string fast_refusal(const Setup& su, const std::optional<RingLowering>& low, RingLinks* links) {
  if (su.rpg > 1) return fmt::format("ranks share a GPU (ranks_per_gpu {})", su.rpg);
  if (has_interference(su.scn.profile))
    return "transfers slow compute (profile copy/link_compute_share, interference)";
  if (!low) return fmt::format("schedule {} has no exact fast path for this point", su.att.schedule);
  if (!su.later.empty()) return "a NIC fails during the run (faults.links fail_at): routes change with time";
  *links = ring_links(*su.topo, low->ring_size, low->bytes);
  if (!links->disjoint) return fmt::format("the ring's transfers must use pairwise link-disjoint routes, but {}", links->why);
  if (low->grad && device_faults(su)) return "faults in a backward ring (its recurrence takes no per-device costs)";
  return {};
}

// Mode walk, or a ring above kMaxFullRing: the plan's whole-ring lowering
// and its stated peak only (Schedule::check_periodic let the point through).
void fill_periodic(Setup& su, PointResult& r) {
  const std::optional<RingLowering> low = su.plan->lower();
  const std::optional<std::vector<int>> counts = su.plan->peak_counts();
  const BufferTable* table = su.plan->program().buffer_table();
  if (!low || low->has_tail || !counts || !table)
    throw std::logic_error(fmt::format("schedule {} passed check_periodic but states no whole-ring lowering "
                                       "and peak buffers", su.att.schedule));
  simulate_periodic(su.scn, su.pt, su.opt, *low, r);
  r.memory = stated_memory(su, *table, *counts);
}

void dispatch(Setup& su, PointResult& r) {
  const Mode asked = su.opt.mode;
  if (asked == Mode::kEvent) return fill_event(su, r);
  const std::optional<RingLowering> low = su.plan->lower();
  RingLinks links;
  const std::string refusal = fast_refusal(su, low, &links);
  if (!refusal.empty()) {
    if (asked != Mode::kAuto)
      throw std::invalid_argument(fmt::format("mode {} cannot run this point exactly: {}; use mode event",
                                              mode_name(asked), refusal));
    return fill_event(su, r);
  }
  const GradTx tx = low->grad ? grad_tx(su, *low, links) : GradTx{};
  Mode mode = asked;
  if (mode == Mode::kAuto) {
    try {
      if (low->grad) check_recurrence_fits(*low, tx);
      else check_recurrence_fits(low->costs, links.tx_ns, low->ring_size);
    } catch (const TimeOverflow&) {
      return fill_event(su, r);  // the bound is an over-estimate: the engine checks each sum
    }
    const long long period = low->grad ? fold_period(*low, tx) : fold_period(low->costs, links.tx_ns, low->ring_size);
    mode = !device_faults(su) && period < low->ring_size ? Mode::kFolded : Mode::kRecurrence;
  }
  if (device_faults(su) && mode != Mode::kEvent) {
    try {
      return fill_fast(su, *low, links, mode, r);
    } catch (const TimeOverflow&) {
      if (asked != Mode::kAuto) throw;
      return fill_event(su, r);  // the faults' worst-case bound is loose: the engine checks each sum
    }
  }
  if (low->grad) return fill_grad_fast(su, *low, tx, mode, r);
  fill_fast(su, *low, links, mode, r);
}

}  // namespace

void check_mode(const Scenario& scn, Mode mode) {
  if (mode != Mode::kWalk) return;
  for (const Point& pt : scn.points)
    if (faults_of(scn, pt).any())
      throw InputError(scn.path, faults_of(scn, pt).line, faults_of(scn, pt).key,
                     "mode walk assumes every device alike; faults run in modes auto, event and recurrence");
  for (const Point& pt : scn.points) checked_schedule(scn, pt).check_periodic(scn, pt, attention_of(scn, pt), "mode walk");
}

namespace {

// Builds a point's Setup for one pass (its schedule's plan; the topology
// unless the point takes the periodic paths; `faults` realised for `repeat`,
// empty: none) and hands it to `use` while the plan's inputs live.
template <class Use>
void with_setup(const Scenario& scn, const Point& pt, const SimOptions& opt, const Schedule& schedule, Pass pass,
                const FaultSpec& faults, int repeat, Use&& use) {
  const bool periodic = needs_periodic_path(pt, opt);
  Setup su{scn, pt, opt, attention_of(scn, pt), std::nullopt, CostContext(scn.profile, scn.shape),
           std::nullopt, ranks_per_gpu(scn, pt), nullptr, nullptr, {}, std::nullopt};
  if (opt.mode == Mode::kWalk) schedule.check_periodic(scn, pt, su.att, "mode walk");  // rings above kMaxFullRing: checked
  std::optional<FaultModel> model;
  if (faults.any()) {
    if (periodic) throw std::invalid_argument("faults need the event engine or the recurrence (not mode walk or folded above 262,144 devices)");
    const FaultClusters fc = fault_clusters(cluster_for(scn, pt), faults);
    su.topo.emplace(fc.initial);
    for (const auto& [at, spec] : fc.later) su.later.emplace_back(at, Topology(spec));
    model.emplace(faults, pt.ring_size, repeat);
    su.faults = &*model;
  } else if (!periodic) {
    su.topo.emplace(cluster_for(scn, pt));
  }
  if (su.att.documents) su.docs.emplace(document_lengths(*su.att.documents, pt.tokens));
  const PlanInput in{scn, pt, su.att, su.costs, su.docs ? &*su.docs : nullptr, su.rpg, pass};
  su.plan = schedule.plan(in);
  if (model && model->compute_faults()) su.faulty.emplace(su.plan->program(), *model);
  use(su, periodic);
}

// One pass of the point (forward or backward) with its own plan, with
// `faults` realised for `repeat` (empty: none).
PointResult simulate_pass(const Scenario& scn, const Point& pt, const SimOptions& opt, const Schedule& schedule,
                          Pass pass, const FaultSpec& faults, int repeat) {
  PointResult r;
  with_setup(scn, pt, opt, schedule, pass, faults, repeat, [&r, pass](Setup& su, bool periodic) {
    r.point = su.pt;
    r.schedule = su.att.schedule;
    r.schedule_detail = su.plan->detail();
    r.layout = su.att.layout;
    r.pass = pass;
    r.device_steps = su.plan->waits();
    if (periodic) fill_periodic(su, r);
    else dispatch(su, r);
    r.compute_source = su.costs.source();  // after the run: every block asked for
  });
  r.slowest_exposed_comm_ns = r.makespan_ns - r.slowest_compute_ns;
  return r;
}

}  // namespace

PointResult simulate_realisation(const Scenario& scn, const Point& pt, const SimOptions& opt, const FaultSpec& faults,
                                 int repeat) {
  const auto t0 = std::chrono::steady_clock::now();
  const Schedule& schedule = checked_schedule(scn, pt);  // InputError if the point cannot run it
  const Pass pass = attention_of(scn, pt).pass;
  PointResult r;
  if (pass != Pass::kTraining) {
    r = simulate_pass(scn, pt, opt, schedule, pass, faults, repeat);
    (pass == Pass::kForward ? r.forward_ns : r.backward_ns) = r.makespan_ns;
  } else {
    // The rest of the model runs between the two passes: the backward
    // starts on every device together, after the forward's last device.
    TrainingRun run(opt);
    const PointResult fwd = simulate_pass(scn, pt, run.forward_options(), schedule, Pass::kForward, faults, repeat);
    const PointResult bwd = simulate_pass(scn, pt, run.backward_options(fwd), schedule, Pass::kBackward, faults, repeat);
    r = run.combine(fwd, bwd);
  }
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// The checks simulate_point makes before it runs recurrence or folded,
// without simulating (tests/tools: a refused point leaves no output).
void check_mode(const Scenario& scn, const Point& pt, Mode mode) {
  if (mode != Mode::kRecurrence && mode != Mode::kFolded) return;  // walk: check_mode(scn, mode)
  SimOptions opt;
  opt.mode = mode;
  if (needs_periodic_path(pt, opt)) return check_modelled(scn, pt, opt);
  const Schedule& schedule = checked_schedule(scn, pt);
  const Pass pass = attention_of(scn, pt).pass;
  for (Pass p : {Pass::kForward, Pass::kBackward}) {  // a training point runs both
    if (pass != Pass::kTraining && pass != p) continue;
    with_setup(scn, pt, opt, schedule, p, faults_of(scn, pt), 0, [mode](Setup& su, bool) {
      RingLinks links;
      const std::string refusal = fast_refusal(su, su.plan->lower(), &links);
      if (!refusal.empty())
        throw std::invalid_argument(fmt::format("mode {} cannot run this point exactly: {}; use mode event",
                                                mode_name(mode), refusal));
    });
  }
}

PointResult simulate_point(const Scenario& scn, const Point& pt, const SimOptions& opt) {
  if (faults_of(scn, pt).any()) return simulate_faults(scn, pt, opt);
  return simulate_realisation(scn, pt, opt, FaultSpec{}, 0);
}

}  // namespace ringsim
