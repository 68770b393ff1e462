// One validation point: see validate_point.hpp.
#include "tools/validate/validate_point.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
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

namespace {

std::string today() {
  const std::time_t now = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&now));
  return buf;
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
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
  }
  return l;
}

namespace {

// The distinct computed block shapes of a ring, in order of first occurrence
// over (step, rank).
std::vector<ring::BlockTimingShape> computed_shapes(const ring::RingConfig& cfg) {
  std::vector<ring::BlockTimingShape> out;
  for (int s = 0; s < cfg.ring_size; ++s) {
    for (int d = 0; d < cfg.ring_size; ++d) {
      const ring::RingBlock b = ring::ring_block(cfg.layout, cfg.ring_size, cfg.chunk_tokens, d, s);
      if (!b.computed) continue;
      const bool seen = std::any_of(out.begin(), out.end(), [&](const ring::BlockTimingShape& x) {
        return x.mask == b.mask && x.q_tokens == b.q_tokens && x.kv_tokens == b.kv_tokens;
      });
      if (!seen) out.push_back({b.mask, b.q_tokens, b.kv_tokens, cfg.q_heads, cfg.kv_heads, cfg.head_dim});
    }
  }
  return out;
}

}  // namespace

PointShares InterferenceCalibration::ensure(const ring::RingConfig& cfg, const ring::RingContext& ctx,
                                            const Links& links, const Options& opt) {
  PointShares out;
  if (!opt.interference) return out;
  const double bytes = cfg.kv_block_bytes();
  const auto get = [&](const ring::BlockTimingShape& sh, bool copy) {
    const Key key{static_cast<int>(sh.mask), sh.q_tokens, sh.kv_tokens, sh.q_heads, sh.kv_heads,
                  sh.head_dim, bytes, copy};
    auto it = measured_.find(key);
    if (it == measured_.end()) {
      const ring::ShareMeasurement m = copy ? ring::measure_copy_share(0, sh, bytes, links.d2d.bytes_per_s)
                                            : ring::measure_link_share(ctx, sh, bytes, links.nccl_both->bytes_per_s);
      it = measured_.emplace(key, m).first;
    }
    out.shares.push_back({sh, bytes, copy ? TransferKind::kCopy : TransferKind::kLink, it->second});
  };
  const bool copy = cfg.ranks_per_gpu > 1;
  const bool link = cfg.gpus() > 1 && links.nccl_both && ctx.gpus() >= 2;
  for (const ring::BlockTimingShape& sh : computed_shapes(cfg)) {
    if (copy) get(sh, true);
    if (link) get(sh, false);
  }
  return out;
}

int point_ranks_per_gpu(const Scenario& scn, const Point& pt) {
  return static_cast<int>(ranks_per_gpu(scn, pt));
}

ring::RingConfig ring_config(const Scenario& scn, const Point& pt) {
  if (scn.shape.dtype != DType::kBf16)
    throw InputError(scn.path, 0, "model.dtype", "ringsim validate runs bf16 rings only");
  if (scn.shape.head_dim != 64 && scn.shape.head_dim != 128)
    throw InputError(scn.path, 0, "model.head_dim", "the chunk kernels take head_dim 64 or 128");
  ring::RingConfig c;
  c.layout = !scn.causal ? ring::RingLayout::kNonCausal
             : scn.layout == Layout::kZigzag ? ring::RingLayout::kZigzag
                                             : ring::RingLayout::kContiguous;
  c.ring_size = static_cast<int>(pt.ring_size);
  c.ranks_per_gpu = point_ranks_per_gpu(scn, pt);
  c.chunk_tokens = pt.chunk_tokens();
  c.q_heads = scn.shape.q_heads;
  c.kv_heads = scn.shape.kv_heads;
  c.head_dim = scn.shape.head_dim;
  return c;
}

void Calibration::ensure(const ring::RingConfig& cfg, int repeats) {
  for (int d = 0; d < cfg.ring_size; ++d) {
    for (int s = 0; s < cfg.ring_size; ++s) {
      const ring::RingBlock b = ring::ring_block(cfg.layout, cfg.ring_size, cfg.chunk_tokens, d, s);
      if (!b.computed) continue;
      const Key key{static_cast<int>(b.mask), b.q_tokens, b.kv_tokens, cfg.q_heads, cfg.kv_heads,
                    cfg.head_dim};
      if (blocks_.count(key)) continue;
      const ring::BlockTimingShape shape{b.mask, b.q_tokens, b.kv_tokens, cfg.q_heads,
                                         cfg.kv_heads, cfg.head_dim};
      blocks_[key] = ring::time_block(device_, shape, repeats, 0xB10C + blocks_.size());
    }
  }
}

