// Compute model: per-block cost from calibration samples or a roofline.
// See compute_model.hpp for the contract; tests in tests/models/test_compute.cpp.
//
// Calibrated lookup, for samples of the block's dtype, head_dim and mask:
//   1. head pair: prefer samples with the same q_heads/kv_heads ratio, then the
//      q_heads (and kv_heads) closest in log; its TFLOP/s is kept, so time
//      scales linearly with heads;
//   2. rate: bilinear in (log q_tokens, log kv_tokens): linear in log kv along
//      each measured q row, then linear in log q between the two rows around
//      the block; outside the measured range the edge value is used (clamped),
//      never extrapolated, since kernels saturate rather than keep speeding up;
//   3. time = block_flops / rate.
// Merge: measured seconds interpolated linearly in elements q*q_heads*head_dim;
// beyond the range, the nearest sample's time per element.
#include "models/compute_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace ringsim {

double block_flops(const AttentionShape& shape, const BlockShape& block) {
  const double full = 4.0 * static_cast<double>(block.q_tokens) * static_cast<double>(block.kv_tokens) *
                      shape.head_dim * shape.q_heads;
  return block.mask == MaskKind::kFull ? full : 0.5 * full;
}

namespace {

// Piecewise-linear y(x) over sorted points, clamped at both ends.
double interp_clamped(const std::vector<std::pair<double, double>>& pts, double x) {
  if (x <= pts.front().first) return pts.front().second;
  if (x >= pts.back().first) return pts.back().second;
  const auto hi = std::upper_bound(pts.begin(), pts.end(), x,
                                   [](double v, const std::pair<double, double>& p) { return v < p.first; });
  const auto lo = hi - 1;
  const double t = (x - lo->first) / (hi->first - lo->first);
  return lo->second + t * (hi->second - lo->second);
}

std::vector<const AttentionSample*> family(const DeviceProfile& p, const AttentionShape& s, MaskKind mask) {
  std::vector<const AttentionSample*> out;
  for (const AttentionSample& a : p.attention) {
    if (a.dtype == s.dtype && a.head_dim == s.head_dim && a.mask == mask) out.push_back(&a);
  }
  return out;
}

// Samples of the head pair that best matches `s` (see the file comment).
std::vector<const AttentionSample*> best_heads(const std::vector<const AttentionSample*>& fam, const AttentionShape& s) {
  const auto same_ratio = [&](const AttentionSample* a) {
    return static_cast<long long>(a->q_heads) * s.kv_heads == static_cast<long long>(s.q_heads) * a->kv_heads;
  };
  const bool any_ratio = std::any_of(fam.begin(), fam.end(), same_ratio);
  const auto key = [&](const AttentionSample* a) {
    return std::make_tuple(!same_ratio(a) && any_ratio, std::fabs(std::log(double(a->q_heads) / s.q_heads)),
                           std::fabs(std::log(double(a->kv_heads) / std::max(s.kv_heads, 1))), a->q_heads, a->kv_heads);
  };
  const AttentionSample* best = *std::min_element(fam.begin(), fam.end(),
                                                  [&](auto* a, auto* b) { return key(a) < key(b); });
  std::vector<const AttentionSample*> out;
  for (const AttentionSample* a : fam) {
    if (a->q_heads == best->q_heads && a->kv_heads == best->kv_heads) out.push_back(a);
  }
  return out;
}

// Measured FLOP/s at (q, kv) from samples of one head pair.
double calibrated_rate(const std::vector<const AttentionSample*>& grid, long long q_tokens, long long kv_tokens) {
  // rows[q] = {log kv -> summed rate, count}; duplicates are averaged.
  std::map<long long, std::map<long long, std::pair<double, int>>> rows;
  for (const AttentionSample* a : grid) {
    const AttentionShape as{a->q_heads, a->kv_heads, a->head_dim, a->dtype};
    const double rate = block_flops(as, BlockShape{a->q_tokens, a->kv_tokens, a->mask, false}) / a->seconds;
    auto& cell = rows[a->q_tokens][a->kv_tokens];
    cell.first += rate;
    cell.second += 1;
  }
  std::vector<std::pair<double, double>> by_q;  // (log q, rate at kv along that row)
  for (const auto& [q, row] : rows) {
    std::vector<std::pair<double, double>> by_kv;
    for (const auto& [kv, cell] : row) by_kv.emplace_back(std::log(double(kv)), cell.first / cell.second);
    by_q.emplace_back(std::log(double(q)), interp_clamped(by_kv, std::log(double(kv_tokens))));
  }
  return interp_clamped(by_q, std::log(double(q_tokens)));
}

double merge_elements(long long q_tokens, int q_heads, int head_dim) {
  return static_cast<double>(q_tokens) * q_heads * head_dim;
}

double calibrated_merge_s(const std::vector<MergeSample>& samples, double elements) {
  std::map<double, std::pair<double, int>> by_elements;  // duplicates averaged
  for (const MergeSample& m : samples) {
    auto& cell = by_elements[merge_elements(m.q_tokens, m.q_heads, m.head_dim)];
    cell.first += m.seconds;
    cell.second += 1;
  }
  std::vector<std::pair<double, double>> pts;
  for (const auto& [e, cell] : by_elements) pts.emplace_back(e, cell.first / cell.second);
  if (elements < pts.front().first) return pts.front().second * elements / pts.front().first;
  if (elements > pts.back().first) return pts.back().second * elements / pts.back().first;
  return interp_clamped(pts, elements);
}

}  // namespace

