// Compute model: how long one ring step's compute takes on a virtual device.
//
// A step computes one attention block (q_tokens x kv_tokens under a mask) and,
// from the second block on, merges its (output, log-sum-exp) into the
// accumulator. Times come from the profile's measured samples (interpolated
// in log(q), log(kv) on the measured TFLOP/s, scaled linearly in heads) when
// the profile has samples of that dtype, head_dim and mask; otherwise from a
// roofline: max(flops / rate, bytes / hbm_bandwidth) + launch overhead. The
// result says which: calibrated (with the card) or estimated.
#pragma once
#include <string>

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

enum class CostSource { kCalibrated, kEstimated };

struct BlockCost {
  TimeNs time_ns = 0;
  CostSource source = CostSource::kEstimated;
};

class ComputeModel {
 public:
  ComputeModel(const DeviceProfile& profile, const AttentionShape& shape);
  BlockCost block_cost(const BlockShape& block) const;  // pure, deterministic
  // The fraction of the compute rate one in-flight transfer of `kind` and
  // `bytes` (the message) takes while `block` runs: the profile's
  // interference samples for the block's dtype, head_dim and mask, nearest
  // message size, interpolated in log(q), log(kv) like block times; the
  // profile's scalar copy/link_compute_share where no sample matches.
  double transfer_share(const BlockShape& block, TransferKind kind, double bytes) const;
  // "calibrated on NVIDIA H100 80GB HBM3" or "estimated (roofline, datasheet)"
  std::string describe(CostSource) const;

 private:
  const DeviceProfile& profile_;
  AttentionShape shape_;
};

}  // namespace ringsim
