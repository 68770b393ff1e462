// Context-parallel schedules as plug-ins (SimGrid style: one file each under
// sim/schedules/, registered by name with a one-line description).
//
// A Schedule
//   - checks a scenario point (check): throws InputError naming the key
//     (heads not divisible by the Ulysses degree, a degree not dividing the
//     ring, a layout it cannot use, cached tokens it cannot hold);
//   - plans a point (plan), giving a Plan:
//       buffer table    the buffers one rank holds (name, bytes), which the
//                       memory model charges (program().buffer_table());
//       program         each device's operations for the event engine,
//                       produced lazily per device (never materialised), with
//                       named phases; work() describes each compute, and
//                       inputs() / outputs() where the data starts and ends,
//                       for a real executor (sim/work.hpp; kernels/ring walks
//                       these programs);
//       lower           optionally, the exact fast path its dependency graph
//                       allows (sim/ring_lowering.hpp), which tests prove equal
//                       to the event engine to the nanosecond.
//     A plan is of one pass (PlanInput::pass): the forward, or the backward,
//     whose buffer table starts from what the forward saved (saved_*: Q,
//     K/V, O, LSE of the layer) and the incoming gradient dO (grad_out).
// Every compute's cost goes through the CostContext (sim/cost_context.hpp).
//
// The registry is filled by static objects in each schedule's file
// (RINGSIM_REGISTER_SCHEDULE); meson links sim/schedules whole
// (link_whole), since a linker drops unreferenced objects of a static
// library, and tests/sim checks every schedule is registered.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/scenario.hpp"
#include "sim/cost_context.hpp"
#include "sim/engine.hpp"
#include "sim/geometry.hpp"
#include "sim/ring_lowering.hpp"
#include "sim/work.hpp"

namespace ringsim {

// A program whose compute operations say what they compute.
class ScheduleProgram : public Program {
 public:
  // The work of the compute op next(device, c) just returned, given the
  // cursor as that call left it (`after`).
  virtual ComputeWork work(long long device, const ProgramCursor& after) const = 0;
  // Where the rows of a block's q_part / kv_part sit in the sequence
  // (positions for masks); kv_part -1: the whole sequence in position order,
  // cached rows first.
  virtual const SequenceLayout& sequence() const = 0;
  // For a real executor (sim/work.hpp Placement): what `device` holds before
  // its program runs (queries, keys/values) and where its rows of the final
  // output are when it is done (every (position, head) of the sequence in
  // exactly one device's outputs).
  virtual std::vector<Placement> inputs(long long device) const = 0;
  virtual std::vector<Placement> outputs(long long device) const = 0;
};

class Plan {
 public:
  virtual ~Plan() = default;
  virtual const ScheduleProgram& program() const = 0;
  // WAIT_ALLs over all devices' programs (progress counts them).
  virtual std::uint64_t waits() const = 0;
  // The exact fast path, where the dependency graph allows one.
  virtual std::optional<RingLowering> lower() const { return std::nullopt; }
  // Live copies of each buffer id at one device's memory peak, in O(1) for
  // paths that never walk the program (rings far beyond what the engine
  // runs); null: replay the program's allocations (tests check both agree).
  virtual std::optional<std::vector<int>> peak_counts() const { return std::nullopt; }
  // The degrees the schedule resolved ("ulysses 8 x ring 4"); empty if none.
  virtual std::string detail() const { return {}; }
};

// What a schedule plans against: one point of a scenario.
struct PlanInput {
  const Scenario& scenario;
  const Point& point;
  const PointAttention& attention;
  const CostContext& costs;
  const DocumentMask* documents;  // null: one document
  long long ranks_per_gpu = 1;    // > 1: empty computes keep their slot in the GPU's stream
  Pass pass = Pass::kForward;     // kForward or kBackward (kTraining runs one plan of each)
};

class Schedule {
 public:
  virtual ~Schedule() = default;
  // Throws InputError (file, line, key) if the point cannot run this schedule.
  virtual void check(const Scenario&, const Point&, const PointAttention&) const = 0;
  virtual std::unique_ptr<Plan> plan(const PlanInput&) const = 0;
  // The periodic paths (mode walk, rings above kMaxFullRing:
  // sim/ring_periodic.hpp) never build a program or the full topology: they
  // take the plan's lower() (a whole ring, no tail) and peak_counts(), which
  // the plan must give in O(1) for any ring size. Throws InputError naming
  // the key if this point cannot run there; `asked` says what sent it there
  // ("mode walk"). Default: the schedule cannot (only pass-kv can).
  virtual void check_periodic(const Scenario&, const Point&, const PointAttention&, const std::string& asked) const;
};

struct ScheduleInfo {
  std::string name, description;
  std::unique_ptr<Schedule> schedule;
};

// Registers a schedule (at static initialisation); throws on a duplicate name.
bool register_schedule(const char* name, const char* description, std::unique_ptr<Schedule>);
const ScheduleInfo* find_schedule(std::string_view name);  // null if unknown
std::vector<const ScheduleInfo*> registered_schedules();   // sorted by name

#define RINGSIM_REGISTER_SCHEDULE(Class, name, description)                   \
  [[maybe_unused]] static const bool ringsim_registered_##Class =             \
      ::ringsim::register_schedule(name, description, std::make_unique<Class>())

// The point's schedule checked (unknown names included; rings above
// kMaxFullRing through check_periodic); throws InputError.
const Schedule& checked_schedule(const Scenario&, const Point&);
// Every point of the scenario; call after load_scenario, before any output.
void check_schedules(const Scenario&);

}  // namespace ringsim
