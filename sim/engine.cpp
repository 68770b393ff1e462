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
// its ALLOC/FREE apply to its GPU's DeviceMemory as its program reaches them:
// the memory sees each rank's program order, as events would give it (ranks
// sharing a GPU interleave in the order they reach them). With one rank per
// GPU and no interference, a compute needs no event unless its device waits
// for it last (Device::quiet_end_ns), and a transfer whose links are free is
// reserved in the network when matched (no start event). A non-causal ring
// went from 3.0 events per device-step (resume, compute, flow start, network
// wake) to 1.0 (2026-11-27). Interference is in sim/engine_compute.cpp.
#include "sim/engine.hpp"

#include <fmt/format.h>

#include <ostream>
#include <stdexcept>

#include "sim/engine_impl.hpp"
#include "sim/trace.hpp"

namespace ringsim {
namespace {

using namespace engine_detail;

const char* kind_name(std::uint8_t k) {
  static const char* const kNames[] = {"compute_done", "flow_start", "network_due"};
  return kNames[k];
}

}  // namespace

// Chrome/Perfetto trace (sim/trace.hpp): a compute of device `tid`, or a
// transfer from `tid` to `peer`.
void Engine::Impl::trace([[maybe_unused]] const char* name, [[maybe_unused]] int pid, long long tid, TimeNs start,
                         TimeNs end, long long label, long long peer) {
  if (!opt.trace) return;
  if (peer < 0) opt.trace->compute(tid, start, end, label);
  else opt.trace->transfer(tid, peer, start, end, label);
}

const Route* Engine::Impl::route(long long src, long long dst, TimeNs now) {
  if (!opt.topology_changes.empty() && opt.topology_changes.front().first <= now) {
    std::size_t epoch = 0;  // topology changes (NIC failures) at or before now
    while (epoch < opt.topology_changes.size() && opt.topology_changes[epoch].first <= now) ++epoch;
    return changed_route(src, dst, epoch, now);
  }
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

// Routes after the epoch-th NIC failure (cached apart from the per-device cache).
const Route* Engine::Impl::changed_route(long long src, long long dst, std::size_t epoch, TimeNs now) {
  const std::uint64_t key = (epoch * static_cast<std::uint64_t>(n) + static_cast<std::uint64_t>(src)) *
                                static_cast<std::uint64_t>(n) + static_cast<std::uint64_t>(dst);
  auto it = routes.find(key);
  if (it != routes.end()) return &it->second;
  const Topology& t = *opt.topology_changes[epoch - 1].second;
  const long long gs = src / rpg, gd = dst / rpg;
  try {
    return &routes.emplace(key, gs == gd ? t.loopback(gs) : t.route(gs, gd)).first->second;
  } catch (const NoRoute& e) {
    throw NoRoute(fmt::format("the ring cannot complete: at {} a transfer from device {} to {} finds {}",
                              format_seconds(to_seconds(now)), src, dst, e.what()));
  }
}

// Transfer jitter (sim/fault_model.hpp) moves a transfer's change into its latency phase.
// Its bytes time alone is at the route's rate or its transport's cap (as ring_lowering).
TimeNs Engine::Impl::latency_ns(const Transfer& t) const {
  const Route& r = *t.route;
  if (!opt.faults || !opt.faults->transfer_jitter()) return r.latency_ns;
  const double rate = std::min(r.bytes_per_s, flow_rate_cap_bytes_per_s(r, t.bytes, t.all_to_all_peers));
  const TimeNs bytes_ns = transfer_time_ns(t.bytes, rate);
  return opt.faults->transfer_ns(t.src, t.label, checked_add_ns(r.latency_ns, bytes_ns), bytes_ns) - bytes_ns;
}

void Engine::Impl::match(TimeNs now, long long src, long long dst, double bytes, long long label, int a2a_peers) {
  std::int64_t x;
  if (!free_slots.empty()) {
    x = free_slots.back();
    free_slots.pop_back();
  } else {
    x = static_cast<std::int64_t>(transfers.size());
    transfers.emplace_back();
  }
  const Route* r = route(src, dst, now);
  transfers[x] = Transfer{src, dst, bytes, r, now, label, a2a_peers};
  const TimeNs start = checked_add_ns(now, latency_ns(transfers[x]));
  if (interference) {  // its start changes compute rates: an event of its own
    push(start, Band::kFlowStart, kFlowStart, src, x);
    return;
  }
  network.start_flow(now, *r, bytes, static_cast<std::uint64_t>(x), flow_cap(transfers[x], start), start);
  schedule_network();
}

void Engine::Impl::post(TimeNs now, long long d, const Op& op) {
  Rendezvous::Matched m;
  if (rendezvous.post(d, op, m)) match(now, m.src, m.dst, m.bytes, m.label, m.all_to_all_peers);
}

double Engine::Impl::flow_cap(const Transfer& t, TimeNs start_ns) const {
  const double transport = flow_rate_cap_bytes_per_s(*t.route, t.bytes, t.all_to_all_peers);
  const long long gs = t.src / rpg, gd = t.dst / rpg;
  const auto factor = [&](long long g) -> double {
    const Gpu& gpu = gpus[static_cast<std::size_t>(g)];
    if (gpu.computing < 0 || gpu.computing_end_ns <= start_ns) return 1.0;
    const Device& dev = devices[static_cast<std::size_t>(gpu.computing)];
    return gs == gd ? dev.copy_factor : dev.nccl_factor;
  };
  const double f = std::min(factor(gs), factor(gd));
  if (f >= 1.0) return transport;
  return std::min(transport, std::min(t.route->bytes_per_s, transport) * f);
}

void Engine::Impl::finish_one(TimeNs now, long long d) {
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

void Engine::Impl::count_wait() {
  if (opt.progress && ++waits_done % kProgressEvery == 0) opt.progress(waits_done, opt.total_waits);
}

void Engine::Impl::run_device(TimeNs now, long long d) {
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
        if (!memory.empty()) memory[d / rpg].alloc(op.buffer);
        break;
      case Op::kFree:
        if (!memory.empty()) memory[d / rpg].free(op.buffer);
        break;
      case Op::kDone:
        if (dev.outstanding != 0) throw std::logic_error("Engine: device done with work in flight");
        result.finish_ns[d] = now;
        return;
    }
  }
}

void Engine::Impl::wake_compute(long long d) {
  Device& dev = devices[d];
  push(dev.quiet_end_ns, Band::kCompute, kComputeDone, d, dev.compute_label);
  dev.quiet_end_ns = -1;
}

// Its end has passed by now: done, as its event would have done it then.
void Engine::Impl::retire_quiet_compute(long long d) {
  Device& dev = devices[d];
  trace("compute", 0, d, dev.compute_start_ns, dev.quiet_end_ns, dev.compute_label);
  dev.computing = false;
  gpus[d].busy = false;  // one rank per GPU
  gpus[d].computing = -1;
  dev.quiet_end_ns = -1;
  --dev.outstanding;
}

void Engine::Impl::post_compute(TimeNs now, long long d, const Op& op) {
  Device& dev = devices[d];
  if (dev.computing || dev.queued) throw std::logic_error("Engine: overlapping computes");
  dev.queued = true;
  ++dev.outstanding;
  dev.compute_label = op.label;
  dev.compute_duration_ns = op.duration_ns;
  dev.copy_share = op.copy_share < 0 ? opt.copy_compute_share : op.copy_share;
  dev.link_share = op.link_share < 0 ? opt.link_compute_share : op.link_share;
  dev.nccl_factor = op.nccl_rate_factor;
  dev.copy_factor = op.copy_rate_factor;
  result.compute_ns[d] = checked_add_ns(result.compute_ns[d], op.duration_ns);
  result.flops += op.flops;
  start_computes(now, d / rpg);
}

void Engine::Impl::start_computes(TimeNs now, long long g) {
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
    gpu.computing = d;
    gpu.computing_end_ns = kTimeNever;  // with interference its end moves; flow_cap is asked at the start itself
    if (!interference) {
      const TimeNs end = checked_add_ns(now, dev.compute_duration_ns);
      gpu.computing_end_ns = end;
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

void Engine::Impl::compute_done(TimeNs now, const Event& e) {
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
  gpu.computing = -1;
  trace("compute", 0, e.device, dev.compute_start_ns, now, dev.compute_label);
  finish_one(now, e.device);
  start_computes(now, e.device / rpg);
}

void Engine::Impl::schedule_network() {
  for (const FlowNetwork::Due& due : network.due()) {
    push(due.time_ns, due.start ? Band::kFlowStart : Band::kNetwork, kNetworkDue, due.source,
         static_cast<std::int64_t>(due.version));
  }
  network.due().clear();
}

void Engine::Impl::handle(const Event& e) {
  const TimeNs now = e.time_ns;
  switch (e.kind()) {
    case kComputeDone: compute_done(now, e); break;
    case kFlowStart: {
      const Transfer& t = transfers[e.arg];
      network.start_flow(now, *t.route, t.bytes, static_cast<std::uint64_t>(e.arg), flow_cap(t, now));
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
        trace("transfer", 1, t.src, t.matched_ns, now, t.label, t.dst);
        transfer_share(now, t, -1);
        free_slots.push_back(static_cast<std::int64_t>(x));
        finish_one(now, t.src);
        finish_one(now, t.dst);
      }
      break;
  }
}

EngineResult Engine::Impl::run() {
  queue.reserve(static_cast<std::size_t>(4 * n + 16));
  for (long long d = 0; d < n; ++d) run_device(0, d);
  for (;;) {
    // The network re-solves shared links once per instant: before time moves on.
    if (network.unsettled() && (queue.empty() || queue.top().time_ns > network.now_ns())) {
      network.settle();
      schedule_network();
    }
    if (queue.empty()) break;
    const Event e = queue.pop();
    if (++result.events % kProgressEvery == 0 && opt.progress) opt.progress(waits_done, opt.total_waits);
    if (opt.event_log) {
      opt.event_log->push_back(fmt::format("{} {} d={} a={}", e.time_ns, kind_name(e.kind()),
                                           e.device, e.arg));
    }
    handle(e);
  }
  check_finished();
  for (long long g = 0; g < static_cast<long long>(memory.size()); ++g) {
    if (g == 0 || memory[g].peak_bytes() > result.peak_bytes) {
      result.peak_bytes = memory[g].peak_bytes();
      result.peak_counts = memory[g].peak_counts();
      result.peak_gpu = g;
    }
  }
  return std::move(result);
}

void Engine::Impl::check_finished() const {
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

Engine::Engine(const Topology& topo, const Program& program, long long devices, EngineOptions options)
    : impl_(std::make_unique<Impl>(topo, program, devices, options)) {}
Engine::~Engine() = default;
EngineResult Engine::run() { return impl_->run(); }

}  // namespace ringsim
