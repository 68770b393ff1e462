// The one place a schedule's compute is costed.
//
// Block costs come from models/compute_model (ComputeModel::block_cost, the
// merge inside it; backward_block_cost; stream_cost for the backward's
// elementwise passes) evaluated once per distinct (heads, block shape,
// message size, pass) and cached; a schedule asks for the shapes it runs
// while it plans or builds an operation. block_ns(device, step, cost,
// fraction) -- forward and backward blocks alike -- with merge_ns and
// stream_ns (device, step, ...) are where every per-device compute time is
// formed: a later feature that slows one device
// or one step (stragglers, issue 15) scales it here, and must then make
// uniform() false, which turns the exact fast paths off (they assume every
// device of a cost class costs the same).
//
// Off the calibration grid: the compute model labels a block `estimated`
// itself (with BlockCost::reason) when it lies outside the samples it reads
// (models/compute_model.hpp); every row a block touches then reads estimated.
//
// Documents: a block the document mask cuts is charged the time of its
// geometric block (same shape, same causal mask) times the fraction of the
// geometric block's query-key pairs the document mask keeps, rounded up to
// a nanosecond: a FlashAttention-style kernel skips the tiles a mask empties
// and pays per pair in the rest. It ignores that tiles straddling a document
// edge are computed in full (optimistic for documents much shorter than a
// 128-token tile) and that each block keeps its launch overhead.
#pragma once
#include <map>
#include <tuple>

#include "models/compute_model.hpp"
#include "models/profile.hpp"
#include "sim/work.hpp"

namespace ringsim {

struct BlockShares {  // compute rate one in-flight transfer takes (ComputeModel::transfer_share)
  double copy = 0, link = 0;
};

struct ShapeCost {
  TimeNs time_ns = 0;  // attention, plus the merge when shape.merge
  double flops = 0;    // block_flops of the shape
  BlockShares shares;
  CostSource source = CostSource::kCalibrated;
};

// What a ring step costs beside its blocks (models/step_costs.hpp): the
// profile's step overhead, charged once per ring step with the step's
// largest block, and the rate a transfer keeps beside that block.
struct StepCharges {
  TimeNs overhead_ns = 0;
  bool measured = false;  // the profile has step_overhead samples of the transport
  float nccl_rate_factor = 1, copy_rate_factor = 1;
};

class CostContext {
 public:
  // shape: the model's heads; schedules ask for other head counts (Ulysses shares).
  CostContext(const DeviceProfile& profile, const AttentionShape& shape);
  const AttentionShape& shape() const { return shape_; }
  // The cost of a block at q_heads / kv_heads per device; message_bytes: the
  // transfer the interference shares are looked up at.
  const ShapeCost& cost(const BlockShape& block, int q_heads, int kv_heads, double message_bytes) const;
  const ShapeCost& cost(const BlockShape& block, double message_bytes) const {
    return cost(block, shape_.q_heads, shape_.kv_heads, message_bytes);
  }
  // The same for a block's backward (ComputeModel::backward_block_cost;
  // flops at 2.5x). Interference shares: the forward block's of the same
  // shape (the profile measures them for the forward kernel only).
  const ShapeCost& backward_cost(const BlockShape& block, int q_heads, int kv_heads, double message_bytes) const;
  // An elementwise pass moving `bytes` on `device` at `step` (the D pass,
  // gradient additions, packing copies: ComputeModel::stream_cost).
  TimeNs stream_ns(long long device, long long step, double bytes) const;
  // One merge of q_tokens rows of q_heads heads into an accumulator: the
  // compute model's merge (block_cost with merge minus without).
  TimeNs merge_ns(long long q_tokens, int q_heads) const;
  // A block's time on `device` at `step`, scaled by the document fraction.
  TimeNs block_ns(long long device, long long step, const ShapeCost& cost, double pairs_fraction) const;
  TimeNs merge_ns(long long device, long long step, long long q_tokens, int q_heads, long long merges) const;
  // A ring step computing `block` (its largest) at q_heads / kv_heads beside
  // a message of message_bytes moving over `transport` as `messages`
  // messages; cached per key.
  const StepCharges& step_charges(const BlockShape& block, int q_heads, int kv_heads, StepTransport transport,
                                  double message_bytes, int messages) const;
  bool uniform() const { return true; }   // no per-(device, step) scaling: fast paths allowed
  CostSource source() const { return source_; }  // kEstimated once any block asked for was
  const DeviceProfile& profile() const { return profile_; }

 private:
  const DeviceProfile& profile_;
  AttentionShape shape_;
  using Key = std::tuple<int, int, long long, long long, int, bool, double, bool>;  // ..., backward
  mutable std::map<Key, ShapeCost> cache_;
  mutable std::map<std::tuple<Key, int, int>, StepCharges> steps_;  // + transport, messages
  mutable std::map<double, TimeNs> streams_;  // by bytes
  mutable std::map<std::pair<int, int>, ComputeModel> models_;  // by (q_heads, kv_heads)
  mutable CostSource source_ = CostSource::kCalibrated;
  const ComputeModel& model(int q_heads, int kv_heads) const;
  const ShapeCost& shape_cost(const BlockShape& block, int q_heads, int kv_heads, double message_bytes,
                              bool backward) const;
};

}  // namespace ringsim
