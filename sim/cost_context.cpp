// Costs of blocks, cached per shape; see sim/cost_context.hpp.
#include "sim/cost_context.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ringsim {

void ComputeWork::add(const Block& b) {
  if (count == kMaxBlocks) throw std::logic_error("ComputeWork: more than kMaxBlocks blocks in one operation");
  blocks[static_cast<std::size_t>(count++)] = b;
}

double ComputeWork::flops() const {
  double sum = 0;
  for (int i = 0; i < count; ++i) sum += blocks[static_cast<std::size_t>(i)].flops;
  return sum;
}

CostContext::CostContext(const DeviceProfile& profile, const AttentionShape& shape)
    : profile_(profile), shape_(shape) {
  model(shape.q_heads, shape.kv_heads);  // throws for a dtype the profile lacks
}

const ComputeModel& CostContext::model(int q_heads, int kv_heads) const {
  auto it = models_.find({q_heads, kv_heads});
  if (it == models_.end()) {
    AttentionShape s = shape_;
    s.q_heads = q_heads;
    s.kv_heads = kv_heads;
    it = models_.emplace(std::make_pair(q_heads, kv_heads), ComputeModel(profile_, s)).first;
  }
  return it->second;
}

const ShapeCost& CostContext::cost(const BlockShape& block, int q_heads, int kv_heads, double message_bytes) const {
  return shape_cost(block, q_heads, kv_heads, message_bytes, false);
}

const ShapeCost& CostContext::backward_cost(const BlockShape& block, int q_heads, int kv_heads,
                                            double message_bytes) const {
  BlockShape b = block;
  b.merge = false;  // a backward has no merge: one cache entry per shape
  return shape_cost(b, q_heads, kv_heads, message_bytes, true);
}

const ShapeCost& CostContext::shape_cost(const BlockShape& block, int q_heads, int kv_heads, double message_bytes,
                                         bool backward) const {
  const Key key{q_heads, kv_heads, block.q_tokens, block.kv_tokens, static_cast<int>(block.mask), block.merge,
                message_bytes, backward};
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  const ComputeModel& m = model(q_heads, kv_heads);
  const BlockCost bc = backward ? m.backward_block_cost(block) : m.block_cost(block);
  ShapeCost c;
  c.time_ns = bc.time_ns;
  c.source = bc.source;
  AttentionShape s = shape_;
  s.q_heads = q_heads;
  s.kv_heads = kv_heads;
  c.flops = backward ? backward_block_flops(s, block) : block_flops(s, block);
  c.shares.copy = m.transfer_share(block, TransferKind::kCopy, message_bytes);
  c.shares.link = m.transfer_share(block, TransferKind::kLink, message_bytes);
  if (c.source == CostSource::kEstimated) source_ = CostSource::kEstimated;
  return cache_.emplace(key, c).first->second;
}

const StepCharges& CostContext::step_charges(const BlockShape& block, int q_heads, int kv_heads,
                                             StepTransport transport, double message_bytes, int messages) const {
  const Key shape{q_heads, kv_heads, block.q_tokens, block.kv_tokens, static_cast<int>(block.mask), block.merge,
                  message_bytes, false};
  const auto key = std::make_tuple(shape, static_cast<int>(transport), messages);
  auto it = steps_.find(key);
  if (it != steps_.end()) return it->second;
  const ComputeModel& m = model(q_heads, kv_heads);
  StepCharges c;
  const StepOverhead o = m.step_overhead(block, transport, message_bytes, messages);
  c.overhead_ns = o.time_ns;
  c.measured = o.measured;
  c.nccl_rate_factor = static_cast<float>(m.link_rate_factor(block, StepTransport::kNccl, message_bytes));
  c.copy_rate_factor = static_cast<float>(m.link_rate_factor(block, StepTransport::kCopy, message_bytes));
  return steps_.emplace(key, c).first->second;
}

TimeNs CostContext::merge_ns(long long q_tokens, int q_heads) const {
  // The compute model prices a merge only inside a block: the difference of
  // the same block with and without it (any kv; the merge depends on q only).
  const BlockShape with{q_tokens, q_tokens, MaskKind::kFull, true};
  const BlockShape without{q_tokens, q_tokens, MaskKind::kFull, false};
  const int kv_heads = std::max(1, q_heads / std::max(1, shape_.q_heads / shape_.kv_heads));
  return std::max<TimeNs>(0, cost(with, q_heads, kv_heads, 0).time_ns - cost(without, q_heads, kv_heads, 0).time_ns);
}

TimeNs CostContext::block_ns(long long /*device*/, long long /*step*/, const ShapeCost& c, double fraction) const {
  if (fraction == 1.0) return c.time_ns;
  return static_cast<TimeNs>(std::ceil(static_cast<double>(c.time_ns) * fraction));
}

TimeNs CostContext::stream_ns(long long /*device*/, long long /*step*/, double bytes) const {
  auto it = streams_.find(bytes);
  if (it == streams_.end()) {
    const BlockCost bc = model(shape_.q_heads, shape_.kv_heads).stream_cost(bytes);
    if (bc.source == CostSource::kEstimated) source_ = CostSource::kEstimated;
    it = streams_.emplace(bytes, bc.time_ns).first;
  }
  return it->second;
}

TimeNs CostContext::merge_ns(long long /*device*/, long long /*step*/, long long q_tokens, int q_heads,
                             long long merges) const {
  return merge_ns(q_tokens, q_heads) * merges;
}

}  // namespace ringsim
