// The discrete-event engine (see sim/engine.hpp). Event kinds and what they do:
//   compute_done(d)  d's compute finished (with interference: unless its epoch
//                    is stale, or its end moved later: then it is woken again);
//                    the next one queued on its GPU starts
//   flow_start(x)    with interference only: transfer x's latency has passed,
//                    its bytes enter the network (without interference the
//                    network is told the start when the transfer is matched)
//   network_due(s,v) the network's source s is due: a flow starts or ends
//                    (ignored by the network if version v is stale)
// A device whose WAIT_ALL is satisfied runs on at once, inside the event that
// satisfied it (at that time; the events it schedules keep their bands), and
// its ALLOC/FREE apply as its program reaches them: each DeviceMemory sees its
// own device's program order, as events would give it. So the queue holds
// about three events per device-step fewer than one per op (measured: 3.0 ->
// 2.0 events per device-step on a non-causal ring).
#include "sim/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "sim/rendezvous.hpp"

namespace ringsim {
namespace {

enum Kind : std::uint8_t { kComputeDone, kFlowStart, kNetworkDue };
const char* kind_name(std::uint8_t k) {
  static const char* const kNames[] = {"compute_done", "flow_start", "network_due"};
  return kNames[k];
}

constexpr std::uint64_t kProgressEvery = 1 << 16;  // WAIT_ALLs, and events (long runs without waits)
constexpr double kTwoTo63 = 9223372036854775808.0;

// Micro-seconds with nanosecond precision, as Chrome's trace format wants.
std::string us(TimeNs t) { return fmt::format("{}.{:03}", t / 1000, t % 1000); }

}  // namespace

struct Engine::Impl {
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
  };
  struct Transfer {
    long long src = 0, dst = 0;
    double bytes = 0;
    const Route* route = nullptr;
    TimeNs matched_ns = 0;
    long long label = 0;
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
  std::vector<DeviceMemory> memory;
  std::vector<Transfer> transfers;       // slots; finished ones are reused
  std::vector<std::int64_t> free_slots;
  Rendezvous rendezvous;
  std::unordered_map<std::uint64_t, Route> routes;            // (src, dst) -> route
  std::vector<std::uint64_t> flows_done;  // scratch: tags the network completed
  bool first_trace = true;
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
    if (const BufferSizes* sizes = program.buffer_sizes()) memory.assign(devs, DeviceMemory(sizes));
    result.finish_ns.assign(devs, -1);
    result.compute_ns.assign(devs, 0);
  }

  void push(TimeNs t, Band band, Kind kind, std::int64_t device, std::int64_t arg) {
    queue.push(t, band, kind, device, arg);
  }

  void trace(const char* name, int pid, long long tid, TimeNs start, TimeNs end, long long label) {
    if (!opt.chrome_trace) return;
    *opt.chrome_trace << (first_trace ? "" : ",\n")
                      << fmt::format(R"({{"name":"{}","ph":"X","pid":{},"tid":{},"ts":{},"dur":{},"args":{{"step":{}}}}})",
                                     name, pid, tid, us(start), us(end - start), label);
    first_trace = false;
  }

  // A device's last destination is looked up first: a ring sends to one peer.
  const Route* route(long long src, long long dst) {
    Device& dev = devices[src];
    if (dev.route_dst == dst) return dev.route;
    std::uint64_t key = static_cast<std::uint64_t>(src) * static_cast<std::uint64_t>(n) +
                        static_cast<std::uint64_t>(dst);
    auto it = routes.find(key);
    if (it == routes.end()) {
      const long long gs = src / rpg, gd = dst / rpg;
      it = routes.emplace(key, gs == gd ? topo.loopback(gs) : topo.route(gs, gd)).first;
    }
    dev.route_dst = dst;
    dev.route = &it->second;  // unordered_map nodes never move
    return dev.route;
  }

  void match(TimeNs now, long long src, long long dst, double bytes, long long label) {
    std::int64_t x;
    if (!free_slots.empty()) {
      x = free_slots.back();
      free_slots.pop_back();
    } else {
      x = static_cast<std::int64_t>(transfers.size());
      transfers.emplace_back();
    }
    const Route* r = route(src, dst);
    transfers[x] = Transfer{src, dst, bytes, r, now, label};
    const TimeNs start = checked_add_ns(now, r->latency_ns);
    if (interference) {  // its start changes compute rates: an event of its own
      push(start, Band::kFlowStart, kFlowStart, src, x);
      return;
    }
    network.start_flow(now, *r, bytes, static_cast<std::uint64_t>(x), kNoRateCap, start);
    schedule_network();
  }

  void post(TimeNs now, long long d, const Op& op) {
    Rendezvous::Matched m;
    if (rendezvous.post(d, op, m)) match(now, m.src, m.dst, m.bytes, m.label);
  }

  // One of d's compute, sends or recvs finished; a satisfied WAIT_ALL runs on now.
  void finish_one(TimeNs now, long long d) {
    Device& dev = devices[d];
    --dev.outstanding;
    if (dev.outstanding == 1 && dev.waiting && dev.quiet_end_ns >= 0) {
      if (dev.quiet_end_ns > now) {  // the compute is last: it needs its event after all
        wake_compute(d);
        return;
      }
      retire_quiet_compute(d);
    }
    if (dev.outstanding == 0 && dev.waiting) {
      dev.waiting = false;
      count_wait();
      run_device(now, d);
    }
  }
  void wake_compute(long long d) {
    Device& dev = devices[d];
    push(dev.quiet_end_ns, Band::kCompute, kComputeDone, d, dev.compute_label);
    dev.quiet_end_ns = -1;
  }
  // Its end has passed by now: done, as its event would have done it then.
  void retire_quiet_compute(long long d) {
    Device& dev = devices[d];
    trace("compute", 0, d, dev.compute_start_ns, dev.quiet_end_ns, dev.compute_label);
    dev.computing = false;
    gpus[d].busy = false;  // one rank per GPU
    dev.quiet_end_ns = -1;
    --dev.outstanding;
  }

