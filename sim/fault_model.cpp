// Realising a scenario's faults for one point and repeat; see sim/fault_model.hpp.
#include "sim/fault_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <map>
#include <stdexcept>

namespace ringsim {
namespace {

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// kQuantiles equiprobable factors: midpoint quantiles of the distribution.
std::vector<double> quantile_table(const JitterSpec& j) {
  std::vector<double> q(FaultModel::kQuantiles);
  const boost::math::normal_distribution<double> unit(0.0, 1.0);
  std::vector<double> sorted = j.samples;
  std::sort(sorted.begin(), sorted.end());
  for (std::uint32_t k = 0; k < FaultModel::kQuantiles; ++k) {
    const double u = (k + 0.5) / FaultModel::kQuantiles;
    switch (j.distribution) {
      case JitterDistribution::kNormal: q[k] = std::max(0.0, 1.0 + j.sigma * boost::math::quantile(unit, u)); break;
      case JitterDistribution::kLognormal: q[k] = std::exp(j.sigma * boost::math::quantile(unit, u)); break;
      case JitterDistribution::kEmpirical: {
        // Linear interpolation between order statistics (type 7 quantiles).
        const double at = u * static_cast<double>(sorted.size() - 1);
        const std::size_t lo = static_cast<std::size_t>(at);
        const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
        q[k] = sorted[lo] + (at - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
        break;
      }
    }
  }
  return q;
}

}  // namespace

FaultModel::FaultModel(const FaultSpec& spec, long long devices, int repeat)
    : device_level_(static_cast<std::size_t>(devices), 0) {
  std::map<std::pair<double, long long>, std::uint8_t> index;  // (slowdown, from_step) -> level
  const auto level_of = [&](double slowdown, long long from) {
    auto [it, added] = index.emplace(std::make_pair(slowdown, from), static_cast<std::uint8_t>(levels_.size()));
    if (added) {
      if (levels_.size() == 256)
        throw std::invalid_argument("faults: more than 255 distinct (slowdown, from_step) straggler classes");
      levels_.push_back(Level{slowdown, from});
    }
    return it->second;
  };
  if (spec.fraction) {
    const long long count = std::llround(spec.fraction->fraction * static_cast<double>(devices));
    const std::uint64_t seed = repeat_seed(spec.fraction->seed, repeat);
    std::vector<std::pair<std::uint64_t, long long>> order(static_cast<std::size_t>(devices));
    for (long long d = 0; d < devices; ++d) order[d] = {mix64(seed ^ mix64(static_cast<std::uint64_t>(d))), d};
    std::nth_element(order.begin(), order.begin() + count, order.end());
    const std::uint8_t level = level_of(spec.fraction->slowdown, 0);
    for (long long i = 0; i < count; ++i) device_level_[static_cast<std::size_t>(order[i].second)] = level;
  }
  for (const StragglerSpec& s : spec.stragglers)  // named devices override the fraction's draw
    if (s.device < devices) device_level_[static_cast<std::size_t>(s.device)] = level_of(s.slowdown, s.from_step);
  compute_faults_ = levels_.size() > 1;
  if (spec.jitter) {
    quantiles_ = quantile_table(*spec.jitter);
    const std::uint64_t seed = repeat_seed(spec.jitter->seed, repeat);
    key_c_ = static_cast<std::uint32_t>(mix64(seed ^ 0x636f6d70ULL));  // "comp"
    key_t_ = static_cast<std::uint32_t>(mix64(seed ^ 0x7472616eULL));  // "tran"
    compute_jitter_ = spec.jitter->compute;
    transfer_jitter_ = spec.jitter->transfer;
    compute_faults_ = compute_faults_ || compute_jitter_;
  }
}

FaultClusters fault_clusters(const ClusterSpec& base, const FaultSpec& spec) {
  FaultClusters out{base, {}};
  std::vector<std::pair<TimeNs, long long>> failures;
  for (const LinkFault& l : spec.links) {
    if (l.kind == LinkFault::kPair) {
      out.initial.pair_factors.push_back({l.from, l.to, l.bandwidth_factor});
      continue;
    }
    if (l.bandwidth_factor != 1.0) out.initial.nic_factors.emplace_back(l.nic, l.bandwidth_factor);
    if (l.fail_at_ns) failures.emplace_back(*l.fail_at_ns, l.nic);
  }
  std::sort(failures.begin(), failures.end());
  ClusterSpec now = out.initial;
  for (const auto& [at, nic] : failures) {
    now.failed_nics.push_back(nic);
    if (at == 0) {
      out.initial = now;
    } else if (!out.later.empty() && out.later.back().first == at) {
      out.later.back().second = now;
    } else {
      out.later.emplace_back(at, now);
    }
  }
  return out;
}

}  // namespace ringsim
