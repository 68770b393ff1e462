// tests/models: the per-step cost queries the engine will charge
// (ComputeModel::step_overhead, ::link_rate_factor), against samples placed
// by hand: exact at samples, nearest message size, preferences, clamping.
#include <doctest/doctest.h>

#include <cmath>

#include "models/compute_model.hpp"

using namespace ringsim;

namespace {

constexpr double kMiB = 1024.0 * 1024;

DeviceProfile base() {
  DeviceProfile p;
  p.name = "steps";
  p.memory_bytes = 80e9;
  p.hbm_bytes_per_s = 1e12;
  p.flops_per_s = {{DType::kBf16, 100e12}};
  return p;
}

// overhead(q, kv) = 4 + log2(q / 1024) + 2 log2(kv / 1024) us: linear in the
// logs, so the bilinear lookup reproduces it between samples.
double overhead_us(long long q, long long kv) { return 4 + std::log2(q / 1024.0) + 2 * std::log2(kv / 1024.0); }

StepOverheadSample step(StepTransport t, int messages, double bytes, long long q, long long kv, double seconds) {
  return {t, messages, bytes, DType::kBf16, 128, 32, 8, MaskKind::kFull, q, kv, seconds};
}

const AttentionShape kShape{32, 8, 128, DType::kBf16};

}  // namespace

TEST_CASE("models::ComputeModel: no step samples cost nothing and say so; the link runs at full rate") {
  const DeviceProfile p = base();
  const ComputeModel m(p, kShape);
  const StepOverhead o = m.step_overhead({4096, 4096, MaskKind::kFull, true}, StepTransport::kNccl, 8 * kMiB, 2);
  CHECK(o.time_ns == 0);
  CHECK_FALSE(o.measured);
  CHECK(m.link_rate_factor({4096, 4096, MaskKind::kFull, true}, StepTransport::kNccl, 8 * kMiB) == 1.0);
}

TEST_CASE("models::ComputeModel: step overhead is bilinear in log tokens at the nearest message size") {
  DeviceProfile p = base();
  for (long long q : {1024LL, 4096LL, 16384LL})
    for (long long kv : {1024LL, 4096LL, 16384LL}) {
      p.step_overhead.push_back(step(StepTransport::kNccl, 2, 8 * kMiB, q, kv, overhead_us(q, kv) * 1e-6));
      p.step_overhead.push_back(step(StepTransport::kNccl, 2, 64 * kMiB, q, kv, 100e-6));  // another size
    }
  const ComputeModel m(p, kShape);
  for (long long q : {1024LL, 2048LL, 3000LL, 16384LL})
    for (long long kv : {1024LL, 6000LL, 16384LL}) {
      CAPTURE(q);
      CAPTURE(kv);
      const StepOverhead o = m.step_overhead({q, kv, MaskKind::kFull, true}, StepTransport::kNccl, 10 * kMiB, 2);
      CHECK(o.measured);
      CHECK(o.time_ns == doctest::Approx(overhead_us(q, kv) * 1e3).epsilon(1e-4));
    }
  // Beyond the sampled tokens: the edge value, not an extrapolation.
  CHECK(m.step_overhead_ns({65536, 512, MaskKind::kFull, true}, StepTransport::kNccl, 8 * kMiB, 2) ==
        doctest::Approx(overhead_us(16384, 1024) * 1e3).epsilon(1e-4));
  // 40 MiB is nearer 64 MiB than 8 MiB in log.
  CHECK(m.step_overhead_ns({4096, 4096, MaskKind::kFull, true}, StepTransport::kNccl, 40 * kMiB, 2) == 100000);
}

TEST_CASE("models::ComputeModel: step overhead prefers the transport, the message count and the mask") {
  DeviceProfile p = base();
  p.step_overhead.push_back(step(StepTransport::kNccl, 1, 8 * kMiB, 4096, 4096, 5e-6));
  p.step_overhead.push_back(step(StepTransport::kNccl, 2, 8 * kMiB, 4096, 4096, 9e-6));
  p.step_overhead.push_back(step(StepTransport::kCopy, 1, 8 * kMiB, 4096, 4096, 2e-6));
  StepOverheadSample causal = step(StepTransport::kCopy, 1, 8 * kMiB, 4096, 4096, 3e-6);
  causal.mask = MaskKind::kCausalDiagonal;
  p.step_overhead.push_back(causal);
  const ComputeModel m(p, kShape);
  const BlockShape full{4096, 4096, MaskKind::kFull, true}, diag{4096, 4096, MaskKind::kCausalDiagonal, true};
  CHECK(m.step_overhead_ns(full, StepTransport::kNccl, 8 * kMiB, 1) == 5000);
  CHECK(m.step_overhead_ns(full, StepTransport::kNccl, 8 * kMiB, 2) == 9000);
  CHECK(m.step_overhead_ns(full, StepTransport::kCopy, 8 * kMiB, 2) == 2000);  // no 2-message copy: the 1-message one
  CHECK(m.step_overhead_ns(diag, StepTransport::kCopy, 8 * kMiB, 1) == 3000);
  CHECK(m.step_overhead_ns(diag, StepTransport::kNccl, 8 * kMiB, 1) == 5000);  // no causal NCCL sample: the full one
}

TEST_CASE("models::ComputeModel: the link rate factor is read per block shape and kept in (0, 1]") {
  DeviceProfile p = base();
  const auto sample = [](long long q, double factor) {
    return LinkUnderComputeSample{StepTransport::kNccl, 8 * kMiB, DType::kBf16, 128, 32, 8, MaskKind::kFull,
                                  q, q, factor};
  };
  p.link_under_compute = {sample(2048, 0.6), sample(8192, 0.9)};
  const ComputeModel m(p, kShape);
  const auto f = [&](long long q) { return m.link_rate_factor({q, q, MaskKind::kFull, true}, StepTransport::kNccl, 8 * kMiB); };
  CHECK(f(2048) == doctest::Approx(0.6));
  CHECK(f(4096) == doctest::Approx(0.75));  // halfway in log q (and log kv)
  CHECK(f(65536) == doctest::Approx(0.9));
  CHECK(m.link_rate_factor({4096, 4096, MaskKind::kFull, true}, StepTransport::kCopy, 8 * kMiB) == 1.0);
}
