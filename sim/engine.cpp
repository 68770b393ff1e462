// The discrete-event engine (see sim/engine.hpp). Event kinds and what they do:
//   resume(d)        device d runs its program until it waits or is done
//   compute_done(d)  d's compute finished; the next one queued on its GPU starts
//   flow_start(x)    transfer x's latency has passed: its bytes enter the network
//   network_wake(e)  flows may have completed (ignored unless epoch e is current)
//   alloc/free(d,b)  DeviceMemory of d's GPU
#include "sim/engine.hpp"

#include "sim/trace.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace ringsim {
namespace {

enum Kind : std::uint8_t { kResume, kComputeDone, kFlowStart, kNetworkWake, kAlloc, kFree };
const char* kind_name(std::uint8_t k) {
  static const char* const kNames[] = {"resume", "compute_done", "flow_start", "network_wake",
                                       "alloc", "free"};
  return kNames[k];
}

// An unmatched post, kept at the device that will see the match: sends at
// their destination, receives at their source. Lists hold 0-2 entries in a
// ring, so a linear scan beats a hash map (measured: the map was 12% of a
// 1024-device run).
struct Post {
  long long peer;  // the other side
  std::uint64_t tag;
  double bytes;    // sends
  long long label;
};

constexpr std::uint64_t kProgressEvery = 1 << 16;

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
  std::vector<std::vector<Post>> sends_to, recvs_from;  // [dst] unmatched sends, [src] unmatched recvs
  std::uint64_t unmatched = 0;
  std::unordered_map<std::uint64_t, Route> routes;            // (src, dst) -> route
  std::uint64_t wake_epoch = 0;
  TimeNs wake_at_ns = kTimeNever;       // time of the live wake event
  std::uint64_t waits_done = 0;  // WAIT_ALLs passed, for progress
  EngineResult result;

