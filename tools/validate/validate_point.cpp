// One validation point: see validate_point.hpp.
#include "tools/validate/validate_point.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <optional>

#include "sim/simulate.hpp"
#include "tools/validate/validate_trace.hpp"

namespace ringsim::validate {

MaskKind mask_kind(kernels::Mask m) {
  switch (m) {
    case kernels::Mask::kFull: return MaskKind::kFull;
    case kernels::Mask::kCausal: return MaskKind::kCausalDiagonal;
    case kernels::Mask::kZigzag: return MaskKind::kZigzagDiagonal;
  }
  return MaskKind::kFull;
}

ring::BlockTimingShape shape_of(const Block& b, int head_dim) {
  return {ring::kernel_mask(b), b.q.count, b.kv.count, b.heads, b.kv_heads, head_dim};
}

namespace {

std::string today() {
  const std::time_t now = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&now));
  return buf;
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// The distinct attention block shapes of the program (all computes, or those
// posted in a round that also posts transfers), in order of first occurrence:
// forward blocks of a forward plan, backward blocks of a backward plan.
std::vector<ring::BlockTimingShape> block_shapes(const ring::ExecPlan& plan, bool overlapped_only) {
  const BlockKind kind = plan.pass == Pass::kBackward ? BlockKind::kAttentionBackward : BlockKind::kAttention;
  std::vector<ring::BlockTimingShape> out;
  for (const ring::ExecCompute& c : plan.computes) {
    const ring::ExecRound& r = plan.programs[static_cast<std::size_t>(c.device)].rounds[static_cast<std::size_t>(c.round)];
    if (overlapped_only && r.sends.empty() && r.recvs.empty()) continue;
    for (const ring::ExecBlock& eb : c.blocks) {
      if (eb.block.kind != kind) continue;
      const ring::BlockTimingShape s = shape_of(eb.block, static_cast<int>(plan.shape.head_dim));
      const bool seen = std::any_of(out.begin(), out.end(), [&](const ring::BlockTimingShape& x) {
        return x.mask == s.mask && x.q_tokens == s.q_tokens && x.kv_tokens == s.kv_tokens && x.q_heads == s.q_heads &&
               x.kv_heads == s.kv_heads;
      });
      if (!seen) out.push_back(s);
    }
  }
  return out;
}

// The most common size of the transfers posted beside computes, and whether
// any of them stays on a card (copy) or crosses cards (link).
struct Overlap {
  double bytes = 0;
  bool copy = false, link = false;
};
Overlap overlap_of(const ring::ExecPlan& plan) {
  std::map<std::int64_t, int> sizes;
  Overlap o;
  for (const ring::DeviceProgram& dp : plan.programs)
    for (const ring::ExecRound& r : dp.rounds) {
      if (r.computes.empty()) continue;
      for (int t : r.sends) {
        const ring::ExecTransfer& x = plan.transfers[static_cast<std::size_t>(t)];
        ++sizes[x.bytes];
        const bool same = x.src / plan.ranks_per_gpu == x.dst / plan.ranks_per_gpu;
        o.copy = o.copy || same;
        o.link = o.link || !same;
      }
    }
  int best = 0;
  for (const auto& [bytes, n] : sizes)
    if (n > best) best = n, o.bytes = static_cast<double>(bytes);
  return o;
}

// NCCL all-to-all at 256 KiB .. 64 MiB per peer as a transport profile: at
// B = cards x m bytes per rank, bus bandwidth (cards - 1) m / t.
std::shared_ptr<const TransportProfile> measured_all_to_all(const ring::RingContext& ctx, int repeats) {
  const int n = ctx.gpus();
  std::vector<double> sizes;
  for (double m = 256.0 * 1024; m <= 64.0 * 1024 * 1024; m *= 4) sizes.push_back(m);
  auto t = std::make_shared<TransportProfile>();
  t->name = fmt::format("nccl all-to-all over {} cards (measured here)", n);
  t->api = "nccl-all-to-all";
  t->pattern = "all-to-all";
  t->origin = "ringsim validate";
  for (const ring::LinkSample& s : ring::measure_nccl_all_to_all(ctx, sizes, repeats))
    t->samples.push_back({n * s.bytes, (n - 1) * s.bytes / s.seconds});
  return t;
}

}  // namespace