ComputeModel::ComputeModel(const DeviceProfile& profile, const AttentionShape& shape)
    : profile_(profile), shape_(shape) {
  if (shape.q_heads <= 0 || shape.kv_heads <= 0 || shape.head_dim <= 0) {
    throw std::invalid_argument("ComputeModel: heads and head_dim must be positive");
  }
  if (profile.flops_per_s.count(shape.dtype) == 0) {
    throw InputError(profile.origin, 0, "tflops",
                     fmt::format("device profile \"{}\" has no {} rate (the card does not support it)", profile.name,
                                 dtype_name(shape.dtype)));
  }
}

BlockCost ComputeModel::block_cost(const BlockShape& block) const {
  const AttentionShape& s = shape_;
  const double q = static_cast<double>(block.q_tokens), kv = static_cast<double>(block.kv_tokens);
  const double d = s.head_dim, dt = dtype_bytes(s.dtype);
  const double flops = block_flops(s, block);
  const auto fam = family(profile_, s, block.mask);
  BlockCost cost;
  double attention_s = 0, merge_s = 0;
  if (!fam.empty()) {
    cost.source = CostSource::kCalibrated;
    attention_s = flops / calibrated_rate(best_heads(fam, s), block.q_tokens, block.kv_tokens);
  } else {
    // Q in, K and V in, fp32 block output and lse out.
    const double bytes = q * s.q_heads * d * dt + 2.0 * kv * s.kv_heads * d * dt + q * s.q_heads * d * 4.0 +
                         q * s.q_heads * 4.0;
    attention_s = std::max(flops / profile_.flops_per_s.at(s.dtype), bytes / profile_.hbm_bytes_per_s) +
                  profile_.launch_overhead_s;
  }
  if (block.merge) {
    if (!fam.empty() && !profile_.merge.empty()) {
      merge_s = calibrated_merge_s(profile_.merge, merge_elements(block.q_tokens, s.q_heads, s.head_dim));
    } else {
      // Read accumulator, block output and write accumulator (fp32), same for the lse.
      merge_s = (3.0 * q * s.q_heads * d * 4.0 + 3.0 * q * s.q_heads * 4.0) / profile_.hbm_bytes_per_s +
                profile_.launch_overhead_s;
    }
  }
  cost.time_ns = ceil_ns(attention_s + merge_s);
  return cost;
}

std::string ComputeModel::describe(CostSource source) const {
  if (source == CostSource::kCalibrated) {
    const auto date = profile_.calibration.find("date");
    const std::string card = profile_.card.empty() ? profile_.name : profile_.card;
    return date == profile_.calibration.end()
               ? fmt::format("calibrated on {} (profile {})", card, profile_.name)
               : fmt::format("calibrated on {} (profile {}, {})", card, profile_.name, date->second);
  }
  return fmt::format("estimated (roofline from profile {}, {} rates)", profile_.name,
                     profile_.measured ? "measured" : "datasheet");
}

}  // namespace ringsim
