// CPU properties of the fp64 attention backward reference (suite 'cpu'): its
// gradients equal central differences of the forward reference (an
// independent oracle), and the block backwards of a ring, each given the
// row's final LSE and O, add up to the backward of the whole sequence.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

#include "tests/kernels/ring_cpu.hpp"

using namespace ringsim::kernels;
using namespace ringsim::kernels::test;

namespace {

std::vector<double> normal(std::size_t n, std::mt19937_64& rng) {
  std::normal_distribution<double> dist;
  std::vector<double> out(n);
  for (auto& x : out) x = dist(rng);
  return out;
}

struct Block {
  RefShape shape;
  double scale = 0.0;
  std::vector<double> q, k, v, d_o;
};

// L = sum(dO * O(q, k, v)): its gradient is what the backward computes.
double loss(const Block& b) {
  std::vector<double> o(b.q.size()), lse(b.shape.q_heads * b.shape.q_tokens);
  attention_forward_cpu(b.shape, b.q.data(), b.k.data(), b.v.data(), o.data(), lse.data(), b.scale);
  double sum = 0.0;
  for (std::size_t i = 0; i < o.size(); ++i) sum += b.d_o[i] * o[i];
  return sum;
}

// Largest |central difference - gradient| / (1 + |gradient|) over `x`.
double worst_fd_error(Block& b, std::vector<double>& x, const std::vector<double>& grad) {
  constexpr double kStep = 1e-5;
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + kStep;
    const double up = loss(b);
    x[i] = saved - kStep;
    const double down = loss(b);
    x[i] = saved;
    const double fd = (up - down) / (2 * kStep);
    worst = std::max(worst, std::fabs(fd - grad[i]) / (1.0 + std::fabs(grad[i])));
  }
  return worst;
}

}  // namespace

TEST_CASE("kernels::attention_backward_cpu: gradients equal central differences of the forward reference") {
  for (int seed = 0; seed < 24; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(900 + seed);
    const Mask mask = seed % 3 == 0 ? Mask::kFull : seed % 3 == 1 ? Mask::kCausal : Mask::kZigzag;
    const int group = 1 + seed % 2, d = 4 + 4 * ((seed / 3) % 2);
    const long long q = mask == Mask::kFull ? 3 + seed % 4 : 2 * (1 + seed % 3);
    const long long kv = mask == Mask::kFull ? 2 + seed % 5 : q;
    CAPTURE(mask_name(mask));
    CAPTURE(group);
    CAPTURE(q);
    CAPTURE(kv);
    Block b{{2 * group, 2, d, q, kv, mask}, seed % 4 == 0 ? 0.7 : 0.0, {}, {}, {}, {}};
    b.q = normal(q * b.shape.q_heads * d, rng);
    b.k = normal(kv * b.shape.kv_heads * d, rng);
    b.v = normal(kv * b.shape.kv_heads * d, rng);
    b.d_o = normal(b.q.size(), rng);
    std::vector<double> o(b.q.size()), lse(b.shape.q_heads * q);
    attention_forward_cpu(b.shape, b.q.data(), b.k.data(), b.v.data(), o.data(), lse.data(), b.scale);
    std::vector<double> dq(b.q.size()), dk(b.k.size()), dv(b.v.size());
    attention_backward_cpu(b.shape, b.q.data(), b.k.data(), b.v.data(), o.data(), b.d_o.data(), lse.data(),
                           dq.data(), dk.data(), dv.data(), b.scale);
    CHECK(worst_fd_error(b, b.q, dq) < 1e-6);
    CHECK(worst_fd_error(b, b.k, dk) < 1e-6);
    CHECK(worst_fd_error(b, b.v, dv) < 1e-6);
  }
}

