// Packed documents: lengths from a list or drawn; see documents.hpp.
#include "models/documents.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace ringsim {

namespace {

constexpr double kTwoPi = 6.283185307179586;

// SplitMix64 (Steele, Lea, Flood 2014): a fixed, portable stream.
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double unit() { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }  // (0, 1]
};

std::vector<double> weights(const DocumentSpec& spec) {
  SplitMix64 rng{spec.seed};
  std::vector<double> w(static_cast<std::size_t>(spec.count));
  for (double& x : w) {
    switch (spec.distribution) {
      case LengthDistribution::kEqual: x = 1; break;
      case LengthDistribution::kUniform: x = rng.unit(); break;
      case LengthDistribution::kExponential: x = -std::log(rng.unit()) + 1e-300; break;
      case LengthDistribution::kLognormal: {
        const double z = std::sqrt(-2.0 * std::log(rng.unit())) * std::cos(kTwoPi * rng.unit());
        x = std::exp(spec.sigma * z);
        break;
      }
    }
  }
  return w;
}

}  // namespace

const char* distribution_name(LengthDistribution d) {
  switch (d) {
    case LengthDistribution::kEqual: return "equal";
    case LengthDistribution::kUniform: return "uniform";
    case LengthDistribution::kExponential: return "exponential";
    case LengthDistribution::kLognormal: return "lognormal";
  }
  return "?";
}

std::optional<LengthDistribution> parse_distribution(std::string_view s) {
  for (auto d : {LengthDistribution::kEqual, LengthDistribution::kUniform, LengthDistribution::kExponential,
                 LengthDistribution::kLognormal}) {
    if (s == distribution_name(d)) return d;
  }
  return std::nullopt;
}

std::vector<long long> document_lengths(const DocumentSpec& spec, long long tokens) {
  if (!spec.lengths.empty()) {
    const long long sum = std::accumulate(spec.lengths.begin(), spec.lengths.end(), 0LL);
    if (sum != tokens) {
      throw std::invalid_argument(fmt::format("the {} document lengths sum to {}, not to the point's {} tokens",
                                              spec.lengths.size(), sum, tokens));
    }
    return spec.lengths;
  }
  if (spec.count > tokens) {
    throw std::invalid_argument(fmt::format("{} documents do not fit in {} tokens", spec.count, tokens));
  }
  const std::vector<double> w = weights(spec);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  const long long spare = tokens - spec.count;  // tokens beyond one per document
  std::vector<long long> len(w.size());
  std::vector<std::pair<double, std::size_t>> frac(w.size());
  long long given = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double share = w[i] / total * static_cast<double>(spare);
    const long long whole = std::min(spare, static_cast<long long>(std::floor(share)));
    len[i] = 1 + whole;
    given += whole;
    frac[i] = {share - static_cast<double>(whole), i};
  }
  std::stable_sort(frac.begin(), frac.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (long long k = 0; given < spare; ++k, ++given) ++len[frac[static_cast<std::size_t>(k) % frac.size()].second];
  return len;
}

}  // namespace ringsim