Links measure_links(const ring::RingContext* ctx, const Options& opt) {
  const auto sizes = ring::link_sizes();
  Links l;
  l.d2d = ring::measure_d2d_copy(0, sizes, opt.link_repeats);
  constexpr double kShareBytes = 32.0 * 1024 * 1024;  // a K/V block of the scenarios
  const ring::BlockTimingShape ref{kernels::Mask::kFull, 8192, 8192, 32, 8, 128};  // ~3 ms
  if (opt.interference) l.copy_share = ring::measure_copy_share(0, ref, kShareBytes, l.d2d.bytes_per_s);
  if (ctx && ctx->gpus() >= 2) {
    l.nccl_both = ring::measure_nccl(*ctx, true, sizes, opt.link_repeats);
    l.nccl_one = ring::measure_nccl(*ctx, false, sizes, opt.link_repeats);
    l.peer_both = ring::measure_peer_copy(*ctx, true, sizes, opt.link_repeats);
    l.peer_one = ring::measure_peer_copy(*ctx, false, sizes, opt.link_repeats);
    if (opt.interference)
      l.link_share = ring::measure_link_share(*ctx, ref, kShareBytes, l.nccl_both->bytes_per_s);
    if (opt.step_costs) l.all_to_all = measured_all_to_all(*ctx, opt.link_repeats);
  }
  return l;
}

PointShares InterferenceCalibration::ensure(const ring::ExecPlan& plan, const ring::RingContext& ctx,
                                            const Links& links, const Options& opt) {
  PointShares out;
  const Overlap o = overlap_of(plan);
  if (!opt.interference || o.bytes <= 0) return out;
  const auto get = [&](const ring::BlockTimingShape& sh, bool copy) {
    const Key key{static_cast<int>(sh.mask), sh.q_tokens, sh.kv_tokens, sh.q_heads, sh.kv_heads, sh.head_dim, o.bytes, copy};
    auto it = measured_.find(key);
    if (it == measured_.end()) {
      const ring::ShareMeasurement m = copy ? ring::measure_copy_share(0, sh, o.bytes, links.d2d.bytes_per_s)
                                            : ring::measure_link_share(ctx, sh, o.bytes, links.nccl_both->bytes_per_s);
      it = measured_.emplace(key, m).first;
    }
    out.shares.push_back({sh, o.bytes, copy ? TransferKind::kCopy : TransferKind::kLink, it->second});
  };
  const bool link = o.link && links.nccl_both && ctx.gpus() >= 2;
  for (const ring::BlockTimingShape& sh : block_shapes(plan, true)) {
    if (o.copy) get(sh, true);
    if (link) get(sh, false);
  }
  return out;
}

