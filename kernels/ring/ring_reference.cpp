// fp64 reference rows: see ring_reference.hpp.
#include "kernels/ring/ring_reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/ring/ring_random.hpp"

namespace ringsim::ring {

ReferenceKv::ReferenceKv(const ReferenceInputs& in, int kv_head) : in_(in) {
  const long long n = in.tokens * in.head_dim;
  k_.resize(n);
  v_.resize(n);
  for (long long t = 0; t < in.tokens; ++t) {
    const std::uint64_t base = (static_cast<std::uint64_t>(t) * in.kv_heads + kv_head) * in.head_dim;
    for (int i = 0; i < in.head_dim; ++i) {
      k_[t * in.head_dim + i] = bf16_bits_to_double(random_bf16_bits(in.seed, Tensor::kK, base + i));
      v_[t * in.head_dim + i] = bf16_bits_to_double(random_bf16_bits(in.seed, Tensor::kV, base + i));
    }
  }
}

void ReferenceKv::row(long long token, int q_head, double* o, double* lse) const {
  const int dim = in_.head_dim;
  std::vector<double> q(dim);
  const std::uint64_t base = (static_cast<std::uint64_t>(token) * in_.q_heads + q_head) * dim;
  for (int i = 0; i < dim; ++i) q[i] = bf16_bits_to_double(random_bf16_bits(in_.seed, Tensor::kQ, base + i));
  const long long keys = in_.causal ? token + 1 : in_.tokens;
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
  std::vector<double> s(keys);
  double m = -INFINITY;
  for (long long j = 0; j < keys; ++j) {
    double dot = 0;
    for (int i = 0; i < dim; ++i) dot += q[i] * k_[j * dim + i];
    s[j] = dot * scale;
    m = std::max(m, s[j]);
  }
  double l = 0;
  std::fill(o, o + dim, 0.0);
  for (long long j = 0; j < keys; ++j) {
    const double p = std::exp(s[j] - m);
    l += p;
    for (int i = 0; i < dim; ++i) o[i] += p * v_[j * dim + i];
  }
  for (int i = 0; i < dim; ++i) o[i] /= l;
  *lse = m + std::log(l);
}

}  // namespace ringsim::ring
