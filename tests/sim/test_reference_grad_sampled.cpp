// kernels/ring/ring_reference: ReferenceGrad's sampled form (what the real
// executor's gradient check uses on long sequences) against its exact form,
// which is itself checked against the dense block reference
// (test_schedule_fp64_backward.cpp): given the exact per-query LSE and D,
// dkv_row agrees; own_dq_row needs nothing from the caller, so it agrees
// even when the supplied LSE and D are wrong, and dkv_row then does not.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "kernels/ring/ring_random.hpp"
#include "kernels/ring/ring_reference.hpp"

using namespace ringsim;

namespace {

double worst_gap(const double* a, const double* b, int n) {
  double w = 0;
  for (int i = 0; i < n; ++i) w = std::max(w, std::fabs(a[i] - b[i]));
  return w;
}

}  // namespace

TEST_CASE("kernels/ring ReferenceGrad sampled: dK/dV from supplied LSE and D, dQ from its own row") {
  const int q_heads = 4, kv_heads = 2, dim = 8, group = q_heads / kv_heads;
  const long long tokens = 20, cached = 3;
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const ring::ReferenceInputs in{7, tokens, q_heads, kv_heads, dim, causal, cached};
    for (int kh = 0; kh < kv_heads; ++kh) {
      const ring::ReferenceGrad exact(in, kh);
      std::vector<double> lse, delta, bent;
      for (long long t = cached; t < tokens; ++t)
        for (int g = 0; g < group; ++g) {
          const int h = kh * group + g;
          lse.push_back(exact.lse(t, h));
          double d = 0;
          // D = dO . O from the exact form's O and the hashed dO (Tensor::kDO).
          for (int i = 0; i < dim; ++i)
            d += exact.out(t, h)[i] *
                 ring::bf16_bits_to_double(ring::random_bf16_bits(7, ring::Tensor::kDO, (t * q_heads + h) * dim + i));
          delta.push_back(d);
          bent.push_back(d + 0.25);
        }
      const ring::ReferenceGrad sampled(in, kh, lse, delta), wrong(in, kh, lse, bent);
      std::vector<double> a(dim), b(dim), c(dim), e(dim);
      double dkv_gap = 0, dq_gap = 0, wrong_dq_gap = 0, wrong_dkv_gap = 0;
      for (long long t = 0; t < tokens; ++t) {
        exact.dkv_row(t, a.data(), b.data());
        sampled.dkv_row(t, c.data(), e.data());
        dkv_gap = std::max({dkv_gap, worst_gap(a.data(), c.data(), dim), worst_gap(b.data(), e.data(), dim)});
        wrong.dkv_row(t, c.data(), e.data());
        wrong_dkv_gap = std::max(wrong_dkv_gap, worst_gap(a.data(), c.data(), dim));
        for (int h = kh * group; h < (kh + 1) * group && t >= cached; ++h) {
          exact.dq_row(t, h, a.data());
          sampled.own_dq_row(t, h, c.data());
          dq_gap = std::max(dq_gap, worst_gap(a.data(), c.data(), dim));
          wrong.own_dq_row(t, h, c.data());
          wrong_dq_gap = std::max(wrong_dq_gap, worst_gap(a.data(), c.data(), dim));
        }
      }
      CHECK(dkv_gap < 1e-13);
      CHECK(dq_gap < 1e-13);
      CHECK(wrong_dq_gap < 1e-13);  // own_dq_row ignores the supplied D
      CHECK(wrong_dkv_gap > 1e-3);  // dkv_row uses it
    }
  }
  CHECK_THROWS_AS(ring::ReferenceGrad(ring::ReferenceInputs{7, 8, 2, 1, 4, false, 0}, 0, {1.0}, {1.0}), std::invalid_argument);
}
