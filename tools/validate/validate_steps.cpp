// Per-step costs of a point's ring steps (see validate_steps.hpp).
#include "tools/validate/validate_steps.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>

#include "models/profile_writer.hpp"

namespace ringsim::validate {

namespace {

constexpr int kSteps = 8, kRepeats = 3, kTransfers = 8;

bool same_shape(const ring::BlockTimingShape& a, const ring::BlockTimingShape& b) {
  return a.mask == b.mask && a.q_tokens == b.q_tokens && a.kv_tokens == b.kv_tokens && a.q_heads == b.q_heads &&
         a.kv_heads == b.kv_heads && a.head_dim == b.head_dim;
}

// The largest attention block of every compute posted in a round that also
// posts transfers, and the most common size of those transfers.
struct RingSteps {
  std::vector<ring::BlockTimingShape> shapes;
  double bytes = 0;
};
RingSteps ring_steps(const ring::ExecPlan& plan) {
  RingSteps out;
  std::map<std::int64_t, int> sizes;
  for (const ring::ExecCompute& c : plan.computes) {
    const ring::ExecRound& r = plan.programs[static_cast<std::size_t>(c.device)].rounds[static_cast<std::size_t>(c.round)];
    if (r.sends.empty()) continue;
    for (int t : r.sends) ++sizes[plan.transfers[static_cast<std::size_t>(t)].bytes];
    const Block* largest = nullptr;
    for (const ring::ExecBlock& eb : c.blocks)
      if (eb.block.kind == BlockKind::kAttention && (!largest || eb.block.flops > largest->flops)) largest = &eb.block;
    if (!largest) continue;
    const ring::BlockTimingShape s = shape_of(*largest, static_cast<int>(plan.shape.head_dim));
    const bool seen = std::any_of(out.shapes.begin(), out.shapes.end(),
                                  [&](const ring::BlockTimingShape& x) { return same_shape(x, s); });
    if (!seen) out.shapes.push_back(s);
  }
  int best = 0;
  for (const auto& [bytes, n] : sizes)
    if (n > best) best = n, out.bytes = static_cast<double>(bytes);
  return out;
}

}  // namespace

PointSteps StepCalibration::ensure(const ring::ExecPlan& plan, const ring::RingContext& ctx, const Links& links,
                                   const Options& opt) {
  PointSteps out;
  const RingSteps rs = ring_steps(plan);
  if (!opt.step_costs || rs.bytes <= 0 || plan.gpus() * plan.ranks_per_gpu < 2) return out;
  const bool nccl = plan.gpus() > 1 && links.nccl_both && ctx.gpus() >= 2;
  const ring::StepLink link = nccl ? ring::StepLink::kNccl : ring::StepLink::kCopy;
  const StepTransport transport = nccl ? StepTransport::kNccl : StepTransport::kCopy;
  for (const ring::BlockTimingShape& sh : rs.shapes) {
    const Key key{static_cast<int>(sh.mask), sh.q_tokens, sh.kv_tokens, sh.q_heads, sh.kv_heads, sh.head_dim,
                  rs.bytes, static_cast<int>(transport)};
    auto it = measured_.find(key);
    if (it == measured_.end()) {
      StepSample s{sh, rs.bytes, transport, {}, {}};
      s.overhead = ring::measure_step_overhead(&ctx, link, sh, rs.bytes, 1, kSteps, kRepeats);
      s.link = ring::measure_link_under_compute(&ctx, link, sh, rs.bytes, kTransfers, kRepeats);
      it = measured_.emplace(key, s).first;
    }
    out.samples.push_back(it->second);
  }
  return out;
}

void add_step_samples(DeviceProfile& p, const PointSteps& steps) {
  p.step_overhead.clear();
  p.link_under_compute.clear();
  for (const StepSample& s : steps.samples) {
    const MaskKind mask = mask_kind(s.shape.mask);
    p.step_overhead.push_back({s.transport, 1, s.bytes, DType::kBf16, s.shape.head_dim, s.shape.q_heads,
                               s.shape.kv_heads, mask, s.shape.q_tokens, s.shape.kv_tokens, s.overhead.overhead_s});
    p.link_under_compute.push_back({s.transport, s.bytes, DType::kBf16, s.shape.head_dim, s.shape.q_heads,
                                    s.shape.kv_heads, mask, s.shape.q_tokens, s.shape.kv_tokens, s.link.factor});
  }
}

void keep_new(PointShares& run_shares, const PointShares& shares, PointSteps& run_steps, const PointSteps& steps) {
  for (const ShapeShare& s : shares.shares) {
    const bool seen = std::any_of(run_shares.shares.begin(), run_shares.shares.end(), [&](const ShapeShare& x) {
      return same_shape(x.shape, s.shape) && x.bytes == s.bytes && x.kind == s.kind;
    });
    if (!seen) run_shares.shares.push_back(s);
  }
  for (const StepSample& s : steps.samples) {
    const bool seen = std::any_of(run_steps.samples.begin(), run_steps.samples.end(), [&](const StepSample& x) {
      return same_shape(x.shape, s.shape) && x.bytes == s.bytes && x.transport == s.transport;
    });
    if (!seen) run_steps.samples.push_back(s);
  }
}

void save_profile(const std::string& path, const DeviceProfile& profile, const std::vector<std::string>& scenarios) {
  std::ofstream out(path);
  if (!out) throw InputError(path, 0, "--save-profile", "cannot write the profile there");
  write_profile_yaml(out, profile,
                     {"Self-calibrated by ringsim validate (blocks, merges, interference and per-step costs",
                      "measured at the shapes these scenarios run), for a later run's --profile:",
                      fmt::format("  {}", fmt::join(scenarios, " "))});
  if (!out) throw InputError(path, 0, "--save-profile", "writing the profile failed");
}

}  // namespace ringsim::validate
