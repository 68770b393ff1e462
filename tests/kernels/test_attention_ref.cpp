// CPU properties of the fp64 attention reference and merge (suite 'cpu'):
// a ring of P chunks merged step by step equals attention over the whole
// sequence (causal and not, contiguous and zigzag), and the merge is
// associative, with -inf rows as its identity.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

#include "tests/kernels/ring_cpu.hpp"

using namespace ringsim::kernels;
using namespace ringsim::kernels::test;

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

std::vector<double> normal(std::size_t n, std::mt19937_64& rng) {
  std::normal_distribution<double> dist;
  std::vector<double> out(n);
  for (auto& x : out) x = dist(rng);
  return out;
}

// Runs rank r's ring (every other rank's kv visits once) with the reference
// kernel and merge; returns the rank's accumulator (o, lse [heads, rows]).
void ring_rank(const Sequence& seq, Layout layout, bool causal, int r, int ranks, long long c,
               std::vector<double>& acc_o, std::vector<double>& acc_lse) {
  const long long qw = seq.q_heads * seq.head_dim, kw = seq.kv_heads * seq.head_dim;
  const auto mine = rank_tokens(layout, r, ranks, c);
  const long long rows = static_cast<long long>(mine.size());
  acc_o.assign(rows * qw, 0.0);
  acc_lse.assign(seq.q_heads * rows, kNegInf);
  const auto q = gather(seq.q, mine, qw);
  for (int step = 0; step < ranks; ++step) {
    const int s = (r - step + ranks) % ranks;  // kv block arriving at this step
    const BlockPlan b = plan_block(layout, causal, r, s, c);
    if (b.skip) continue;
    const auto theirs = rank_tokens(layout, s, ranks, c);
    const auto k = gather(seq.k, theirs, kw), v = gather(seq.v, theirs, kw);
    const std::vector<double> qb(q.begin() + b.q_begin * qw, q.begin() + (b.q_begin + b.q_count) * qw);
    const std::vector<double> kb(k.begin() + b.kv_begin * kw, k.begin() + (b.kv_begin + b.kv_count) * kw);
    const std::vector<double> vb(v.begin() + b.kv_begin * kw, v.begin() + (b.kv_begin + b.kv_count) * kw);
    std::vector<double> o(b.q_count * qw), lse(seq.q_heads * b.q_count);
    attention_forward_cpu({seq.q_heads, seq.kv_heads, seq.head_dim, b.q_count, b.kv_count, b.mask},
                          qb.data(), kb.data(), vb.data(), o.data(), lse.data());
    attention_merge_cpu(b.q_count, seq.q_heads, seq.head_dim, acc_o.data() + b.q_begin * qw,
                        acc_lse.data() + b.q_begin, rows, o.data(), lse.data(), b.q_count);
  }
}

}  // namespace

TEST_CASE("kernels::attention_merge_cpu: a ring of chunks merged step by step equals full attention") {
  for (int seed = 0; seed < 24; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    const Layout layout = seed % 2 ? Layout::kZigzag : Layout::kContiguous;
    const bool causal = (seed / 2) % 2;
    const int ranks = 1 + seed % 4, group = 1 + (seed / 4) % 2;
    const long long c = 3 + seed % 5;
    CAPTURE(ranks);
    CAPTURE(causal);
    CAPTURE(static_cast<int>(layout));
    Sequence seq{2 * group, 2, 8, (layout == Layout::kZigzag ? 2 : 1) * ranks * c, {}, {}, {}};
    seq.q = normal(seq.tokens * seq.q_heads * seq.head_dim, rng);
    seq.k = normal(seq.tokens * seq.kv_heads * seq.head_dim, rng);
    seq.v = normal(seq.tokens * seq.kv_heads * seq.head_dim, rng);
    std::vector<double> full_o(seq.q.size()), full_lse(seq.q_heads * seq.tokens);
    attention_forward_cpu({seq.q_heads, seq.kv_heads, seq.head_dim, seq.tokens, seq.tokens,
                           causal ? Mask::kCausal : Mask::kFull},
                          seq.q.data(), seq.k.data(), seq.v.data(), full_o.data(), full_lse.data());
    const long long qw = seq.q_heads * seq.head_dim;
    double worst = 0;
    for (int r = 0; r < ranks; ++r) {
      std::vector<double> acc_o, acc_lse;
      ring_rank(seq, layout, causal, r, ranks, c, acc_o, acc_lse);
      const auto mine = rank_tokens(layout, r, ranks, c);
      for (std::size_t i = 0; i < mine.size(); ++i) {
        for (long long e = 0; e < qw; ++e)
          worst = std::max(worst, std::fabs(acc_o[i * qw + e] - full_o[mine[i] * qw + e]));
        for (int h = 0; h < seq.q_heads; ++h)
          worst = std::max(worst, std::fabs(acc_lse[h * mine.size() + i] - full_lse[h * seq.tokens + mine[i]]));
      }
    }
    CHECK(worst < 1e-12);
  }
}

