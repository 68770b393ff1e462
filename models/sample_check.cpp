// Sample check: see sample_check.hpp.
#include "models/sample_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "models/compute_model.hpp"

namespace ringsim {

namespace {

struct Point {
  std::size_t index;
  double flops, seconds, rate_tflops;
};

using Line = std::vector<Point>;  // sorted by flops

double flops_of(const AttentionSample& a) {
  return block_flops(AttentionShape{a.q_heads, a.kv_heads, a.head_dim, a.dtype},
                     BlockShape{a.q_tokens, a.kv_tokens, a.mask, false});
}

double median_rate(const Line& line) {
  std::vector<double> r;
  for (const Point& p : line) r.push_back(p.rate_tflops);
  std::nth_element(r.begin(), r.begin() + r.size() / 2, r.end());
  return r[r.size() / 2];
}

// Appends (index, reason) for every break of `line` (named `what`).
void check_line(const Line& line, const std::string& what, double tol,
                std::vector<std::pair<std::size_t, std::string>>& out) {
  if (line.size() < 2) return;
  const double med = median_rate(line);
  for (std::size_t i = 0; i + 1 < line.size(); ++i) {
    const Point &a = line[i], &b = line[i + 1];
    if (b.seconds < (1 - tol) * a.seconds && b.flops > a.flops) {
      const Point& off = std::fabs(a.rate_tflops - med) >= std::fabs(b.rate_tflops - med) ? a : b;
      out.emplace_back(off.index, fmt::format("time falls {:.1f}% (from {:.4g} to {:.4g} us) as FLOPs rise along {}",
                                              100 * (1 - b.seconds / a.seconds), a.seconds * 1e6, b.seconds * 1e6,
                                              what));
    }
  }
  for (std::size_t i = 1; i < line.size(); ++i) {
    const Point& p = line[i];
    const bool last = i + 1 == line.size();
    const double ref = last ? line[i - 1].rate_tflops : std::min(line[i - 1].rate_tflops, line[i + 1].rate_tflops);
    if (p.rate_tflops >= (1 - tol) * ref) continue;
    out.emplace_back(p.index, last ? fmt::format("rate {:.1f} TFLOP/s is {:.1f}% below the previous sample's {:.1f} "
                                                 "along {} (a kernel's rate saturates, it does not fall)",
                                                 p.rate_tflops, 100 * (1 - p.rate_tflops / ref), ref, what)
                                   : fmt::format("rate {:.1f} TFLOP/s is {:.1f}% below both neighbours ({:.1f}, "
                                                 "{:.1f}) along {}",
                                                 p.rate_tflops, 100 * (1 - p.rate_tflops / ref),
                                                 line[i - 1].rate_tflops, line[i + 1].rate_tflops, what));
  }
}

}  // namespace

std::vector<SuspectFinding> find_suspect_samples(const std::vector<AttentionSample>& samples, double tolerance) {
  using Family = std::tuple<DType, int, int, int, MaskKind>;
  std::map<Family, std::map<long long, Line>> rows, cols;  // q -> line over kv; kv -> line over q
  std::map<Family, Line> diagonals;                          // q == kv
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const AttentionSample& a = samples[i];
    const Family f{a.dtype, a.head_dim, a.q_heads, a.kv_heads, a.mask};
    const double flops = flops_of(a);
    const Point p{i, flops, a.seconds, flops / a.seconds * 1e-12};
    rows[f][a.q_tokens].push_back(p);
    cols[f][a.kv_tokens].push_back(p);
    if (a.q_tokens == a.kv_tokens) diagonals[f].push_back(p);
  }
  std::vector<std::pair<std::size_t, std::string>> found;
  const auto by_flops = [](const Point& a, const Point& b) { return a.flops < b.flops; };
  const auto name = [](const Family& f) {
    return fmt::format("{} d{} {}/{} heads {}", dtype_name(std::get<0>(f)), std::get<1>(f), std::get<2>(f),
                       std::get<3>(f), mask_name(std::get<4>(f)));
  };
  for (auto* lines : {&rows, &cols}) {
    for (auto& [f, by_key] : *lines) {
      for (auto& [key, line] : by_key) {
        std::sort(line.begin(), line.end(), by_flops);
        check_line(line, fmt::format("{} {} {}", name(f), lines == &rows ? "q" : "kv", key), tolerance, found);
      }
    }
  }
  for (auto& [f, line] : diagonals) {
    std::sort(line.begin(), line.end(), by_flops);
    check_line(line, fmt::format("{} q = kv", name(f)), tolerance, found);
  }
  std::map<std::size_t, std::string> merged;
  for (const auto& [i, why] : found) {
    std::string& r = merged[i];
    if (r.find(why) == std::string::npos) r += (r.empty() ? "" : "; ") + why;
  }
  std::vector<SuspectFinding> out;
  for (auto& [i, why] : merged) out.push_back({i, why});
  return out;
}

std::size_t flag_suspect_samples(std::vector<AttentionSample>& samples, double tolerance) {
  const std::vector<SuspectFinding> found = find_suspect_samples(samples, tolerance);
  for (const SuspectFinding& f : found) {
    samples[f.index].suspect = true;
    samples[f.index].reason = f.reason;
  }
  return found.size();
}

}  // namespace ringsim