TEST_CASE("kernels::attention_backward_cpu: a ring's block backwards, given the final LSE and O, add up to the full backward") {
  for (int seed = 0; seed < 24; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(1300 + seed);
    const Layout layout = seed % 2 ? Layout::kZigzag : Layout::kContiguous;
    const bool causal = (seed / 2) % 2;
    const int ranks = 1 + seed % 4, group = 1 + (seed / 4) % 2;
    const long long c = 2 + seed % 4;
    CAPTURE(ranks);
    CAPTURE(causal);
    CAPTURE(static_cast<int>(layout));
    Sequence seq{2 * group, 2, 4, (layout == Layout::kZigzag ? 2 : 1) * ranks * c, {}, {}, {}};
    const long long qw = seq.q_heads * seq.head_dim, kw = seq.kv_heads * seq.head_dim;
    seq.q = normal(seq.tokens * qw, rng);
    seq.k = normal(seq.tokens * kw, rng);
    seq.v = normal(seq.tokens * kw, rng);
    const std::vector<double> d_o = normal(seq.tokens * qw, rng);
    const RefShape full{seq.q_heads, seq.kv_heads, seq.head_dim, seq.tokens, seq.tokens,
                        causal ? Mask::kCausal : Mask::kFull};
    std::vector<double> o(seq.q.size()), lse(seq.q_heads * seq.tokens);
    attention_forward_cpu(full, seq.q.data(), seq.k.data(), seq.v.data(), o.data(), lse.data());
    std::vector<double> want_dq(seq.q.size()), want_dk(seq.k.size()), want_dv(seq.v.size());
    attention_backward_cpu(full, seq.q.data(), seq.k.data(), seq.v.data(), o.data(), d_o.data(), lse.data(),
                           want_dq.data(), want_dk.data(), want_dv.data());
    std::vector<double> dq(seq.q.size(), 0.0), dk(seq.k.size(), 0.0), dv(seq.v.size(), 0.0);
    for (int r = 0; r < ranks; ++r) {
      const auto mine = rank_tokens(layout, r, ranks, c);
      for (int s = 0; s < ranks; ++s) {
        const BlockPlan b = plan_block(layout, causal, r, s, c);
        if (b.skip) continue;
        const auto theirs = rank_tokens(layout, s, ranks, c);
        const std::vector<long long> rows(mine.begin() + b.q_begin, mine.begin() + b.q_begin + b.q_count);
        const std::vector<long long> keys(theirs.begin() + b.kv_begin, theirs.begin() + b.kv_begin + b.kv_count);
        std::vector<double> block_lse(seq.q_heads * b.q_count);  // the rows' final LSE
        for (int h = 0; h < seq.q_heads; ++h)
          for (long long i = 0; i < b.q_count; ++i) block_lse[h * b.q_count + i] = lse[h * seq.tokens + rows[i]];
        std::vector<double> bq(b.q_count * qw), bk(b.kv_count * kw), bv(b.kv_count * kw);
        attention_backward_cpu({seq.q_heads, seq.kv_heads, seq.head_dim, b.q_count, b.kv_count, b.mask},
                               gather(seq.q, rows, qw).data(), gather(seq.k, keys, kw).data(),
                               gather(seq.v, keys, kw).data(), gather(o, rows, qw).data(),
                               gather(d_o, rows, qw).data(), block_lse.data(), bq.data(), bk.data(), bv.data());
        for (long long i = 0; i < b.q_count; ++i)
          for (long long e = 0; e < qw; ++e) dq[rows[i] * qw + e] += bq[i * qw + e];
        for (long long j = 0; j < b.kv_count; ++j)
          for (long long e = 0; e < kw; ++e) {
            dk[keys[j] * kw + e] += bk[j * kw + e];
            dv[keys[j] * kw + e] += bv[j * kw + e];
          }
      }
    }
    double worst = 0.0;
    for (std::size_t i = 0; i < dq.size(); ++i) worst = std::max(worst, std::fabs(dq[i] - want_dq[i]));
    for (std::size_t i = 0; i < dk.size(); ++i)
      worst = std::max({worst, std::fabs(dk[i] - want_dk[i]), std::fabs(dv[i] - want_dv[i])});
    CHECK(worst < 1e-12);
  }
}

TEST_CASE("kernels::attention_backward_cpu: a row whose LSE is -inf gets no gradient and gives none") {
  std::mt19937_64 rng(77);
  const RefShape shape{2, 1, 4, 3, 5, Mask::kFull};
  const auto q = normal(3 * 2 * 4, rng), k = normal(5 * 4, rng), v = normal(5 * 4, rng);
  const auto o = normal(q.size(), rng), d_o = normal(q.size(), rng);
  const std::vector<double> lse(2 * 3, -std::numeric_limits<double>::infinity());
  std::vector<double> dq(q.size(), 1.0), dk(k.size(), 1.0), dv(v.size(), 1.0);
  attention_backward_cpu(shape, q.data(), k.data(), v.data(), o.data(), d_o.data(), lse.data(), dq.data(),
                         dk.data(), dv.data());
  for (double x : dq) CHECK(x == 0.0);
  for (double x : dk) CHECK(x == 0.0);
  for (double x : dv) CHECK(x == 0.0);
}
