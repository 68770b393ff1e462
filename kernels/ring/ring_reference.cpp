// fp64 reference rows: see ring_reference.hpp.
#include "kernels/ring/ring_reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <utility>

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

namespace ringsim::ring {

namespace {
double dot(const double* a, const double* b, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
bool visible(const ReferenceInputs& in, long long t, long long j) { return !in.causal || j <= t; }
}  // namespace

ReferenceGrad::ReferenceGrad(const ReferenceInputs& in, int kv_head)
    : in_(in), kv_(in, kv_head), group_(in.q_heads / in.kv_heads), first_head_(kv_head * group_) {
  const int dim = in.head_dim;
  hash_rows();
  o_.resize(q_.size()), lse_.resize(q_.size() / dim), d_.resize(q_.size() / dim);
  for (long long t = in.first_query; t < in.tokens; ++t)
    for (int g = 0; g < group_; ++g) {
      const std::size_t at = index(t, first_head_ + g);
      kv_.row(t, first_head_ + g, &o_[at], &lse_[at / dim]);
      d_[at / dim] = dot(&do_[at], &o_[at], dim);
    }
}

ReferenceGrad::ReferenceGrad(const ReferenceInputs& in, int kv_head, std::vector<double> lse, std::vector<double> delta)
    : in_(in), kv_(in, kv_head), group_(in.q_heads / in.kv_heads), first_head_(kv_head * group_),
      lse_(std::move(lse)), d_(std::move(delta)) {
  hash_rows();
  if (lse_.size() * in.head_dim != q_.size() || d_.size() != lse_.size())
    throw std::invalid_argument("ReferenceGrad: lse and delta need one value per query row and group head");
}

void ReferenceGrad::hash_rows() {
  const int dim = in_.head_dim;
  const std::size_t rows = static_cast<std::size_t>((in_.tokens - in_.first_query) * group_);
  q_.resize(rows * dim), do_.resize(rows * dim);
  for (long long t = in_.first_query; t < in_.tokens; ++t)
    for (int g = 0; g < group_; ++g) {
      const std::size_t at = index(t, first_head_ + g);
      const std::uint64_t base = (static_cast<std::uint64_t>(t) * in_.q_heads + first_head_ + g) * dim;
      for (int i = 0; i < dim; ++i) {
        q_[at + i] = bf16_bits_to_double(random_bf16_bits(in_.seed, Tensor::kQ, base + i));
        do_[at + i] = bf16_bits_to_double(random_bf16_bits(in_.seed, Tensor::kDO, base + i));
      }
    }
}

std::size_t ReferenceGrad::index(long long token, int q_head) const {
  return (static_cast<std::size_t>(token - in_.first_query) * group_ + static_cast<std::size_t>(q_head - first_head_)) *
         static_cast<std::size_t>(in_.head_dim);
}

double ReferenceGrad::ds(long long t, int g, long long j, double* p) const {
  const int dim = in_.head_dim;
  const std::size_t at = index(t, first_head_ + g);
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
  *p = std::exp(scale * dot(&q_[at], kv_.k(j), dim) - lse_[at / dim]);
  return *p * (dot(&do_[at], kv_.v(j), dim) - d_[at / dim]);
}

void ReferenceGrad::dq_row(long long token, int q_head, double* dq) const {
  const std::size_t at = index(token, q_head);
  dq_sum(&q_[at], &do_[at], lse_[at / in_.head_dim], d_[at / in_.head_dim], token, dq);
}

void ReferenceGrad::own_dq_row(long long token, int q_head, double* dq) const {
  const int dim = in_.head_dim;
  const std::size_t at = index(token, q_head);
  std::vector<double> o(static_cast<std::size_t>(dim));
  double lse = 0;
  kv_.row(token, q_head, o.data(), &lse);
  dq_sum(&q_[at], &do_[at], lse, dot(&do_[at], o.data(), dim), token, dq);
}

// dQ = sum_j scale P_j (dO . V_j - D) K_j over the keys the row sees.
void ReferenceGrad::dq_sum(const double* q, const double* d_o, double lse, double delta, long long token,
                           double* dq) const {
  const int dim = in_.head_dim;
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
  std::fill(dq, dq + dim, 0.0);
  for (long long j = 0; j < in_.tokens; ++j) {
    if (!visible(in_, token, j)) continue;
    const double p = std::exp(scale * dot(q, kv_.k(j), dim) - lse);
    const double s = p * (dot(d_o, kv_.v(j), dim) - delta);
    for (int i = 0; i < dim; ++i) dq[i] += scale * s * kv_.k(j)[i];
  }
}

void ReferenceGrad::dkv_row(long long token, double* dk, double* dv) const {
  const int dim = in_.head_dim;
  const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
  std::fill(dk, dk + dim, 0.0);
  std::fill(dv, dv + dim, 0.0);
  for (long long t = in_.first_query; t < in_.tokens; ++t) {
    if (!visible(in_, t, token)) continue;
    for (int g = 0; g < group_; ++g) {
      double p;
      const double s = ds(t, g, token, &p);
      const std::size_t at = index(t, first_head_ + g);
      for (int i = 0; i < dim; ++i) {
        dk[i] += scale * s * q_[at + i];
        dv[i] += p * do_[at + i];
      }
    }
  }
}

}  // namespace ringsim::ring

namespace ringsim::ring {

std::vector<long long> sample_positions(long long tokens, long long run, int count, std::mt19937_64& rng) {
  std::set<long long> out{0, tokens - 1};
  for (long long b = run; b < tokens && static_cast<int>(out.size()) < count; b += run) {
    out.insert(b - 1);
    out.insert(b);
  }
  std::uniform_int_distribution<long long> any(0, tokens - 1);
  while (static_cast<int>(out.size()) < std::min<long long>(count, tokens)) out.insert(any(rng));
  return {out.begin(), out.end()};
}

}  // namespace ringsim::ring
