// The plain discrete-event engine (mode kEvent). Virtual devices run programs
// of operations (COMPUTE, SEND, RECV, WAIT_ALL, ALLOC, FREE) produced lazily
// by a Program, one at a time, so no program is ever materialised. Transfers
// are rendezvous: a SEND and the matching RECV (same src, dst, tag) start a
// transfer when both are posted; it waits the route latency (an event), then
// its bytes flow through models/flow_network, which says when each flow (or
// pool of flows) is due; the engine wakes it then (stale entries are dropped
// by a version). A device whose WAIT_ALL is satisfied runs on inside the
// event that satisfied it; allocations and frees apply, as its program
// reaches them, to the DeviceMemory of the device's GPU (ranks sharing a GPU
// share it; the profile's reserved bytes count once).
//
// Models never touch the queue: the engine asks them and schedules.
// Work per event is independent of the number of devices and of flows in
// flight elsewhere (sim/engine.cpp, models/flow_network.hpp, README: speed).
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "models/flow_network.hpp"
#include "models/memory_model.hpp"
#include "models/topology.hpp"
#include "sim/event_queue.hpp"
#include "sim/fault_model.hpp"

namespace ringsim {

class PointTrace;

struct Op {
  enum Kind : std::uint8_t { kCompute, kSend, kRecv, kWaitAll, kAlloc, kFree, kDone };
  Kind kind = kDone;
  // kSend: one of the messages of an all-to-all among all_to_all_peers + 1
  // ranks (the route's all-to-all transport caps it); 0: point to point.
  std::uint16_t all_to_all_peers = 0;
  BufferId buffer = kNoBuffer;        // kAlloc, kFree; kSend/kRecv: the buffer sent / received into
  long long peer = 0;                 // kSend: destination, kRecv: source
  std::uint64_t tag = 0;              // kSend/kRecv: matched with the same tag
  TimeNs duration_ns = 0;             // kCompute
  double bytes = 0;                   // kSend (the engine reads it); kRecv: the same count, for executors
  double offset_bytes = 0;            // kSend/kRecv: where in `buffer` the message starts
  long long label = 0;                // shown in traces (the step)
  // kCompute: the compute rate one in-flight copy / link end takes while this
  // block runs (its shape's shares); < 0: EngineOptions' scalar.
  double copy_share = -1, link_share = -1;
  double flops = 0;                   // kCompute: matmul flops of its work (summed in EngineResult)
  // kCompute: a transfer's rate beside this compute / its rate alone, for
  // NCCL between cards and copies within one (profile link_under_compute).
  float nccl_rate_factor = 1, copy_rate_factor = 1;
};

// Where a device is in its program; the Program owns the meaning.
struct ProgramCursor {
  long long step = 0;
  int phase = 0;
};

class Program {
 public:
  virtual ~Program() = default;
  // Next operation of `device`, advancing its cursor. After kDone it is not
  // called again for that device.
  virtual Op next(long long device, ProgramCursor& cursor) const = 0;
  // The buffers kAlloc/kFree name (every device alike); null: no memory accounting.
  virtual const BufferTable* buffer_table() const { return nullptr; }
};

struct EngineOptions {
  std::vector<std::string>* event_log = nullptr;  // one line per event
  PointTrace* trace = nullptr;                    // Chrome/Perfetto trace of this run (sim/trace.hpp)
  // Called every so many completed WAIT_ALLs with (done, total_waits).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
  std::uint64_t total_waits = 0;
  // Devices d and e share a GPU iff d / ranks_per_gpu == e / ranks_per_gpu.
  // A GPU runs one compute at a time, in-order: the computes its devices post
  // start in (step, device) order, each when posted and the previous one is
  // done (a 0 ns compute still takes its turn); transfers between devices of
  // one GPU take Topology::loopback. Topology GPUs = devices / ranks_per_gpu.
  long long ranks_per_gpu = 1;
  // Interference (measured by ringsim validate): while a transfer is in
  // flight, it takes a fraction of each GPU's compute rate it touches: a
  // copy between devices of one GPU (copy), or each end of a transfer
  // between GPUs (link: NCCL kernels run on the SMs). The fraction is the
  // running compute's own (Op::copy_share, link_share: its block shape's),
  // or these scalars where the op carries none. A running compute progresses
  // at max(0, 1 - copies x copy share - link ends x link share). No
  // interference unless a scalar is > 0 or block_shares is set.
  double copy_compute_share = 0, link_compute_share = 0;
  bool block_shares = false;  // computes carry shares: model interference
  double reserved_bytes_per_gpu = 0;  // memory held before any buffer (profile reserved_memory)
  // Transfers under compute: a transfer whose bytes start to flow while a
  // compute runs on a GPU at either end is capped, for its whole life, at
  // its rate alone (route and transport) times the smaller of those
  // computes' Op::nccl_rate_factor (copy_rate_factor within one GPU).
  // Transports: a message is never faster than its route's transport moves
  // it (flow_rate_cap_bytes_per_s, models/topology.hpp).
  // Faults (sim/fault_model.hpp): transfer jitter changes a transfer's
  // latency phase (compute faults reach the engine through the program's
  // durations). NIC failures: from each time on, transfers matched then take
  // their routes in that topology (same link ids); transfers in flight keep
  // theirs. A transfer with no route then ends the run with NoRoute.
  const FaultModel* faults = nullptr;
  std::vector<std::pair<TimeNs, const Topology*>> topology_changes;  // time order
};

struct EngineResult {
  std::vector<TimeNs> finish_ns;   // per device: time of its kDone
  std::vector<TimeNs> compute_ns;  // per device: sum of its compute durations
  double flops = 0;                // sum of the computes' Op::flops
  long long peak_gpu = 0;          // GPU with the largest memory peak (lowest index)
  double peak_bytes = 0;           // its peak: reserved + the buffers of its ranks
  std::vector<int> peak_counts;    // live copies of each buffer id at that peak
  std::uint64_t events = 0;        // events popped (stale ones included)
};

class Engine {
 public:
  Engine(const Topology& topo, const Program& program, long long devices, EngineOptions options);
  ~Engine();
  EngineResult run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringsim
