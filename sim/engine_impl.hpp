// The event engine's state, shared by sim/engine.cpp (devices, transfers,
// GPU compute streams, the event loop) and sim/engine_compute.cpp
// (interference). Private to those two files.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "sim/engine.hpp"
#include "sim/rendezvous.hpp"

namespace ringsim {

namespace engine_detail {
enum Kind : std::uint8_t { kComputeDone, kFlowStart, kNetworkDue };
constexpr std::uint64_t kProgressEvery = 1 << 16;  // WAIT_ALLs, and events (long runs without waits)
constexpr double kTwoTo63 = 9223372036854775808.0;
}  // namespace engine_detail

struct Engine::Impl {
  using Kind = engine_detail::Kind;
  struct Device {
    ProgramCursor cursor;
    int outstanding = 0;     // compute + sends + recvs not finished
    bool waiting = false;    // blocked in WAIT_ALL
    bool computing = false;  // one compute at a time (one stream per device)
    bool queued = false;     // a posted compute waits for its GPU (below)
    TimeNs compute_start_ns = 0;
    long long compute_label = 0;
    TimeNs compute_duration_ns = 0;
    double copy_share = 0, link_share = 0;  // of the posted compute (interference)
    float nccl_factor = 1, copy_factor = 1;  // of the posted compute (transfers beside it)
    // One rank per GPU, no interference: the running compute's end, known when
    // it starts. It needs an event only if it is the last thing the device
    // waits for; otherwise the transfer that ends later retires it (saves an
    // event per device-step in communication-bound rings). -1: none.
    TimeNs quiet_end_ns = -1;
    long long route_dst = -1;               // the last destination it sent to, and its route
    const Route* route = nullptr;
  };
  // One compute stream per GPU, in-order over its devices: the next compute
  // is device `head`'s (cycling over the GPU's devices, one compute each per
  // step), so computes start in (step, device) order. One device per GPU:
  // a posted compute starts at once, as it always did.
  struct Gpu {
    long long head = 0;  // index of the next device within the GPU
    bool busy = false;
    // Interference only: compute progress at a rate that transfers lower.
    long long running = -1;    // device computing
    long long copies = 0, link_ends = 0;  // transfers in flight touching the GPU
    double copy_share = 0, link_share = 0;  // of the running compute, per transfer
    double remaining_ns = 0;   // of the running compute, at full rate
    TimeNs since_ns = 0;       // remaining_ns is as of this time
    TimeNs done_ns = kTimeNever;   // its end at the current rate (kTimeNever: stalled)
    TimeNs woken_ns = kTimeNever;  // time of the live completion event (<= done_ns)
    std::int64_t epoch = 0;    // completion events of older epochs are stale
    long long computing = -1;  // device whose compute runs (any model), -1: idle
    TimeNs computing_end_ns = kTimeNever;  // its end where known when it started (no interference)
  };
  struct Transfer {
    long long src = 0, dst = 0;
    double bytes = 0;
    const Route* route = nullptr;
    TimeNs matched_ns = 0;
    long long label = 0;
    int all_to_all_peers = 0;
  };

  const Topology& topo;
  const Program& program;
  long long n;
  EngineOptions opt;
  EventQueue queue;
  FlowNetwork network;
  std::vector<Device> devices;
  long long rpg;
  std::vector<Gpu> gpus;
  bool interference;
  std::vector<DeviceMemory> memory;     // per GPU (empty: no memory accounting)
  std::vector<Transfer> transfers;       // slots; finished ones are reused
  std::vector<std::int64_t> free_slots;
  Rendezvous rendezvous;
  std::unordered_map<std::uint64_t, Route> routes;            // (src, dst) -> route
  std::vector<std::uint64_t> flows_done;  // scratch: tags the network completed
  std::uint64_t waits_done = 0;  // WAIT_ALLs passed, for progress
  EngineResult result;

  Impl(const Topology& t, const Program& p, long long devs, EngineOptions o)
      : topo(t), program(p), n(devs), opt(o), network(t), devices(devs), rpg(o.ranks_per_gpu),
        rendezvous(devs) {
    if (rpg < 1 || devs % rpg != 0 || devs / rpg != topo.spec().gpus) {
      throw std::invalid_argument(fmt::format("Engine: {} devices at {} per GPU do not fill the topology's {} GPUs",
                                              devs, rpg, topo.spec().gpus));
    }
    gpus.resize(static_cast<std::size_t>(devs / rpg));
    interference = o.copy_compute_share > 0 || o.link_compute_share > 0 || o.block_shares;
    if (const BufferTable* table = program.buffer_table()) {
      memory.assign(gpus.size(), DeviceMemory(table, o.reserved_bytes_per_gpu));
    }
    result.finish_ns.assign(devs, -1);
    result.compute_ns.assign(devs, 0);
  }

  void push(TimeNs t, Band band, Kind kind, std::int64_t device, std::int64_t arg) {
    queue.push(t, band, kind, device, arg);
  }
  // Interference: the running compute's rate under the transfers in flight.
  static double rate(const Gpu& gpu) {
    return std::max(0.0, 1.0 - static_cast<double>(gpu.copies) * gpu.copy_share -
                             static_cast<double>(gpu.link_ends) * gpu.link_share);
  }

  // sim/engine.cpp (inline: defined and used there only, so the event loop
  // inlines them; measured: +20% instructions when they were out of line)
  inline void trace(const char* name, int pid, long long tid, TimeNs start, TimeNs end, long long label,
                    long long peer = -1);
  // A device's last destination is looked up first: a ring sends to one peer.
  inline const Route* route(long long src, long long dst, TimeNs now);
  const Route* changed_route(long long src, long long dst, std::size_t epoch, TimeNs now);  // NIC failures
  TimeNs latency_ns(const Transfer& t) const;  // transfer jitter
  inline void match(TimeNs now, long long src, long long dst, double bytes, long long label, int a2a_peers);
  // The cap of transfer t whose bytes start at start_ns (EngineOptions): its
  // transport's, lowered by the computes running at its ends then.
  double flow_cap(const Transfer& t, TimeNs start_ns) const;
  inline void post(TimeNs now, long long d, const Op& op);
  // One of d's compute, sends or recvs finished; a satisfied WAIT_ALL runs on now.
  inline void finish_one(TimeNs now, long long d);
  inline void count_wait();
  inline void run_device(TimeNs now, long long d);
  // The network's wake-ups become events: starts after the completions due
  // at the same time, so a link is free before a new flow shares it.
  inline void schedule_network();
  inline void handle(const Event& e);
  EngineResult run();
  void check_finished() const;
  inline void wake_compute(long long d);
  // Its end has passed by now: done, as its event would have done it then.
  inline void retire_quiet_compute(long long d);
  inline void post_compute(TimeNs now, long long d, const Op& op);
  // Starts GPU g's next computes in its order while it is free.
  inline void start_computes(TimeNs now, long long g);
  inline void compute_done(TimeNs now, const Event& e);
  // sim/engine_compute.cpp
  // Interference: the running compute's end at the current rate, as of now.
  // A rate of 0, or one so close to 0 that the end falls past 2^63 ns, stalls
  // it until the next change. An event is pushed only if the end moved
  // earlier than the live one; a later end is taken up when that one arrives.
  void schedule_completion(TimeNs now, Gpu& gpu);
  // A transfer starts (sign +1) or ends (-1): the GPUs it touches change rate.
  void transfer_share(TimeNs now, const Transfer& t, int sign);
};

}  // namespace ringsim
