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
// Interference share of a block (transfer_share), for samples of the transfer
// kind and the block's dtype, head_dim and mask (else the profile's scalar):
//   1. head pair as above (the share is kept, not scaled: a fraction of the rate);
//   2. message size: the samples whose bytes are nearest in log to the
//      transfer's (ties: the smaller), since the loss per byte depends on it;
//   3. share: bilinear in (log q_tokens, log kv_tokens), clamped, as the rate.
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
template <typename Sample>
std::vector<const Sample*> best_heads(const std::vector<const Sample*>& fam, const AttentionShape& s) {
  const auto same_ratio = [&](const Sample* a) {
    return static_cast<long long>(a->q_heads) * s.kv_heads == static_cast<long long>(s.q_heads) * a->kv_heads;
  };
  const bool any_ratio = std::any_of(fam.begin(), fam.end(), same_ratio);
  const auto key = [&](const Sample* a) {
    return std::make_tuple(!same_ratio(a) && any_ratio, std::fabs(std::log(double(a->q_heads) / s.q_heads)),
                           std::fabs(std::log(double(a->kv_heads) / std::max(s.kv_heads, 1))), a->q_heads, a->kv_heads);
  };
  const Sample* best = *std::min_element(fam.begin(), fam.end(), [&](auto* a, auto* b) { return key(a) < key(b); });
  std::vector<const Sample*> out;
  for (const Sample* a : fam) {
    if (a->q_heads == best->q_heads && a->kv_heads == best->kv_heads) out.push_back(a);
  }
  return out;
}

// Bilinear in (log q, log kv) over (q, kv, value) cells, clamped (see the
// file comment); duplicates are averaged.
double grid_value(const std::vector<std::tuple<long long, long long, double>>& cells, long long q_tokens,
                  long long kv_tokens) {
  std::map<long long, std::map<long long, std::pair<double, int>>> rows;  // q -> kv -> (sum, count)
  for (const auto& [q, kv, v] : cells) {
    auto& cell = rows[q][kv];
    cell.first += v;
    cell.second += 1;
  }
  std::vector<std::pair<double, double>> by_q;  // (log q, value at kv along that row)
  for (const auto& [q, row] : rows) {
    std::vector<std::pair<double, double>> by_kv;
    for (const auto& [kv, cell] : row) by_kv.emplace_back(std::log(double(kv)), cell.first / cell.second);
    by_q.emplace_back(std::log(double(q)), interp_clamped(by_kv, std::log(double(kv_tokens))));
  }
  return interp_clamped(by_q, std::log(double(q_tokens)));
}

// Measured FLOP/s at (q, kv) from samples of one head pair.
double calibrated_rate(const std::vector<const AttentionSample*>& grid, long long q_tokens, long long kv_tokens) {
  std::vector<std::tuple<long long, long long, double>> cells;
  for (const AttentionSample* a : grid) {
    const AttentionShape as{a->q_heads, a->kv_heads, a->head_dim, a->dtype};
    cells.emplace_back(a->q_tokens, a->kv_tokens,
                       block_flops(as, BlockShape{a->q_tokens, a->kv_tokens, a->mask, false}) / a->seconds);
  }
  return grid_value(cells, q_tokens, kv_tokens);
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

double ComputeModel::transfer_share(const BlockShape& block, TransferKind kind, double bytes) const {
  std::vector<const InterferenceSample*> fam;
  for (const InterferenceSample& a : profile_.interference) {
    if (a.kind == kind && a.dtype == shape_.dtype && a.head_dim == shape_.head_dim && a.mask == block.mask)
      fam.push_back(&a);
  }
  if (fam.empty()) return kind == TransferKind::kLink ? profile_.link_compute_share : profile_.copy_compute_share;
  const std::vector<const InterferenceSample*> heads = best_heads(fam, shape_);
  const auto distance = [&](const InterferenceSample* a) {
    return std::make_pair(std::fabs(std::log(a->bytes / std::max(bytes, 1.0))), a->bytes);
  };
  const double nearest = (*std::min_element(heads.begin(), heads.end(), [&](auto* a, auto* b) {
                           return distance(a) < distance(b);
                         }))->bytes;
  std::vector<std::tuple<long long, long long, double>> cells;
  for (const InterferenceSample* a : heads) {
    if (a->bytes == nearest) cells.emplace_back(a->q_tokens, a->kv_tokens, a->share);
  }
  return std::clamp(grid_value(cells, block.q_tokens, block.kv_tokens), 0.0, 1.0);
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
