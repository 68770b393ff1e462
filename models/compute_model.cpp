// Compute model: per-block cost from calibration samples on the (CTAs, keys)
// plane (models/block_grid.hpp) or a roofline. See compute_model.hpp for the
// contract; tests in tests/models/test_compute.cpp and test_compute_waves.cpp.
//
// Samples used for a block: those of its dtype, head_dim and mask, not
// flagged suspect (all of them if every one is), of the same q/kv head ratio
// if there are any (GQA shares K/V between heads; the CTAs and their work do
// not change, so MHA samples stand in for GQA otherwise).
// Interference share of a block (transfer_share), for samples of the transfer
// kind and the block's dtype, head_dim and mask (else the profile's scalar):
// head pair nearest, message size nearest in log, bilinear in (log q, log kv),
// clamped (models/sample_grid.hpp).
#include "models/compute_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "models/sample_grid.hpp"

namespace ringsim {

double block_flops(const AttentionShape& shape, const BlockShape& block) {
  const double full = 4.0 * static_cast<double>(block.q_tokens) * static_cast<double>(block.kv_tokens) *
                      shape.head_dim * shape.q_heads;
  return block.mask == MaskKind::kFull ? full : 0.5 * full;
}

double backward_block_flops(const AttentionShape& shape, const BlockShape& block) {
  return kBackwardFlopsFactor * block_flops(shape, block);
}

namespace {

double ctas_of(const KernelTile& tile, long long q_tokens, int q_heads) {
  const double q = static_cast<double>(q_tokens);
  return (tile.block_m > 0 ? std::ceil(q / tile.block_m) : q) * q_heads;
}

std::vector<GridSample> grid_samples(const DeviceProfile& p, const std::vector<AttentionSample>& samples,
                                     const AttentionShape& s, MaskKind mask) {
  std::vector<const AttentionSample*> fam;
  for (const AttentionSample& a : samples)
    if (a.dtype == s.dtype && a.head_dim == s.head_dim && a.mask == mask) fam.push_back(&a);
  if (fam.empty()) return {};
  fam = grid::prefer(fam, [](const AttentionSample& a) { return !a.suspect; });
  fam = grid::prefer(fam, [&](const AttentionSample& a) {
    return static_cast<long long>(a.q_heads) * s.kv_heads == static_cast<long long>(s.q_heads) * a.kv_heads;
  });
  std::vector<GridSample> out;
  for (const AttentionSample* a : fam)
    out.push_back({ctas_of(p.tile, a->q_tokens, a->q_heads), static_cast<double>(a->kv_tokens), a->seconds});
  return out;
}

std::string block_name(const AttentionShape& s, const BlockShape& b) {
  return fmt::format("{} d{} {} q {} x kv {} ({} q heads)", dtype_name(s.dtype), s.head_dim, mask_name(b.mask),
                     b.q_tokens, b.kv_tokens, s.q_heads);
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
  const bool tile_known = profile.tile.block_m > 0 && profile.tile.ctas_per_sm > 0 && profile.sm_count > 0;
  const WaveShape waves{tile_known ? double(profile.sm_count) * profile.tile.ctas_per_sm : 0.0,
                        double(profile.tile.block_n)};
  for (MaskKind mask : {MaskKind::kFull, MaskKind::kCausalDiagonal, MaskKind::kZigzagDiagonal}) {
    const std::vector<GridSample> samples = grid_samples(profile, profile.attention, shape, mask);
    if (!samples.empty()) grids_.emplace(mask, BlockGrid(samples, waves, profile.launch_overhead_s));
    const std::vector<GridSample> backward = grid_samples(profile, profile.backward, shape, mask);
    if (!backward.empty()) backward_grids_.emplace(mask, BlockGrid(backward, waves, profile.launch_overhead_s));
  }
}

double ComputeModel::ctas(long long q_tokens) const { return ctas_of(profile_.tile, q_tokens, shape_.q_heads); }

ComputeModel::Part ComputeModel::roofline_attention(const BlockShape& block) const {
  const AttentionShape& s = shape_;
  const double q = static_cast<double>(block.q_tokens), kv = static_cast<double>(block.kv_tokens);
  const double d = s.head_dim, dt = dtype_bytes(s.dtype);
  // Q in, K and V in, fp32 block output and lse out.
  const double bytes =
      q * s.q_heads * d * dt + 2.0 * kv * s.kv_heads * d * dt + q * s.q_heads * d * 4.0 + q * s.q_heads * 4.0;
  const double rate = profile_.flops_per_s.at(s.dtype) * profile_.attention_efficiency;
  const double seconds =
      std::max(block_flops(s, block) / rate, bytes / profile_.hbm_bytes_per_s) + profile_.launch_overhead_s;
  return {seconds, false,
          fmt::format("no {} d{} {} samples in profile {}: roofline at {:.0f}% of {:.4g} TFLOP/s",
                      dtype_name(s.dtype), s.head_dim, mask_name(block.mask), profile_.name,
                      100 * profile_.attention_efficiency, profile_.flops_per_s.at(s.dtype) * 1e-12)};
}

ComputeModel::Part ComputeModel::merge_cost(const BlockShape& block) const {
  const AttentionShape& s = shape_;
  const double elements = static_cast<double>(block.q_tokens) * s.q_heads * s.head_dim;
  if (profile_.merge.empty()) {
    // Read accumulator, block output and write accumulator (fp32), same for the lse.
    const double bytes = 3.0 * elements * 4.0 + 3.0 * static_cast<double>(block.q_tokens) * s.q_heads * 4.0;
    return {bytes / profile_.hbm_bytes_per_s + profile_.launch_overhead_s, false,
            fmt::format("no merge samples in profile {}: roofline merge", profile_.name)};
  }
  return merge_elements(elements, "");
}

// The merge samples read at `elements` (q_tokens * q_heads * head_dim);
// profile_.merge non-empty. `what` prefixes the reason when off the samples.
ComputeModel::Part ComputeModel::merge_elements(double elements, const std::string& what) const {
  std::map<double, std::pair<double, int>> cells;  // duplicates averaged
  for (const MergeSample& m : profile_.merge) {
    auto& c = cells[static_cast<double>(m.q_tokens) * m.q_heads * m.head_dim];
    c.first += m.seconds;
    c.second += 1;
  }
  std::vector<std::pair<double, double>> pts;
  for (const auto& [e, c] : cells) pts.emplace_back(e, c.first / c.second);
  const GridValue v = merge_time(pts, elements, profile_.launch_overhead_s);
  return {v.seconds, v.inside, v.inside || what.empty() ? v.reason : fmt::format("{}: {}", what, v.reason)};
}

ComputeModel::Part ComputeModel::forward_attention(const BlockShape& block) const {
  const auto grid = grids_.find(block.mask);
  if (grid == grids_.end()) return roofline_attention(block);
  const GridValue v = grid->second.at(ctas(block.q_tokens), static_cast<double>(block.kv_tokens));
  return {v.seconds, v.inside, v.inside ? "" : fmt::format("{}: {}", block_name(shape_, block), v.reason)};
}

BlockCost ComputeModel::block_cost(const BlockShape& block) const {
  const Part attention = forward_attention(block);
  const Part merge = block.merge ? merge_cost(block) : Part{0, true, ""};
  BlockCost cost;
  cost.time_ns = ceil_ns(attention.seconds + merge.seconds);  // one rounding per block
  cost.source = attention.calibrated && merge.calibrated ? CostSource::kCalibrated : CostSource::kEstimated;
  cost.reason = attention.reason;
  if (!merge.reason.empty()) cost.reason += (cost.reason.empty() ? "" : "; ") + merge.reason;
  return cost;
}

BlockCost ComputeModel::backward_block_cost(const BlockShape& block) const {
  BlockCost cost;
  const auto grid = backward_grids_.find(block.mask);
  if (grid != backward_grids_.end()) {
    const GridValue v = grid->second.at(ctas(block.q_tokens), static_cast<double>(block.kv_tokens));
    cost.time_ns = ceil_ns(v.seconds);
    cost.source = v.inside ? CostSource::kCalibrated : CostSource::kEstimated;
    if (!v.inside) cost.reason = fmt::format("backward {}: {}", block_name(shape_, block), v.reason);
    return cost;
  }
  const Part forward = forward_attention(block);
  cost.time_ns = ceil_ns(kBackwardFlopsFactor * forward.seconds);
  cost.source = CostSource::kEstimated;
  cost.reason = fmt::format("no backward samples of {} d{} {} in profile {}: the forward's time x {} (its rate at "
                            "the backward's flops){}", dtype_name(shape_.dtype), shape_.head_dim,
                            mask_name(block.mask), profile_.name, kBackwardFlopsFactor,
                            forward.calibrated ? "" : fmt::format("; forward: {}", forward.reason));
  return cost;
}

BlockCost ComputeModel::stream_cost(double bytes) const {
  constexpr double kMergeBytesPerElement = 12.0;  // fp32 accumulator read and written, block output read
  Part part;
  if (profile_.merge.empty()) {
    part = {bytes / profile_.hbm_bytes_per_s + profile_.launch_overhead_s, false,
            fmt::format("no merge samples in profile {}: elementwise pass at hbm_bandwidth", profile_.name)};
  } else {
    part = merge_elements(bytes / kMergeBytesPerElement, "elementwise pass priced as a merge of equal traffic");
  }
  BlockCost cost;
  cost.time_ns = ceil_ns(part.seconds);
  cost.source = part.calibrated ? CostSource::kCalibrated : CostSource::kEstimated;
  cost.reason = part.reason;
  return cost;
}

double ComputeModel::transfer_share(const BlockShape& block, TransferKind kind, double bytes) const {
  std::vector<const InterferenceSample*> fam;
  for (const InterferenceSample& a : profile_.interference) {
    if (a.kind == kind && a.dtype == shape_.dtype && a.head_dim == shape_.head_dim && a.mask == block.mask)
      fam.push_back(&a);
  }
  if (fam.empty()) return kind == TransferKind::kLink ? profile_.link_compute_share : profile_.copy_compute_share;
  std::vector<std::tuple<long long, long long, double>> cells;
  for (const InterferenceSample* a : grid::nearest_bytes(grid::best_heads(fam, shape_.q_heads, shape_.kv_heads), bytes))
    cells.emplace_back(a->q_tokens, a->kv_tokens, a->share);
  return std::clamp(grid::bilinear_log_clamped(cells, block.q_tokens, block.kv_tokens), 0.0, 1.0);
}

std::string ComputeModel::describe(CostSource source) const {
  const std::string kernel = profile_.kernel.empty() ? "" : fmt::format(", kernel {}", profile_.kernel);
  if (source == CostSource::kCalibrated) {
    const auto date = profile_.calibration.find("date");
    const std::string card = profile_.card.empty() ? profile_.name : profile_.card;
    return date == profile_.calibration.end()
               ? fmt::format("calibrated on {} (profile {}{})", card, profile_.name, kernel)
               : fmt::format("calibrated on {} (profile {}{}, {})", card, profile_.name, kernel, date->second);
  }
  if (!grids_.empty())
    return fmt::format("estimated (profile {}{}: off its sampled grid, scaled by waves and key tiles; a roofline "
                       "where it has no samples)", profile_.name, kernel);
  return fmt::format("estimated (roofline from profile {}{}, {} rates)", profile_.name, kernel,
                     profile_.measured ? "measured" : "datasheet");
}

}  // namespace ringsim