  Impl(const Topology& t, const Program& p, long long devs, EngineOptions o)
      : topo(t), program(p), n(devs), opt(o), network(t), devices(devs), rpg(o.ranks_per_gpu),
        sends_to(devs), recvs_from(devs) {
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

  // Chrome/Perfetto trace (sim/trace.hpp): a compute of device `tid`, or a
  // transfer from `tid` to `peer`.
  void trace([[maybe_unused]] const char* name, [[maybe_unused]] int pid, long long tid, TimeNs start,
             TimeNs end, long long label, long long peer = -1) {
    if (!opt.trace) return;
    if (peer < 0) opt.trace->compute(tid, start, end, label);
    else opt.trace->transfer(tid, peer, start, end, label);
  }

  const Route* route(long long src, long long dst) {
    std::uint64_t key = static_cast<std::uint64_t>(src) * static_cast<std::uint64_t>(n) +
                        static_cast<std::uint64_t>(dst);
    auto it = routes.find(key);
    if (it == routes.end()) {
      const long long gs = src / rpg, gd = dst / rpg;
      it = routes.emplace(key, gs == gd ? topo.loopback(gs) : topo.route(gs, gd)).first;
    }
    return &it->second;
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
    push(checked_add_ns(now, r->latency_ns), Band::kFlowStart, kFlowStart, src, x);
  }

  // A send (src d -> op.peer) looks for a recv posted at op.peer's list of
  // recvs from d, and the other way round.
  void post(TimeNs now, long long d, const Op& op) {
    const bool is_send = op.kind == Op::kSend;
    const long long src = is_send ? d : op.peer, dst = is_send ? op.peer : d;
    std::vector<Post>& theirs = is_send ? recvs_from[src] : sends_to[dst];
    for (std::size_t i = 0; i < theirs.size(); ++i) {
      if (theirs[i].peer != (is_send ? dst : src) || theirs[i].tag != op.tag) continue;
      const Post other = theirs[i];
      theirs.erase(theirs.begin() + static_cast<std::ptrdiff_t>(i));
      --unmatched;
      match(now, src, dst, is_send ? op.bytes : other.bytes, is_send ? op.label : other.label);
      return;
    }
    std::vector<Post>& mine = is_send ? sends_to[dst] : recvs_from[src];
    for (const Post& p : mine) {
      if (p.peer == (is_send ? src : dst) && p.tag == op.tag) throw std::logic_error("Engine: duplicate post");
    }
    mine.push_back(Post{is_send ? src : dst, op.tag, op.bytes, op.label});
    ++unmatched;
  }

  void finish_one(TimeNs now, long long d) {
    Device& dev = devices[d];
    if (--dev.outstanding == 0 && dev.waiting) {
      dev.waiting = false;
      count_wait();
      push(now, Band::kDevice, kResume, d, 0);
    }
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
          if (dev.computing || dev.queued) throw std::logic_error("Engine: overlapping computes");
          dev.queued = true;
          ++dev.outstanding;
          dev.compute_label = op.label;
          dev.compute_duration_ns = op.duration_ns;
          dev.copy_share = op.copy_share < 0 ? opt.copy_compute_share : op.copy_share;
          dev.link_share = op.link_share < 0 ? opt.link_compute_share : op.link_share;
          result.compute_ns[d] = checked_add_ns(result.compute_ns[d], op.duration_ns);
          result.flops += op.flops;
          start_computes(now, d / rpg);
          break;
        case Op::kSend:
        case Op::kRecv:
          ++dev.outstanding;
          post(now, d, op);
          break;
        case Op::kWaitAll:
          if (dev.outstanding > 0) {
            dev.waiting = true;
            return;
          }
          count_wait();
          break;
        case Op::kAlloc:
        case Op::kFree:
          push(now, Band::kMemory, op.kind == Op::kAlloc ? kAlloc : kFree, d,
               static_cast<std::int64_t>(op.buffer));
          break;
        case Op::kDone:
          if (dev.outstanding != 0) throw std::logic_error("Engine: device done with work in flight");
          result.finish_ns[d] = now;
          return;
      }
    }
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
        push(checked_add_ns(now, dev.compute_duration_ns), Band::kCompute, kComputeDone, d, dev.compute_label);
        continue;
      }
      gpu.running = d;
      gpu.copy_share = dev.copy_share;
      gpu.link_share = dev.link_share;
      gpu.remaining_ns = static_cast<double>(dev.compute_duration_ns);
      gpu.since_ns = now;
      schedule_completion(now, gpu);
    }
  }

  // Interference: the running compute's rate under the transfers in flight.
  static double rate(const Gpu& gpu) {
    return std::max(0.0, 1.0 - static_cast<double>(gpu.copies) * gpu.copy_share -
                             static_cast<double>(gpu.link_ends) * gpu.link_share);
  }
  // Interference: the running compute's completion at the current rate.
  void schedule_completion(TimeNs now, Gpu& gpu) {
    ++gpu.epoch;
    const double rate = Impl::rate(gpu);
    if (gpu.running < 0 || rate <= 0) return;  // stalled until a transfer ends
    const TimeNs left = static_cast<TimeNs>(std::ceil(std::max(0.0, gpu.remaining_ns) / rate));
    push(checked_add_ns(now, left), Band::kCompute, kComputeDone, gpu.running, gpu.epoch);
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
      if (gpu.running >= 0) schedule_completion(now, gpu);
    };
    if (gs == gd) {
      apply(gs, true);
    } else {
      apply(gs, false);
      apply(gd, false);
    }
  }

  // Completes flows up to `now` and reschedules the network's wake.
  // Returns how many flows completed.
  std::size_t service_network(TimeNs now) {
    std::vector<std::uint64_t> done = network.advance_to(now);
    for (std::uint64_t x : done) {
      const Transfer& t = transfers[x];
      trace("transfer", 1, t.src, t.matched_ns, now, t.label, t.dst);
      transfer_share(now, t, -1);
      finish_one(now, t.src);
      finish_one(now, t.dst);
      free_slots.push_back(static_cast<std::int64_t>(x));
    }
    return done.size();
  }
  void reschedule_wake() {
    TimeNs t = network.next_completion_ns();
    if (t == kTimeNever || t == wake_at_ns) return;
    wake_at_ns = t;
    push(t, Band::kNetwork, kNetworkWake, -1, static_cast<std::int64_t>(++wake_epoch));
  }

  void handle(const Event& e) {
    TimeNs now = e.time_ns;
    switch (e.kind()) {
      case kResume: run_device(now, e.device); break;
      case kComputeDone: {
        Gpu& gpu = gpus[e.device / rpg];
        if (interference) {
          if (e.arg != gpu.epoch) return;  // the rate changed since: stale
          gpu.running = -1;
        }
        Device& dev = devices[e.device];
        dev.computing = false;
        gpu.busy = false;
        trace("compute", 0, e.device, dev.compute_start_ns, now, dev.compute_label);
        finish_one(now, e.device);
        start_computes(now, e.device / rpg);
        break;
      }
      case kFlowStart: {
        service_network(now);  // free links of flows ending now before sharing them
        const Transfer& t = transfers[e.arg];
        network.start_flow(now, *t.route, t.bytes, static_cast<std::uint64_t>(e.arg));
        transfer_share(now, t, +1);
        reschedule_wake();
        break;
      }
      case kNetworkWake:
        if (static_cast<std::uint64_t>(e.arg) != wake_epoch) return;  // stale
        wake_at_ns = kTimeNever;
        // A wake that completes nothing yet promises a completion now would spin forever.
        if (service_network(now) == 0 && network.next_completion_ns() <= now) {
          throw std::logic_error(fmt::format("Engine: network promised a completion at {} ns but none came", now));
        }
        reschedule_wake();
        break;
      case kAlloc: memory[e.device / rpg].alloc(static_cast<BufferId>(e.arg)); break;
      case kFree: memory[e.device / rpg].free(static_cast<BufferId>(e.arg)); break;
    }
  }

  EngineResult run() {
    queue.reserve(static_cast<std::size_t>(4 * n + 16));
    for (long long d = 0; d < n; ++d) push(0, Band::kDevice, kResume, d, 0);
    while (!queue.empty()) {
      Event e = queue.pop();
      ++result.events;
      if (opt.event_log) {
        opt.event_log->push_back(fmt::format("{} {} d={} a={}", e.time_ns, kind_name(e.kind()),
                                             e.device, e.arg));
      }
      handle(e);
    }
    for (long long d = 0; d < n; ++d) {
      if (result.finish_ns[d] < 0) throw std::logic_error(fmt::format("Engine: device {} deadlocked", d));
    }
    if (unmatched != 0) throw std::logic_error("Engine: unmatched send or recv");
    for (long long g = 0; g < static_cast<long long>(memory.size()); ++g) {
      if (g == 0 || memory[g].peak_bytes() > result.peak_bytes) {
        result.peak_bytes = memory[g].peak_bytes();
        result.peak_counts = memory[g].peak_counts();
        result.peak_gpu = g;
      }
    }
    return std::move(result);
  }
};

Engine::Engine(const Topology& topo, const Program& program, long long devices, EngineOptions options)
    : impl_(std::make_unique<Impl>(topo, program, devices, options)) {}
Engine::~Engine() = default;
EngineResult Engine::run() { return impl_->run(); }

}  // namespace ringsim
