// BlockGrid: see block_grid.hpp for the model and its reasons.
#include "models/block_grid.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

namespace ringsim {

namespace {

double lerp(const std::pair<double, double>& a, const std::pair<double, double>& b, double x) {
  return a.first == b.first ? a.second : a.second + (x - a.first) / (b.first - a.first) * (b.second - a.second);
}

// Value of a sorted line at x when x lies within it.
std::optional<double> on_line(const std::vector<std::pair<double, double>>& line, double x) {
  if (x < line.front().first || x > line.back().first) return std::nullopt;
  const auto hi = std::lower_bound(line.begin(), line.end(), x, [](const auto& p, double v) { return p.first < v; });
  if (hi->first == x) return hi->second;
  return lerp(*(hi - 1), *hi, x);
}

// Bracketed value: lines keyed by `key`, each covering positions; the value at
// `pos` on the nearest covering lines at or below / at or above `key`, linear
// in the key between them. nullopt when no covering line lies on either side.
std::optional<double> bracketed(const std::map<double, std::vector<std::pair<double, double>>>& lines, double key,
                                double pos) {
  std::optional<std::pair<double, double>> below, above;  // (line key, value)
  for (const auto& [k, line] : lines) {
    const std::optional<double> v = on_line(line, pos);
    if (!v) continue;
    if (k <= key) below = std::make_pair(k, *v);
    if (k >= key && !above) above = std::make_pair(k, *v);
  }
  if (!below || !above) return std::nullopt;
  return lerp(*below, *above, key);
}

std::vector<std::pair<double, double>> averaged(std::map<double, std::pair<double, int>> cells) {
  std::vector<std::pair<double, double>> out;
  for (const auto& [x, c] : cells) out.emplace_back(x, c.first / c.second);
  return out;
}

}  // namespace

BlockGrid::BlockGrid(const std::vector<GridSample>& samples, WaveShape waves, double floor_s)
    : waves_(waves), floor_s_(floor_s) {
  if (samples.empty()) throw std::invalid_argument("BlockGrid: no samples");
  std::map<double, std::map<double, std::pair<double, int>>> by_keys, by_ctas;
  for (const GridSample& s : samples) {
    auto& r = by_keys[s.keys][s.ctas];
    r.first += s.seconds;
    r.second += 1;
    auto& c = by_ctas[s.ctas][s.keys];
    c.first += s.seconds;
    c.second += 1;
  }
  for (auto& [k, cells] : by_keys) rows_[k] = averaged(cells);
  for (auto& [c, cells] : by_ctas) cols_[c] = averaged(cells);
}

double BlockGrid::wave_ratio(double ctas, double sample_ctas) const {
  if (waves_.slots > 0) {
    const auto waves = [&](double c) { return std::max(1.0, std::ceil(c / waves_.slots)); };
    return waves(ctas) / waves(sample_ctas);
  }
  return ctas > sample_ctas ? ctas / sample_ctas : 1.0;  // no SM count: never faster below
}

double BlockGrid::scale_keys(double ctas_s, double keys_s, double seconds_s, double keys) const {
  const auto tiles = [&](double k) { return waves_.block_n > 0 ? std::ceil(k / waves_.block_n) : k; };
  // The fixed part: where the line through the sample and its column
  // neighbour (toward `keys`, else the other side) meets zero keys.
  const double lowest = std::min(floor_s_, seconds_s);
  double fixed = lowest;
  const std::vector<std::pair<double, double>>& col = cols_.at(ctas_s);
  const auto at = std::lower_bound(col.begin(), col.end(), keys_s, [](const auto& p, double v) { return p.first < v; });
  const bool up = keys > keys_s;
  const auto neighbour = (up && at != col.begin()) || at + 1 == col.end() ? at - (at != col.begin() ? 1 : 0) : at + 1;
  if (neighbour != at) {
    const double slope = (neighbour->second - seconds_s) / (tiles(neighbour->first) - tiles(keys_s));
    fixed = std::clamp(seconds_s - slope * tiles(keys_s), lowest, seconds_s);
  }
  return fixed + (seconds_s - fixed) * tiles(keys) / tiles(keys_s);
}

GridValue BlockGrid::at(double ctas, double keys) const {
  GridValue v;
  // (A column bracketing (ctas, keys) implies rows at both its keys that
  // contain `ctas`, so rows alone decide what is inside.)
  const std::optional<double> inside = bracketed(rows_, keys, ctas);
  if (inside) {
    v.inside = true;
    v.seconds = std::max(*inside, floor_s_);
    return v;
  }
  // Outside: the nearest sample in log CTAs + log keys; on a tie the one
  // with the nearer CTA count (scaling by key tiles keeps the kernel's fixed
  // part, scaling by waves does not), then the first found.
  constexpr double kTie = 1e-9;
  double best = std::numeric_limits<double>::infinity(), best_ctas = best, ctas_s = 0, keys_s = 0, seconds_s = 0;
  for (const auto& [k, row] : rows_) {
    for (const auto& [c, s] : row) {
      const double dc = std::fabs(std::log(ctas / c)), d = dc + std::fabs(std::log(keys / k));
      if (d < best - kTie || (d < best + kTie && dc < best_ctas - kTie)) {
        best = d, best_ctas = dc, ctas_s = c, keys_s = k, seconds_s = s;
      }
    }
  }
  v.seconds = std::max(floor_s_, scale_keys(ctas_s, keys_s, seconds_s, keys) * wave_ratio(ctas, ctas_s));
  v.reason = fmt::format(
      "{} CTAs x {} keys is outside the sampled grid (CTAs {}-{}, keys {}-{}); scaled from the sample at {} CTAs x {} "
      "keys by {} and key tiles",
      ctas, keys, cols_.begin()->first, cols_.rbegin()->first, rows_.begin()->first, rows_.rbegin()->first, ctas_s,
      keys_s, waves_.slots > 0 ? fmt::format("waves of {} CTAs", waves_.slots) : std::string("CTAs"));
  return v;
}

GridValue merge_time(const std::vector<std::pair<double, double>>& pts, double elements, double floor_s) {
  GridValue v;
  const auto& first = pts.front();
  const auto& last = pts.back();
  if (elements >= first.first && elements <= last.first) {
    v.inside = true;
    v.seconds = std::max(floor_s, *on_line(pts, elements));
    return v;
  }
  if (elements > last.first) {
    v.seconds = last.second * elements / last.first;
  } else {
    double fixed = std::min(floor_s, first.second);
    if (pts.size() > 1) {
      const double slope = (pts[1].second - first.second) / (pts[1].first - first.first);
      fixed = std::clamp(first.second - slope * first.first, std::min(floor_s, first.second), first.second);
    }
    v.seconds = fixed + (first.second - fixed) * elements / first.first;
  }
  v.seconds = std::max(v.seconds, floor_s);
  v.reason = fmt::format("a merge of {} elements is outside the sampled merges ({}-{} elements)", elements,
                         first.first, last.first);
  return v;
}

}  // namespace ringsim