DeviceProfile Calibration::profile(const DeviceProfile& base, const std::string& card,
                                   const Links& links, const PointShares& shares) const {
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
  for (const ShapeShare& s : shares.shares) {
    p.interference.push_back(InterferenceSample{s.kind, DType::kBf16, s.shape.head_dim, s.shape.q_heads,
                                                s.shape.kv_heads, mask_kind(s.shape.mask), s.shape.q_tokens,
                                                s.shape.kv_tokens, s.bytes, s.m.share});
  }
  p.attention.clear();
  p.merge.clear();
  std::map<std::tuple<long long, int, int>, std::pair<double, int>> merges;  // averaged per q
  for (const auto& [key, t] : blocks_) {
    const auto [mask, q, kv, qh, kvh, dim] = key;
    p.attention.push_back(AttentionSample{DType::kBf16, dim, qh, kvh,
                                          mask_kind(static_cast<kernels::Mask>(mask)), q, kv,
                                          t.attention_s});
    auto& m = merges[{q, qh, dim}];
    m.first += t.merge_s;
    m.second += 1;
  }
  for (const auto& [key, m] : merges)
    p.merge.push_back(MergeSample{std::get<0>(key), std::get<1>(key), std::get<2>(key),
                                  m.first / m.second});
  p.origin = "measured by ringsim validate on " + card;
  return p;
}

Outcome validate_point(const Scenario& scn, const Point& pt, const ring::RingContext& ctx,
                       const DeviceProfile& profile, const Links& links, const std::string& card,
                       const Options& opt, std::uint64_t seed) {
  const ring::RingConfig cfg = ring_config(scn, pt);
  Outcome out;
  out.scenario = scn.name;
  out.layout = ring::ring_layout_name(cfg.layout);
  out.point = pt;
  out.ranks_per_gpu = cfg.ranks_per_gpu;
  out.gpus = cfg.gpus();
  out.chunk_tokens = cfg.chunk_tokens;

  ring::RingExecutor ex(ctx, cfg);
  ex.fill_inputs(seed);
  ex.run();  // warm-up
  std::vector<ring::RingTimeline> runs;
  std::vector<double> times;
  for (int i = 0; i < opt.repeats; ++i) {
    runs.push_back(ex.run());
    times.push_back(runs.back().makespan_ms * 1e-3);
  }
  out.measured_s = median(times);
  out.measured_min_s = *std::min_element(times.begin(), times.end());
  out.measured_max_s = *std::max_element(times.begin(), times.end());
  out.check = ex.check(seed, opt.check_tokens, opt.check_heads);
  out.passed = out.check.nonfinite == 0 && out.check.rel_error < kCheckTolerance;

  Scenario sim = scn;
  sim.profile = profile;
  if (links.nccl_both) {
    sim.intra_node.bytes_per_s = links.nccl_both->bytes_per_s;
    sim.intra_node.latency_ns = static_cast<TimeNs>(std::llround(links.nccl_both->latency_s * 1e9));
  }
  sim.gpus_per_node = std::max(sim.gpus_per_node, cfg.gpus());
  SimOptions so;
  so.mode = Mode::kEvent;
  std::optional<ValidationTrace> trace;
  if (!opt.trace_prefix.empty()) {
    // The run whose time is the median, so the trace shows the reported figure.
    const auto it = std::find(times.begin(), times.end(), out.measured_s);
    out.trace_path = fmt::format("{}{}-P{}-chunk{}.json", opt.trace_prefix, scn.name, pt.ring_size,
                                 cfg.chunk_tokens);
    trace.emplace(out.trace_path, runs[it - times.begin()], cfg, card);
    so.trace = trace->simulated();
  }
  const PointResult r = simulate_point(sim, pt, so);
  out.simulated_s = to_seconds(r.makespan_ns);
  out.error_pct = 100.0 * (out.simulated_s - out.measured_s) / out.measured_s;
  if (trace) trace->close();
  return out;
}

}  // namespace ringsim::validate
