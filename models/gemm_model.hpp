// GEMM model: how long one dense GEMM C[m x n] = A[m x k] B[k x n] takes on a
// device, for the parts of a transformer layer around attention (QKV and
// output projections, MLP: models/layer_model.hpp).
//
// From the profile's `gemm` samples of the dtype (ringsim calibrate --gemm,
// cuBLAS), which form a grid over (m, n, k): seconds per flop is interpolated
// trilinearly in (log m, log n, log k) between the eight samples around the
// query, `calibrated`. Rows beyond the largest sampled m run as pieces of at
// most that m, one after another (how chunked MLPs run long sequences), each
// piece inside the grid: still `calibrated`, and the reason says so. Any other
// query off the grid (n or k outside it, m below it, a grid with holes) takes
// the seconds per flop of the nearest sample in log space, `estimated` with
// the reason. Without samples of the dtype: a roofline,
//   max(2 m n k / (tflops * gemm_efficiency), bytes / hbm_bandwidth) + launch,
// `estimated`.
#pragma once
#include <string>
#include <vector>

#include "models/profile.hpp"

namespace ringsim {

struct GemmShape {
  long long m = 0, n = 0, k = 0;
  double flops() const { return 2.0 * double(m) * double(n) * double(k); }
};

struct GemmCost {
  double seconds = 0;
  bool calibrated = false;
  std::string reason;  // when estimated: why; when split along m: how
};

class GemmModel {
 public:
  GemmModel(const DeviceProfile& profile, DType dtype);
  GemmCost cost(const GemmShape&) const;  // pure, deterministic
  bool has_samples() const { return !samples_.empty(); }

 private:
  struct Cell { double log_m, log_n, log_k, seconds_per_flop; };
  const DeviceProfile& profile_;
  DType dtype_;
  std::vector<Cell> samples_;
  std::vector<double> axis_m_, axis_n_, axis_k_;  // sorted distinct log values
  GemmCost roofline(const GemmShape&) const;
  GemmCost nearest(const GemmShape&, const std::string& why) const;
  const Cell* cell(double log_m, double log_n, double log_k) const;
  bool interpolate(double log_m, double log_n, double log_k, double* seconds_per_flop) const;
};

}  // namespace ringsim