TEST_CASE("kernels::attention_merge_cpu: merging is associative and -inf rows are its identity") {
  for (int seed = 0; seed < 16; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(100 + seed);
    const long long tokens = 5;
    const int heads = 3, d = 4;
    auto block = [&](bool allow_inf) {
      std::vector<double> o = normal(tokens * heads * d, rng), lse = normal(tokens * heads, rng);
      for (auto& x : lse)
        if (allow_inf && rng() % 3 == 0) x = kNegInf;
      for (long long t = 0; t < tokens; ++t)  // a row that saw no key has o = 0
        for (int h = 0; h < heads; ++h)
          if (lse[h * tokens + t] == kNegInf)
            for (int c = 0; c < d; ++c) o[(t * heads + h) * d + c] = 0.0;
      return std::make_pair(o, lse);
    };
    const auto a = block(true), b = block(true), c = block(true);
    auto merge = [&](std::pair<std::vector<double>, std::vector<double>> acc, const auto& x) {
      attention_merge_cpu(tokens, heads, d, acc.first.data(), acc.second.data(), tokens,
                          x.first.data(), x.second.data(), tokens);
      return acc;
    };
    const auto left = merge(merge(a, b), c);
    const auto right = merge(a, merge(b, c));
    for (std::size_t i = 0; i < left.first.size(); ++i) CHECK(left.first[i] == doctest::Approx(right.first[i]).epsilon(1e-12));
    for (std::size_t i = 0; i < left.second.size(); ++i) {
      if (left.second[i] == kNegInf) CHECK(right.second[i] == kNegInf);
      else CHECK(left.second[i] == doctest::Approx(right.second[i]).epsilon(1e-12));
    }
    const std::pair<std::vector<double>, std::vector<double>> empty{
        std::vector<double>(tokens * heads * d, 0.0), std::vector<double>(tokens * heads, kNegInf)};
    CHECK(merge(a, empty) == a);  // adding nothing changes nothing, bit for bit
    const auto from_empty = merge(empty, a);
    for (std::size_t i = 0; i < a.first.size(); ++i) CHECK(from_empty.first[i] == doctest::Approx(a.first[i]).epsilon(1e-15));
    CHECK(from_empty.second == a.second);
  }
}

TEST_CASE("kernels::mask_visible: the zigzag diagonal block is the causal set of its 2c x 2c square") {
  for (long long c = 1; c < 12; ++c) {
    CAPTURE(c);
    long long visible = 0;
    for (long long i = 0; i < 2 * c; ++i)
      for (long long j = 0; j < 2 * c; ++j) {
        CHECK(mask_visible(Mask::kZigzag, i, j, 2 * c) == (j <= i));
        visible += mask_visible(Mask::kZigzag, i, j, 2 * c);
      }
    CHECK(visible == 2 * c * (2 * c + 1) / 2);
  }
}