  void count_wait() {
    if (opt.progress && ++waits_done % kProgressEvery == 0) opt.progress(waits_done, opt.total_waits);
  }

  void run_device(TimeNs now, long long d) {
    Device& dev = devices[d];
    for (;;) {
      Op op = program.next(d, dev.cursor);
      switch (op.kind) {
        case Op::kCompute:
          post_compute(now, d, op);
          break;
        case Op::kSend:
        case Op::kRecv:
          ++dev.outstanding;
          post(now, d, op);
          break;
        case Op::kWaitAll:
          if (dev.outstanding > 0) {
            dev.waiting = true;
            if (dev.outstanding == 1 && dev.quiet_end_ns >= 0) wake_compute(d);  // waits for it alone
            return;
          }
          count_wait();
          break;
        case Op::kAlloc:
          if (!memory.empty()) memory[d].alloc(op.buffer);
          break;
        case Op::kFree:
          if (!memory.empty()) memory[d].free(op.buffer);
          break;
        case Op::kDone:
          if (dev.outstanding != 0) throw std::logic_error("Engine: device done with work in flight");
          result.finish_ns[d] = now;
          return;
      }
    }
  }

  void post_compute(TimeNs now, long long d, const Op& op) {
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

  // Starts GPU g's next computes in its order while it is free.
  void start_computes(TimeNs now, long long g) {
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

  // Interference: the running compute's rate under the transfers in flight.
  static double rate(const Gpu& gpu) {
    return std::max(0.0, 1.0 - static_cast<double>(gpu.copies) * gpu.copy_share -
                             static_cast<double>(gpu.link_ends) * gpu.link_share);
  }
  // Interference: the running compute's end at the current rate, as of now.
  // A rate of 0, or one so close to 0 that the end falls past 2^63 ns, stalls
  // it until the next change. An event is pushed only if the end moved
  // earlier than the live one; a later end is taken up when that one arrives.
  void schedule_completion(TimeNs now, Gpu& gpu) {
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
  // A transfer starts (sign +1) or ends (-1): the GPUs it touches change rate.
  void transfer_share(TimeNs now, const Transfer& t, int sign) {
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

  // The network's wake-ups become events: starts after the completions due
  // at the same time, so a link is free before a new flow shares it.
  void schedule_network() {
    for (const FlowNetwork::Due& due : network.due()) {
      push(due.time_ns, due.start ? Band::kFlowStart : Band::kNetwork, kNetworkDue, due.source,
           static_cast<std::int64_t>(due.version));
    }
    network.due().clear();
  }

  void compute_done(TimeNs now, const Event& e) {
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

  void handle(const Event& e) {
    const TimeNs now = e.time_ns;
    switch (e.kind()) {
      case kComputeDone: compute_done(now, e); break;
      case kFlowStart: {
        const Transfer& t = transfers[e.arg];
        network.start_flow(now, *t.route, t.bytes, static_cast<std::uint64_t>(e.arg));
        transfer_share(now, t, +1);
        schedule_network();
        break;
      }
      case kNetworkDue:
        flows_done.clear();
        network.complete(now, static_cast<std::uint32_t>(e.device), static_cast<std::uint64_t>(e.arg), flows_done);
        schedule_network();
        for (const std::uint64_t x : flows_done) {
          const Transfer t = transfers[x];  // a copy: the devices run on and may reuse the slot
          trace("kv", 1, t.src, t.matched_ns, now, t.label);
          transfer_share(now, t, -1);
          free_slots.push_back(static_cast<std::int64_t>(x));
          finish_one(now, t.src);
          finish_one(now, t.dst);
        }
        break;
    }
  }

  EngineResult run() {
    queue.reserve(static_cast<std::size_t>(4 * n + 16));
    for (long long d = 0; d < n; ++d) run_device(0, d);
    while (!queue.empty()) {
      const Event e = queue.pop();
      if (++result.events % kProgressEvery == 0 && opt.progress) opt.progress(waits_done, opt.total_waits);
      if (opt.event_log) {
        opt.event_log->push_back(fmt::format("{} {} d={} a={}", e.time_ns, kind_name(e.kind()),
                                             e.device, e.arg));
      }
      handle(e);
    }
    check_finished();
    for (long long d = 0; d < static_cast<long long>(memory.size()); ++d) {
      if (memory[d].peak_bytes() > result.peak_bytes) {
        result.peak_bytes = memory[d].peak_bytes();
        result.peak_set = memory[d].peak_set();
        result.peak_device = d;
      }
    }
    return std::move(result);
  }

  void check_finished() const {
    for (long long g = 0; g < static_cast<long long>(gpus.size()); ++g) {
      if (gpus[g].running >= 0) {  // no transfer left to speed it up: its end is past int64
        throw TimeOverflow(fmt::format("Engine: the compute of device {} ends past 2^63 ns (292 years)",
                                       gpus[g].running));
      }
    }
    for (long long d = 0; d < n; ++d) {
      if (result.finish_ns[d] < 0) throw std::logic_error(fmt::format("Engine: device {} deadlocked", d));
    }
    if (rendezvous.unmatched() != 0) throw std::logic_error("Engine: unmatched send or recv");
  }
};

Engine::Engine(const Topology& topo, const Program& program, long long devices, EngineOptions options)
    : impl_(std::make_unique<Impl>(topo, program, devices, options)) {}
Engine::~Engine() = default;
EngineResult Engine::run() { return impl_->run(); }

}  // namespace ringsim