namespace {

// The point's faults as the real executor runs them: named stragglers, each
// device's computes stretched on its card; the other faults have no real
// counterpart here and are refused, naming their key.
std::vector<ring::ExecPlan::SlowDevice> slow_devices(const Scenario& scn, const Point& pt) {
  const FaultSpec& f = faults_of(scn, pt);
  const auto refuse = [&](int line, const std::string& key, const std::string& what) {
    throw InputError(scn.path, line, key,
                     "ringsim validate slows named devices only (faults.stragglers): " + what +
                         " has no real counterpart in the executor");
  };
  if (f.fraction) refuse(f.fraction->line, f.key + ".straggler_fraction", "a seeded fraction of stragglers");
  if (f.jitter) refuse(f.jitter->line, f.key + ".jitter", "jitter");
  if (!f.links.empty()) refuse(f.links.front().line, f.links.front().key, "a degraded or failed link");
  std::vector<ring::ExecPlan::SlowDevice> out;
  for (std::size_t i = 0; i < f.stragglers.size(); ++i) {
    const StragglerSpec& s = f.stragglers[i];
    if (!(s.slowdown >= 1))
      throw InputError(scn.path, s.line, fmt::format("{}.stragglers[{}].slowdown", f.key, i),
                       "ringsim validate slows a device on purpose, it cannot speed one up: slowdown must be >= 1");
    out.push_back({s.device, s.slowdown, s.from_step});
  }
  return out;
}

std::unique_ptr<ring::ExecPlan> plan_of(const Scenario& scn, const Point& pt, const PointAttention& att, Pass pass) {
  try {
    auto plan = std::make_unique<ring::ExecPlan>(scn, pt, pass);
    plan->slow_devices = slow_devices(scn, pt);
    for (const ring::ExecCompute& c : plan->computes)  // the kernels' masks, before any GPU work
      for (const ring::ExecBlock& b : c.blocks)
        if (b.block.kind == BlockKind::kAttention) ring::kernel_mask(b.block);
    ring::check_backward_kernels(*plan);
    if (scn.shape.dtype != DType::kBf16) throw ring::Unsupported("model.dtype", "ringsim validate runs bf16 only");
    if (scn.shape.head_dim != 64 && scn.shape.head_dim != 128)
      throw ring::Unsupported("model.head_dim", "the chunk kernels take head_dim 64 or 128");
    return plan;
  } catch (const ring::Unsupported& e) {
    const std::string& k = e.key();
    const KeyPlace at = k == "attention.layout" ? att.layout_at
                        : k == "sequence.cached_tokens" ? att.cached_at
                        : k == "sequence.documents" ? att.documents_at
                        : k == "attention" ? att.schedule_at
                                           : KeyPlace{k, 0};
    throw InputError(scn.path, at.line, at.key.empty() ? k : at.key, e.what());
  }
}

}  // namespace

std::unique_ptr<ring::ExecPlan> exec_plan(const Scenario& scn, const Point& pt) {
  const PointAttention att = attention_of(scn, pt);
  if (att.pass == Pass::kBackward)  // the backward's saved O and LSE come from a forward run
    throw InputError(scn.path, att.pass_at.line, att.pass_at.key,
                     "ringsim validate runs forward or training passes, not a backward alone: the backward's saved "
                     "O and LSE come from the forward it runs first (use pass: training)");
  return plan_of(scn, pt, att, Pass::kForward);
}

std::unique_ptr<ring::ExecPlan> backward_plan(const Scenario& scn, const Point& pt) {
  const PointAttention att = attention_of(scn, pt);
  if (att.pass != Pass::kTraining) return nullptr;
  return plan_of(scn, pt, att, Pass::kBackward);
}

std::string layout_label(const ring::ExecPlan& plan) {
  return plan.causal ? fmt::format("causal {}", layout_name(plan.sequence.layout())) : "non-causal";
}

void Calibration::ensure(const ring::ExecPlan& plan, int repeats) {
  const bool backward = plan.pass == Pass::kBackward;
  for (const ring::BlockTimingShape& s : block_shapes(plan, false)) {
    const Key key{static_cast<int>(s.mask), s.q_tokens, s.kv_tokens, s.q_heads, s.kv_heads, s.head_dim};
    if (backward && !backward_.count(key))
      backward_[key] = ring::time_block_backward(device_, s, repeats, 0xBAC + backward_.size());
    if (!backward && !blocks_.count(key)) blocks_[key] = ring::time_block(device_, s, repeats, 0xB10C + blocks_.size());
  }
}

