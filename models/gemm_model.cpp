// GEMM model: trilinear in log (m, n, k) over the profile's cuBLAS samples,
// else a roofline. See gemm_model.hpp; tests in tests/models/test_gemm_model.cpp.
#include "models/gemm_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace ringsim {

namespace {

std::vector<double> distinct(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Index i with axis[i] <= x <= axis[i + 1] (i + 1 == i for a one-value axis); -1 outside.
int bracket(const std::vector<double>& axis, double x) {
  constexpr double kSlack = 1e-12;
  if (axis.empty() || x < axis.front() - kSlack || x > axis.back() + kSlack) return -1;
  for (std::size_t i = 0; i + 1 < axis.size(); ++i)
    if (x <= axis[i + 1] + kSlack) return static_cast<int>(i);
  return static_cast<int>(axis.size()) - 1;
}

}  // namespace

GemmModel::GemmModel(const DeviceProfile& profile, DType dtype) : profile_(profile), dtype_(dtype) {
  std::vector<double> m, n, k;
  for (const GemmSample& g : profile.gemm) {
    if (g.dtype != dtype) continue;
    const GemmShape shape{g.m, g.n, g.k};
    samples_.push_back({std::log(double(g.m)), std::log(double(g.n)), std::log(double(g.k)), g.seconds / shape.flops()});
    m.push_back(samples_.back().log_m), n.push_back(samples_.back().log_n), k.push_back(samples_.back().log_k);
  }
  axis_m_ = distinct(m), axis_n_ = distinct(n), axis_k_ = distinct(k);
}

const GemmModel::Cell* GemmModel::cell(double lm, double ln, double lk) const {
  for (const Cell& c : samples_)
    if (c.log_m == lm && c.log_n == ln && c.log_k == lk) return &c;
  return nullptr;
}

bool GemmModel::interpolate(double lm, double ln, double lk, double* spf) const {
  const int im = bracket(axis_m_, lm), in = bracket(axis_n_, ln), ik = bracket(axis_k_, lk);
  if (im < 0 || in < 0 || ik < 0) return false;
  const auto upper = [](const std::vector<double>& a, int i) { return std::min<std::size_t>(i + 1, a.size() - 1); };
  const auto frac = [](const std::vector<double>& a, int i, std::size_t j, double x) {
    return j == static_cast<std::size_t>(i) ? 0.0 : std::clamp((x - a[i]) / (a[j] - a[i]), 0.0, 1.0);
  };
  const std::size_t jm = upper(axis_m_, im), jn = upper(axis_n_, in), jk = upper(axis_k_, ik);
  const double fm = frac(axis_m_, im, jm, lm), fn = frac(axis_n_, in, jn, ln), fk = frac(axis_k_, ik, jk, lk);
  double sum = 0;
  for (int corner = 0; corner < 8; ++corner) {
    const bool um = corner & 1, un = corner & 2, uk = corner & 4;
    const Cell* c = cell(axis_m_[um ? jm : im], axis_n_[un ? jn : in], axis_k_[uk ? jk : ik]);
    if (!c) return false;  // a hole in the grid
    sum += (um ? fm : 1 - fm) * (un ? fn : 1 - fn) * (uk ? fk : 1 - fk) * c->seconds_per_flop;
  }
  *spf = sum;
  return true;
}

GemmCost GemmModel::roofline(const GemmShape& g) const {
  const double bytes = double(dtype_bytes(dtype_)) * (double(g.m) * g.k + double(g.k) * g.n + double(g.m) * g.n);
  const double rate = profile_.flops_per_s.at(dtype_) * profile_.gemm_efficiency;
  return {std::max(g.flops() / rate, bytes / profile_.hbm_bytes_per_s) + profile_.launch_overhead_s, false,
          fmt::format("no {} gemm samples in profile {}: roofline at {:.0f}% of {:.4g} TFLOP/s", dtype_name(dtype_),
                      profile_.name, 100 * profile_.gemm_efficiency, profile_.flops_per_s.at(dtype_) * 1e-12)};
}

GemmCost GemmModel::nearest(const GemmShape& g, const std::string& why) const {
  const double lm = std::log(double(g.m)), ln = std::log(double(g.n)), lk = std::log(double(g.k));
  const auto dist = [&](const Cell& c) {
    return std::hypot(c.log_m - lm, c.log_n - ln, c.log_k - lk);
  };
  const Cell& best = *std::min_element(samples_.begin(), samples_.end(),
                                       [&](const Cell& a, const Cell& b) { return dist(a) < dist(b); });
  return {g.flops() * best.seconds_per_flop, false,
          fmt::format("gemm {} x {} x {} {} (rate of the nearest sample {} x {} x {})", g.m, g.n, g.k, why,
                      std::lround(std::exp(best.log_m)), std::lround(std::exp(best.log_n)),
                      std::lround(std::exp(best.log_k)))};
}

GemmCost GemmModel::cost(const GemmShape& g) const {
  if (g.m <= 0 || g.n <= 0 || g.k <= 0) return {0, true, ""};
  if (samples_.empty()) return roofline(g);
  const double m_max = std::exp(axis_m_.back());
  const long long piece_m = std::llround(m_max);
  const long long pieces = g.m > piece_m ? (g.m + piece_m - 1) / piece_m : 1;
  const long long last_m = g.m - (pieces - 1) * piece_m;
  const double ln = std::log(double(g.n)), lk = std::log(double(g.k));
  double full_spf = 0, last_spf = 0;
  const bool full_ok = pieces == 1 || interpolate(axis_m_.back(), ln, lk, &full_spf);
  if (!full_ok || !interpolate(std::log(double(last_m)), ln, lk, &last_spf))
    return nearest(g, "is off the sampled grid or between holes in it");
  const double seconds = double(pieces - 1) * GemmShape{piece_m, g.n, g.k}.flops() * full_spf +
                         GemmShape{last_m, g.n, g.k}.flops() * last_spf;
  GemmCost c{seconds, true, ""};
  if (pieces > 1)
    c.reason = fmt::format("m {} run as {} pieces of at most the sampled {}", g.m, pieces, piece_m);
  return c;
}

}  // namespace ringsim
