// Compute model: how long one ring step's compute takes on a virtual device.
//
// A step computes one attention block (q_tokens x kv_tokens under a mask) and,
// when asked, merges its (output, log-sum-exp) into the accumulator.
//
// Attention, from the profile's samples of the block's dtype, head_dim and
// mask (models/block_grid.hpp has the equations and the measurements behind
// them): a block runs ceil(q / block_m) * q_heads CTAs over ceil(kv / block_n)
// key tiles, so its time is read on the plane (CTAs, keys) where samples of
// every head count meet (8 heads at q = 2048 launch the CTAs of 32 heads at
// q = 512). Inside the samples: interpolated, `calibrated`. Outside (more or
// fewer CTAs or keys than the samples bracket): scaled from the nearest sample
// by waves of CTAs over the SMs and by key tiles, never below the launch
// overhead, and `estimated` with the reason. Samples flagged `suspect` by the
// calibration's monotonicity check are left out (models/sample_check.hpp).
// Without samples of the dtype, head_dim and mask: a roofline,
//   max(flops / (tflops * attention_efficiency), bytes / hbm_bandwidth) + launch,
// `estimated`.
// Merge: measured seconds in elements q * q_heads * head_dim (models/block_grid.hpp),
// `estimated` outside the sampled merges or by roofline without samples.
// A block is `calibrated` only if every part of it is.
#pragma once
#include <map>
#include <string>

#include "models/block_grid.hpp"
#include "models/profile.hpp"
#include "models/units.hpp"

namespace ringsim {

struct AttentionShape {
  int q_heads = 0, kv_heads = 0, head_dim = 0;
  DType dtype = DType::kBf16;
};

struct BlockShape {
  long long q_tokens = 0, kv_tokens = 0;
  MaskKind mask = MaskKind::kFull;
  bool merge = true;  // false on a device's first block: it writes the accumulator
};

// Matmul flops of a block: 4 * q * kv * head_dim * q_heads, halved by the
// diagonal masks.
double block_flops(const AttentionShape&, const BlockShape&);
// The FLOP convention of a block's backward (README): 2.5x the forward's,
// five matrix products (S = QK^T recomputed, dV, dP, dQ, dK) against two,
// so halved on causal diagonals as well.
inline constexpr double kBackwardFlopsFactor = 2.5;
double backward_block_flops(const AttentionShape&, const BlockShape&);

enum class CostSource { kCalibrated, kEstimated };

struct BlockCost {
  TimeNs time_ns = 0;
  CostSource source = CostSource::kEstimated;
  std::string reason;  // when estimated: why ("q 64 x kv 64 ... outside the sampled grid ...")
};

// A ring step's cost beyond its block and merge (profile `step_overhead`).
struct StepOverhead {
  TimeNs time_ns = 0;
  bool measured = false;  // false: the profile has no sample of the transport (0 ns)
};

class ComputeModel {
 public:
  ComputeModel(const DeviceProfile& profile, const AttentionShape& shape);
  BlockCost block_cost(const BlockShape& block) const;  // pure, deterministic
  // The backward of a block: dQ, dK and dV of q x kv rows with D = rowsum(dO * O)
  // given, accumulating in fp32 (what `ringsim calibrate` times for the
  // profile's `backward:` samples). From those samples exactly as block_cost
  // reads the forward's (same plane, same off-grid scaling and reasons);
  // without backward samples of the block's dtype, head_dim and mask: the
  // forward attention's time at the same shape times kBackwardFlopsFactor
  // (the forward's rate at the backward's flops), always `estimated`.
  // block.merge is ignored: a backward has no merge.
  BlockCost backward_block_cost(const BlockShape& block) const;
  // A memory-bound elementwise pass moving `bytes` (read plus written): the
  // backward's D = rowsum(dO * O) per rank, gradient additions, packing
  // copies. Priced as the profile's measured merge at the same traffic (a
  // merge moves 12 bytes per element: fp32 accumulator read and written,
  // fp32 block output read; both kernels stream memory): `calibrated`
  // inside the merge samples, `estimated` outside them; without merge
  // samples bytes / hbm_bandwidth + launch, `estimated`.
  BlockCost stream_cost(double bytes) const;
  // The fraction of the compute rate one in-flight transfer of `kind` and
  // `bytes` (the message) takes while `block` runs: the profile's
  // interference samples for the block's dtype, head_dim and mask, nearest
  // message size, interpolated in log(q), log(kv) like block times; the
  // profile's scalar copy/link_compute_share where no sample matches.
  double transfer_share(const BlockShape& block, TransferKind kind, double bytes) const;
  // What a ring step costs beyond `block` and its merge when its K/V block of
  // `message_bytes` moves over `transport` as `messages` messages (launch
  // gaps, stream/event waits, per-message costs), from the profile's
  // step_overhead samples (models/step_costs.cpp says how they are matched).
  StepOverhead step_overhead(const BlockShape& block, StepTransport transport, double message_bytes,
                             int messages) const;
  TimeNs step_overhead_ns(const BlockShape& block, StepTransport transport, double message_bytes,
                          int messages) const {
    return step_overhead(block, transport, message_bytes, messages).time_ns;
  }
  // A transfer's rate while `block` runs beside it, as a fraction of its rate
  // alone, in (0, 1] (profile `link_under_compute`); 1 without samples.
  double link_rate_factor(const BlockShape& block, StepTransport transport, double message_bytes) const;
  // "calibrated on NVIDIA H100 80GB HBM3" or "estimated (roofline, datasheet)"
  std::string describe(CostSource) const;

 private:
  const DeviceProfile& profile_;
  AttentionShape shape_;
  std::map<MaskKind, BlockGrid> grids_;  // per mask with samples of the dtype and head_dim
  std::map<MaskKind, BlockGrid> backward_grids_;  // the same from the profile's backward samples
  struct Part {  // attention or merge of a block
    double seconds = 0;
    bool calibrated = false;
    std::string reason;  // when not calibrated
  };
  double ctas(long long q_tokens) const;
  Part roofline_attention(const BlockShape&) const;
  Part merge_cost(const BlockShape&) const;
  Part merge_elements(double elements, const std::string& what) const;
  Part forward_attention(const BlockShape&) const;
};

}  // namespace ringsim
