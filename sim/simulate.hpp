// Simulating one point of a scenario: the forward pass of pass-KV ring
// attention on ring_size virtual devices, every device and every step.
//
// Modes (all give the same times to the nanosecond; tests/sim checks it):
//   kEvent       the plain discrete-event engine: devices run programs of
//                operations, transfers are flows in models/flow_network,
//                memory is allocated and freed as events.
//   kRecurrence  exact evaluation of the ring's event graph, step by step
//                over all devices, valid when no two ring transfers share a
//                link (checked from the routes); several threads.
//   kFolded      kRecurrence on one period of devices whose timelines are
//                provably identical (same costs and link times, shifted).
//   kAuto        the fastest valid mode.
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "models/memory_model.hpp"
#include "models/scenario.hpp"

namespace ringsim {

class PointTrace;

enum class Mode { kAuto, kEvent, kRecurrence, kFolded };
const char* mode_name(Mode);

struct PointResult {
  Point point;
  Mode mode = Mode::kEvent;                 // mode that produced it
  TimeNs makespan_ns = 0;                   // last device's finish
  TimeNs slowest_compute_ns = 0;            // compute of the slowest device
  TimeNs slowest_exposed_comm_ns = 0;       // its finish minus its compute
  long long slowest_device = 0;
  CostSource compute_source = CostSource::kEstimated;
  MemoryVerdict memory;                     // peak per device (max over devices)
  std::uint64_t events = 0;                 // events processed (or graph nodes evaluated)
  std::uint64_t device_steps = 0;           // ring_size^2 always
  double wall_seconds = 0;
  int threads = 1;                          // threads the mode used
  std::vector<TimeNs> finish_ns;            // per device when asked for (kRecurrence: all)
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
};

PointResult simulate_point(const Scenario&, const Point&, const SimOptions&);

// Throws std::invalid_argument, as simulate_point would after its setup,
// when `mode` cannot simulate the point (recurrence and folded need one rank
// per GPU, no interference and link-disjoint ring routes). The CLI checks
// every point before it opens an output. Builds the point's topology unless
// mode is auto or event.
void check_mode(const Scenario&, const Point&, Mode);

}  // namespace ringsim
