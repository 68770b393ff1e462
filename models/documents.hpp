// Packed documents (sequence.documents): a sequence made of several documents
// that attend only within themselves (a document mask). Given as a list of
// lengths, or as a count with a length distribution and a seed; the lengths
// are then drawn deterministically (the same on every machine: a SplitMix64
// stream and explicit formulas, not <random>'s implementation-defined
// distributions) and scaled to sum to the point's tokens.
//
//   equal        every document tokens / count (the remainder spread one each)
//   uniform      weights u ~ U(0, 1]          (lengths up to twice the mean)
//   exponential  weights -ln u                (many short, a few long)
//   lognormal    weights exp(sigma z), z ~ N(0, 1) by Box-Muller (sigma default 1)
// Lengths: 1 + floor(w_i / sum(w) * (tokens - count)), then the tokens left
// go one each to the largest fractional parts (ties: lower index), so every
// document has at least one token and the lengths sum to tokens exactly.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace ringsim {

enum class LengthDistribution { kEqual, kUniform, kExponential, kLognormal };
const char* distribution_name(LengthDistribution);
std::optional<LengthDistribution> parse_distribution(std::string_view);

struct DocumentSpec {
  std::vector<long long> lengths;  // a list (must sum to the point's tokens); or empty and:
  long long count = 0;             // documents drawn (0 and no list: no document mask)
  LengthDistribution distribution = LengthDistribution::kEqual;
  double sigma = 1.0;              // lognormal only
  std::uint64_t seed = 0;
  bool empty() const { return lengths.empty() && count == 0; }
};

// The document lengths of a point of `tokens` tokens. Throws
// std::invalid_argument if a list does not sum to tokens or count > tokens.
std::vector<long long> document_lengths(const DocumentSpec&, long long tokens);

}  // namespace ringsim