DeviceProfile Calibration::profile(const DeviceProfile& base, const std::string& card, const Links& links,
                                   const PointShares& shares) const {
  DeviceProfile p = base;
  p.name = "validate-calibrated";
  p.card = card;
  p.measured = true;
  p.calibration = {{"date", today()}, {"tool", "ringsim validate"}, {"cuda", ring::cuda_versions()}};
  p.memory_bytes = ring::cuda_memory_bytes(device_);
  p.copy_bytes_per_s = 2 * links.d2d.bytes_per_s;  // the profile counts bytes read + written
  p.copy_latency_s = links.d2d.latency_s;
  // The point's shares per block shape as samples; the 8K reference as the
  // scalar fallback (the point's blocks all have samples of the kinds it uses).
  p.copy_compute_share = links.copy_share ? links.copy_share->share : 0;
  p.link_compute_share = links.link_share ? links.link_share->share : 0;
  p.interference.clear();
  for (const ShapeShare& s : shares.shares)
    p.interference.push_back(InterferenceSample{s.kind, DType::kBf16, s.shape.head_dim, s.shape.q_heads,
                                                s.shape.kv_heads, mask_kind(s.shape.mask), s.shape.q_tokens,
                                                s.shape.kv_tokens, s.bytes, s.m.share});
  p.attention.clear();
  p.merge.clear();
  std::map<std::tuple<long long, int, int>, std::pair<double, int>> merges;  // averaged per q
  for (const auto& [key, t] : blocks_) {
    const auto [mask, q, kv, qh, kvh, dim] = key;
    p.attention.push_back(AttentionSample{DType::kBf16, dim, qh, kvh, mask_kind(static_cast<kernels::Mask>(mask)), q,
                                          kv, t.attention_s});
    auto& m = merges[{q, qh, dim}];
    m.first += t.merge_s;
    m.second += 1;
  }
  for (const auto& [key, m] : merges)
    p.merge.push_back(MergeSample{std::get<0>(key), std::get<1>(key), std::get<2>(key), m.first / m.second});
  p.backward.clear();
  for (const auto& [key, seconds] : backward_) {
    const auto [mask, q, kv, qh, kvh, dim] = key;
    p.backward.push_back(AttentionSample{DType::kBf16, dim, qh, kvh, mask_kind(static_cast<kernels::Mask>(mask)), q,
                                         kv, seconds});
  }
  p.origin = "measured by ringsim validate on " + card;
  return p;
}

StoredModel load_stored(const Options& opt) {
  StoredModel s;
  const std::string here = std::filesystem::current_path().string();
  s.profile = load_profile(opt.profile, here);
  if (!opt.transport.empty()) {
    s.transport = std::make_shared<const TransportProfile>(load_transport(opt.transport, here));
    s.links = "transport " + s.transport->name;
    if (!opt.all_to_all.empty()) {
      s.all_to_all = std::make_shared<const TransportProfile>(load_transport(opt.all_to_all, here));
      s.links += ", all-to-all " + s.all_to_all->name;
    }
  } else {
    s.links = "scenario cluster figures";
  }
  return s;
}

namespace {

Simulated simulate(Scenario sim, const Point& pt, int gpus, double measured_s, PointTrace* trace) {
  sim.gpus_per_node = std::max(sim.gpus_per_node, gpus);
  SimOptions so;
  so.mode = Mode::kEvent;
  so.trace = trace;
  const PointResult r = simulate_point(sim, pt, so);
  Simulated s;
  s.seconds = to_seconds(r.makespan_ns);
  s.error_pct = 100.0 * (s.seconds - measured_s) / measured_s;
  s.label = r.compute_source == CostSource::kCalibrated ? "simulated" : "estimated";
  s.forward_s = to_seconds(r.forward_ns);
  s.backward_s = to_seconds(r.backward_ns);
  return s;
}

}  // namespace

namespace {

// One warm-up, then `repeats` timed runs: their timelines and makespans (s).
void timed_runs(ring::RingExecutor& ex, int repeats, std::vector<ring::RingTimeline>& runs, std::vector<double>& times) {
  ex.run();
  for (int i = 0; i < repeats; ++i) {
    runs.push_back(ex.run());
    times.push_back(runs.back().makespan_ms * 1e-3);
  }
}

constexpr double kGradTolerance = 2e-2;  // bf16 inputs and saved O, fp32 gradients

}  // namespace

