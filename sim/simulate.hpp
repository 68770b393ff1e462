// Simulating one point of a scenario: a pass of context-parallel attention
// (the point's schedule, sim/schedule.hpp; attention.pass) on ring_size
// virtual devices, every device and every step. forward and backward are
// one plan each; training runs the forward, then the backward from what the
// forward saved, on every device together (the rest of the model runs in
// between: sim/training.hpp says how the two results combine).
//
// Modes (all give the same times to the nanosecond; tests/sim checks it):
//   kEvent       the plain discrete-event engine: devices run the schedule's
//                programs of operations, transfers are flows in
//                models/flow_network, memory is allocated and freed as events.
//   kRecurrence  exact evaluation of a ring's event graph, step by step over
//                all devices (schedules that lower to it: pass-kv, pass-q's
//                ring phase), valid when no two ring transfers share a link
//                (checked from the routes), no ranks share a GPU and no
//                transfer slows compute; several threads. A tail the schedule
//                leaves (pass-q's all-to-all) then runs in the event engine.
//   kFolded      kRecurrence on one period of devices whose timelines are
//                provably identical (same costs and link times, shifted).
//                The backward rings of pass-kv and pass-q lower to their
//                gradient rounds (sim/recurrence.hpp) the same way.
//   kWalk        the makespan as the heaviest walk of a ring's event graph
//                over a few thousand closed-form candidates (sim/ring_walk.hpp),
//                for schedules that lower whole to a forward ring (pass-kv) whose link
//                times repeat with the node size; any ring size (244,140,625
//                devices in milliseconds). Gives *a* device finishing last,
//                not every device's finish time.
//   kAuto        the fastest valid mode; the event engine where no fast path
//                is exact, or where the recurrence's bound on its times does
//                not fit in int64 (the engine checks every sum itself); above
//                kMaxFullRing (262,144) devices folded or walk
//                (sim/ring_periodic.hpp), which never build a program.
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "models/layer_model.hpp"
#include "models/memory_model.hpp"
#include "models/scenario.hpp"
#include "sim/critical_block.hpp"
#include "sim/schedule.hpp"

