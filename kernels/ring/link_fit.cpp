// Link fit: see link_bench.hpp. CPU only.
#include <algorithm>
#include <utility>

#include "kernels/ring/link_bench.hpp"

namespace ringsim::ring {

namespace {
constexpr double kLargeBytes = 16.0 * 1024 * 1024;  // bandwidth-dominated from here
constexpr double kSmallBytes = 64.0 * 1024;         // latency-dominated up to here
}  // namespace

std::vector<double> link_sizes(double min_bytes, double max_bytes) {
  std::vector<double> out;
  for (double b = min_bytes; b <= max_bytes; b *= 4) out.push_back(b);
  return out;
}

LinkFit fit_link(std::string name, std::vector<LinkSample> samples) {
  LinkFit fit;
  fit.name = std::move(name);
  fit.samples = std::move(samples);
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const LinkSample& s : fit.samples) {
    if (s.bytes < kLargeBytes) continue;
    n += 1;
    sx += s.bytes;
    sy += s.seconds;
    sxx += s.bytes * s.bytes;
    sxy += s.bytes * s.seconds;
  }
  if (n >= 2 && n * sxx - sx * sx > 0) {
    const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    if (slope > 0) fit.bytes_per_s = 1.0 / slope;
  }
  if (fit.bytes_per_s == 0 && !fit.samples.empty()) {  // too few large sizes: the largest alone
    const LinkSample& big = *std::max_element(fit.samples.begin(), fit.samples.end(),
                                              [](auto& a, auto& b) { return a.bytes < b.bytes; });
    fit.bytes_per_s = big.bytes / big.seconds;
  }
  std::vector<double> small;
  for (const LinkSample& s : fit.samples)
    if (s.bytes <= kSmallBytes) small.push_back(s.seconds - s.bytes / fit.bytes_per_s);
  if (!small.empty()) {
    std::nth_element(small.begin(), small.begin() + small.size() / 2, small.end());
    fit.latency_s = std::max(0.0, small[small.size() / 2]);
  }
  return fit;
}

}  // namespace ringsim::ring