Outcome validate_point(const Scenario& scn, const Point& pt, const ring::ExecPlan& plan, const ring::ExecPlan* backward,
                       const ring::RingContext& ctx, const DeviceProfile& profile, const Links& links,
                       const StoredModel* stored, const std::string& card, const Options& opt, std::uint64_t seed) {
  Outcome out;
  out.scenario = scn.name;
  out.schedule = plan.schedule;
  out.detail = plan.detail;
  for (const ring::ExecPlan::SlowDevice& s : plan.slow_devices)
    out.detail += fmt::format("{}device {} slowed x{:g}{}", out.detail.empty() ? "" : "; ", s.device, s.slowdown,
                              s.from_step > 0 ? fmt::format(" from step {}", s.from_step) : "");
  out.layout = layout_label(plan);
  out.point = pt;
  out.ranks_per_gpu = plan.ranks_per_gpu;
  out.gpus = plan.gpus();
  out.chunk_tokens = pt.chunk_tokens();

  ring::RingExecutor ex(ctx, plan);
  ex.fill_inputs(seed);
  std::vector<ring::RingTimeline> runs;
  std::vector<double> times;
  timed_runs(ex, opt.repeats, runs, times);
  out.measured_s = median(times);
  out.measured_min_s = *std::min_element(times.begin(), times.end());
  out.measured_max_s = *std::max_element(times.begin(), times.end());
  out.check = ex.check(seed, opt.check_tokens, opt.check_heads);
  out.passed = out.check.nonfinite == 0 && out.check.rel_error < kCheckTolerance;
  if (backward) {  // the forward's last run is what the backward saved
    ring::RingExecutor bx(ctx, *backward);
    bx.fill_inputs(seed);
    bx.take_saved(ex);
    std::vector<ring::RingTimeline> bruns;
    std::vector<double> btimes;
    timed_runs(bx, opt.repeats, bruns, btimes);
    TrainingOutcome t;
    t.forward_s = out.measured_s;
    t.backward_s = median(btimes);
    t.backward_min_s = *std::min_element(btimes.begin(), btimes.end());
    t.backward_max_s = *std::max_element(btimes.begin(), btimes.end());
    t.grad = bx.check_grad(seed, opt.check_tokens, opt.check_heads);
    out.measured_s = t.forward_s + t.backward_s;
    out.measured_min_s += t.backward_min_s;
    out.measured_max_s += t.backward_max_s;
    out.passed = out.passed && t.grad.nonfinite == 0 && t.grad.dq_rel_error < kGradTolerance &&
                 t.grad.dkv_rel_error < kGradTolerance;
    out.training = t;
  }

  Scenario self = scn;
  self.profile = profile;
  if (links.nccl_both) {
    self.intra_node.bytes_per_s = links.nccl_both->bytes_per_s;
    self.intra_node.latency_ns = static_cast<TimeNs>(std::llround(links.nccl_both->latency_s * 1e9));
    self.intra_node.transport = nullptr;
    self.intra_node.all_to_all = links.all_to_all;
  }
  std::optional<ValidationTrace> trace;
  if (!opt.trace_prefix.empty()) {
    // The run whose time is the median, so the trace shows the reported figure.
    const auto it = std::find(times.begin(), times.end(), median(times));  // the forward's (training: the backward is not traced)
    out.trace_path = fmt::format("{}{}-{}-P{}-r{}-chunk{}.json", opt.trace_prefix, scn.name, plan.schedule,
                                 pt.ring_size, plan.ranks_per_gpu, out.chunk_tokens);
    trace.emplace(out.trace_path, runs[static_cast<std::size_t>(it - times.begin())], card);
  }
  out.self = simulate(self, pt, plan.gpus(), out.measured_s, trace ? trace->simulated() : nullptr);
  if (stored) {
    Scenario oos = scn;
    oos.profile = stored->profile;
    if (stored->transport) {
      oos.intra_node.transport = stored->transport;
      oos.intra_node.latency_ns = static_cast<TimeNs>(std::llround(stored->transport->latency_s * 1e9));
      if (stored->all_to_all) oos.intra_node.all_to_all = stored->all_to_all;
    }
    out.stored = simulate(oos, pt, plan.gpus(), out.measured_s, nullptr);
  }
  if (trace) trace->close();
  return out;
}

}  // namespace ringsim::validate
