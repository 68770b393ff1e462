// tests/models: the compute model's backward queries. backward_block_cost
// reads the profile's `backward:` samples as block_cost reads `attention:`
// (a sample's own time at its own shape, interpolation inside, estimated
// with a reason outside); without backward samples it is the forward's time
// x 2.5, estimated. stream_cost: an elementwise pass priced as the measured
// merge of equal traffic (12 bytes per merged element), or at hbm bandwidth.
#include <doctest/doctest.h>

#include <cmath>

#include "models/compute_model.hpp"

using namespace ringsim;

namespace {

const AttentionShape kShape{8, 8, 128, DType::kBf16};

DeviceProfile profile() {
  DeviceProfile p;
  p.name = "toy";
  p.card = "Toy Card";
  p.memory_bytes = 80e9;
  p.hbm_bytes_per_s = 1e12;
  p.flops_per_s = {{DType::kBf16, 100e12}};
  p.launch_overhead_s = 0;
  return p;
}

// Forward samples at 50 TFLOP/s and backward samples at 40 TFLOP/s of their
// own (2.5x) flops, on a 2 x 2 grid of full blocks.
DeviceProfile calibrated() {
  DeviceProfile p = profile();
  p.measured = true;
  for (long long q : {1024LL, 4096LL})
    for (long long kv : {1024LL, 4096LL}) {
      const BlockShape b{q, kv, MaskKind::kFull, false};
      p.attention.push_back({DType::kBf16, 128, 8, 8, MaskKind::kFull, q, kv, block_flops(kShape, b) / 50e12});
      p.backward.push_back({DType::kBf16, 128, 8, 8, MaskKind::kFull, q, kv, backward_block_flops(kShape, b) / 40e12});
    }
  return p;
}

}  // namespace

TEST_CASE("models::ComputeModel: the backward FLOP convention is 2.5x the forward, halved on diagonals") {
  for (MaskKind mask : {MaskKind::kFull, MaskKind::kCausalDiagonal, MaskKind::kZigzagDiagonal}) {
    const BlockShape b{2048, 2048, mask, false};
    const double forward = 4.0 * 2048 * 2048 * 128 * 8 * (mask == MaskKind::kFull ? 1.0 : 0.5);
    CHECK(backward_block_flops(kShape, b) == 2.5 * forward);
  }
}

TEST_CASE("models::ComputeModel: backward blocks come from the backward samples, with the forward's labels") {
  const DeviceProfile p = calibrated();
  const ComputeModel m(p, kShape);
  const BlockShape sampled{4096, 1024, MaskKind::kFull, true};  // merge ignored: a backward has none
  const BlockCost at = m.backward_block_cost(sampled);
  CHECK(at.source == CostSource::kCalibrated);
  CHECK(at.time_ns == static_cast<TimeNs>(std::ceil(backward_block_flops(kShape, sampled) / 40e12 * 1e9)));
  const BlockCost inside = m.backward_block_cost({2048, 2048, MaskKind::kFull, false});
  CHECK(inside.source == CostSource::kCalibrated);
  CHECK(inside.reason.empty());
  const BlockCost outside = m.backward_block_cost({16384, 16384, MaskKind::kFull, false});
  CHECK(outside.source == CostSource::kEstimated);
  CHECK(outside.reason.find("backward bf16 d128 full q 16384 x kv 16384") != std::string::npos);
  // The forward is untouched by the backward samples.
  const BlockShape forward{4096, 1024, MaskKind::kFull, false};
  CHECK(m.block_cost(forward).time_ns == static_cast<TimeNs>(std::ceil(block_flops(kShape, forward) / 50e12 * 1e9)));
}

TEST_CASE("models::ComputeModel: without backward samples a backward is the forward's time x 2.5, estimated") {
  DeviceProfile p = calibrated();
  p.backward.clear();
  const ComputeModel m(p, kShape);
  const BlockShape b{4096, 4096, MaskKind::kFull, false};
  const BlockCost c = m.backward_block_cost(b);
  CHECK(c.source == CostSource::kEstimated);
  CHECK(c.time_ns == static_cast<TimeNs>(std::ceil(2.5 * (block_flops(kShape, b) / 50e12) * 1e9)));
  CHECK(c.reason.find("no backward samples of bf16 d128 full in profile toy") != std::string::npos);
  // Roofline profiles: 2.5x the forward's roofline, which names its own reason.
  const DeviceProfile roofline = profile();  // the model keeps a reference
  const ComputeModel r(roofline, kShape);
  const double roof = block_flops(kShape, b) / 100e12;  // compute-bound at this size
  CHECK(r.backward_block_cost(b).time_ns == static_cast<TimeNs>(std::ceil(2.5 * roof * 1e9)));
  CHECK(r.backward_block_cost(b).reason.find("forward: no bf16 d128 full samples") != std::string::npos);
  // A mask without backward samples falls back even when another mask has them.
  const DeviceProfile with_samples = calibrated();
  const ComputeModel cm(with_samples, kShape);
  CHECK(cm.backward_block_cost({4096, 4096, MaskKind::kCausalDiagonal, false}).source == CostSource::kEstimated);
}

TEST_CASE("models::ComputeModel: elementwise passes cost a merge of equal traffic, or bytes at hbm bandwidth") {
  DeviceProfile p = profile();
  const ComputeModel roof(p, kShape);
  const BlockCost r = roof.stream_cost(3e9);  // 3 GB at 1 TB/s
  CHECK(r.time_ns == 3'000'000);
  CHECK(r.source == CostSource::kEstimated);
  p.merge.push_back({1024, 8, 128, 10e-6});  // 1M elements = 12 MiB moved
  p.merge.push_back({4096, 8, 128, 30e-6});
  const ComputeModel m(p, kShape);
  const double e1 = 1024.0 * 8 * 128, e2 = 4096.0 * 8 * 128;
  const BlockCost mid = m.stream_cost(12 * (e1 + e2) / 2);
  CHECK(mid.source == CostSource::kCalibrated);
  CHECK(mid.time_ns == 20'000);
  const BlockCost big = m.stream_cost(12 * 2 * e2);
  CHECK(big.source == CostSource::kEstimated);
  CHECK(big.time_ns == 60'000);
  CHECK(big.reason.find("priced as a merge of equal traffic") != std::string::npos);
}
