// Lookups shared by the cost models that read per-shape profile samples
// (interference shares, step overheads, link factors): narrowing a sample
// list by preference, the head pair nearest a shape, the message size nearest
// a transfer, and a clamped bilinear value in (log q, log kv). Internal to models/.
#pragma once
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

namespace ringsim::grid {

// Piecewise-linear y(x) over points sorted by x, clamped at both ends.
inline double interp_clamped(const std::vector<std::pair<double, double>>& pts, double x) {
  if (x <= pts.front().first) return pts.front().second;
  if (x >= pts.back().first) return pts.back().second;
  const auto hi = std::upper_bound(pts.begin(), pts.end(), x,
                                   [](double v, const std::pair<double, double>& p) { return v < p.first; });
  const auto lo = hi - 1;
  const double t = (x - lo->first) / (hi->first - lo->first);
  return lo->second + t * (hi->second - lo->second);
}

// The samples matching `pred`, or all of them when none does: a preference,
// never a reason to come back empty.
template <typename Sample, typename Pred>
std::vector<const Sample*> prefer(const std::vector<const Sample*>& in, Pred pred) {
  std::vector<const Sample*> out;
  for (const Sample* s : in)
    if (pred(*s)) out.push_back(s);
  return out.empty() ? in : out;
}

// Samples of the head pair that best matches (q_heads, kv_heads): the same
// q/kv ratio first, then q_heads (and kv_heads) nearest in log. `in` non-empty.
template <typename Sample>
std::vector<const Sample*> best_heads(const std::vector<const Sample*>& in, int q_heads, int kv_heads) {
  const auto same_ratio = [&](const Sample* a) {
    return static_cast<long long>(a->q_heads) * kv_heads == static_cast<long long>(q_heads) * a->kv_heads;
  };
  const bool any_ratio = std::any_of(in.begin(), in.end(), same_ratio);
  const auto key = [&](const Sample* a) {
    return std::make_tuple(!same_ratio(a) && any_ratio, std::fabs(std::log(double(a->q_heads) / q_heads)),
                           std::fabs(std::log(double(a->kv_heads) / std::max(kv_heads, 1))), a->q_heads,
                           a->kv_heads);
  };
  const Sample* best = *std::min_element(in.begin(), in.end(), [&](auto* a, auto* b) { return key(a) < key(b); });
  std::vector<const Sample*> out;
  for (const Sample* a : in)
    if (a->q_heads == best->q_heads && a->kv_heads == best->kv_heads) out.push_back(a);
  return out;
}

// Samples whose `bytes` is nearest `bytes` in log (ties: the smaller). `in` non-empty.
template <typename Sample>
std::vector<const Sample*> nearest_bytes(const std::vector<const Sample*>& in, double bytes) {
  const auto distance = [&](const Sample* a) {
    return std::make_pair(std::fabs(std::log(a->bytes / std::max(bytes, 1.0))), a->bytes);
  };
  const double nearest =
      (*std::min_element(in.begin(), in.end(), [&](auto* a, auto* b) { return distance(a) < distance(b); }))->bytes;
  std::vector<const Sample*> out;
  for (const Sample* a : in)
    if (a->bytes == nearest) out.push_back(a);
  return out;
}

// Bilinear in (log q, log kv) over (q, kv, value) cells: linear in log kv
// along each measured q row, then linear in log q between the rows around
// (q, kv); clamped at the edges (never extrapolated); duplicates averaged.
inline double bilinear_log_clamped(const std::vector<std::tuple<long long, long long, double>>& cells,
                                   long long q_tokens, long long kv_tokens) {
  std::map<long long, std::map<long long, std::pair<double, int>>> rows;  // q -> kv -> (sum, count)
  for (const auto& [q, kv, v] : cells) {
    auto& cell = rows[q][kv];
    cell.first += v;
    cell.second += 1;
  }
  std::vector<std::pair<double, double>> by_q;  // (log q, value at kv along that row)
  for (const auto& [q, row] : rows) {
    std::vector<std::pair<double, double>> by_kv;
    for (const auto& [kv, cell] : row) by_kv.emplace_back(std::log(double(kv)), cell.first / cell.second);
    by_q.emplace_back(std::log(double(q)), interp_clamped(by_kv, std::log(double(kv_tokens))));
  }
  return interp_clamped(by_q, std::log(double(q_tokens)));
}

}  // namespace ringsim::grid