namespace ringsim {

class PointTrace;

enum class Mode { kAuto, kEvent, kRecurrence, kFolded, kWalk };
const char* mode_name(Mode);

// A point with faults (models/faults.hpp): the distribution over repeats and
// what the faults cost against the same point without them. Percentiles are
// nearest-rank (p-th: the ceil(p/100 x n)-th smallest of n repeats); the
// step time is the makespan over the steps of one device (device_steps /
// ring_size), so its percentiles are the makespan's divided by that count.
struct FaultStats {
  int repeats = 0;
  std::vector<TimeNs> makespans_ns;    // per repeat, in repeat order
  TimeNs median_ns = 0, p90_ns = 0, p99_ns = 0, max_ns = 0;
  double steps = 1;                    // steps of one device
  TimeNs fault_free_ns = 0;            // the same point without any fault
  int critical_repeat = 0;             // the slowest repeat
  long long critical_device = 0;       // finishes last in it
  // The first straggler alone (no jitter, no other fault), and the faulted
  // median's slowdown it explains: (one - free) / (median - free); -1: no straggler.
  TimeNs one_straggler_ns = -1;
  long long one_straggler_device = -1;
  int shown_repeat = 0;                // the repeat whose figures fill the PointResult (the median's)
  std::optional<CriticalBlock> critical_block;  // of the critical repeat, where computed (PointResult)
};

struct PointResult {
  Point point;
  std::string schedule;                     // registered name of the point's schedule
  std::string schedule_detail;              // its degrees, e.g. "ulysses 8 x ring 4"; may be empty
  Layout layout = Layout::kContiguous;      // the point's layout
  Pass pass = Pass::kForward;               // the point's attention.pass
  Mode mode = Mode::kEvent;                 // mode that produced it (folded only if it folded); training: the forward's
  Mode backward_mode = Mode::kEvent;        // training: the backward's mode
  TimeNs makespan_ns = 0;                   // last device's finish (training: forward + backward)
  TimeNs forward_ns = 0, backward_ns = 0;   // each pass's makespan (0 when the point does not run it)
  TimeNs slowest_compute_ns = 0;            // compute of the slowest device (training: summed over the passes'
                                            // slowest devices)
  TimeNs slowest_exposed_comm_ns = 0;       // its finish minus its compute
  long long slowest_device = 0;             // finishes at the makespan
  bool slowest_is_lowest_index = true;      // false (kWalk): a lower index may tie
  bool bound_tight = false;                 // kWalk: makespan meets the trivial upper bound
  TimeNs max_compute_ns = 0;                // largest compute of any device (training: the passes' largest, summed)
  double mean_compute_ns = 0;               // mean over devices (causal balance: max / mean)
  double total_flops = 0;                   // matmul flops of every device's blocks
  CostSource compute_source = CostSource::kEstimated;
  MemoryVerdict memory;                     // peak per GPU (max over GPUs; ranks sharing one add up);
                                            // training: the pass with the higher peak
  std::uint64_t events = 0;                 // events processed (or graph nodes evaluated)
  std::uint64_t device_steps = 0;           // WAIT_ALLs of all programs (ring_size^2 for pass-kv)
  double wall_seconds = 0;
  int threads = 1;                          // threads the mode used
  std::vector<TimeNs> finish_ns;            // per device when asked for (not kWalk, at most 262,144)
  std::optional<FaultStats> faults;         // the scenario has faults: this is its median repeat
  // SimOptions::critical_block on a faulted pass-kv ring in the recurrence, up to
  // kCriticalBlockMaxDevices: the block on the critical path the faults lengthened most
  // (sim/critical_block.hpp).
  std::optional<CriticalBlock> critical_block;
  // With model.layers: the whole step around this attention (sim/model_step.hpp);
  // memory above is then the model's breakdown, and the fields above stay per layer.
  std::optional<ModelStep> model;
};

struct SimOptions {
  Mode mode = Mode::kAuto;
  int threads = 0;                 // 0: hardware concurrency
  bool keep_finish_times = false;  // fill PointResult::finish_ns
  bool record_events = false;      // kEvent: fill event_log (determinism tests)
  std::vector<std::string>* event_log = nullptr;
  // kEvent: the point's Chrome/Perfetto trace (sim/trace.hpp): compute and
  // transfers of the devices it samples.
  PointTrace* trace = nullptr;
  // Called now and then with (device-steps done, device-steps total).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
  // Fill PointResult::critical_block (a faulted ring in the recurrence, up to
  // kCriticalBlockMaxDevices): simulate_faults asks it of the critical repeat only.
  bool critical_block = false;
};

// Throws InputError (file, line, key) for a point whose schedule cannot run
// in `mode` (mode walk: Schedule::check_periodic); call after
// check_schedules, before any output. simulate_point checks the same.
void check_mode(const Scenario&, Mode);
// Without faults one run; with faults (sim/simulate_faults.cpp) the
// fault-free run, each repeat, and the first straggler alone.
PointResult simulate_point(const Scenario&, const Point&, const SimOptions&);
// One run of the point with `faults` realised for `repeat` (empty: none).
PointResult simulate_realisation(const Scenario&, const Point&, const SimOptions&, const FaultSpec& faults, int repeat);
PointResult simulate_faults(const Scenario&, const Point&, const SimOptions&);

// Throws std::invalid_argument, as simulate_point would after its setup,
// when mode recurrence or folded cannot simulate the point exactly (one rank
// per GPU, no interference, link-disjoint ring routes, a schedule that
// lowers to a ring). The CLI checks every point before it opens an output.
// Plans the point and builds its topology for those two modes only.
void check_mode(const Scenario&, const Point&, Mode);

}  // namespace ringsim
