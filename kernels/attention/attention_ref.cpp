// fp64 CPU reference for chunk attention (see attention_ref.hpp). Forward: two
// passes per query row: max, then exp-sum and weighted V. Backward: per query
// row, P from the given LSE and dS = P (dP - D), scattered into dq, dk, dv.
// Exact enough to be the ground truth for bf16/fp16 kernels with fp32
// accumulation; the CPU tests check both against finite differences.
#include "kernels/attention/attention_ref.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ringsim::kernels {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

void one_row(const RefShape& s, const double* q_row, const double* k, const double* v,
             int kv_head, long long i, double scale, std::vector<double>& scores,
             double* o_row, double* lse_out) {
  const int d = s.head_dim;
  const long long kv_stride = static_cast<long long>(s.kv_heads) * d;
  double row_max = kNegInf;
  for (long long j = 0; j < s.kv_tokens; ++j) {
    scores[j] = kNegInf;
    if (!mask_visible(s.mask, i, j, s.q_tokens)) continue;
    const double* k_row = k + j * kv_stride + static_cast<long long>(kv_head) * d;
    double dot = 0.0;
    for (int c = 0; c < d; ++c) dot += q_row[c] * k_row[c];
    scores[j] = dot * scale;
    row_max = std::max(row_max, scores[j]);
  }
  for (int c = 0; c < d; ++c) o_row[c] = 0.0;
  if (row_max == kNegInf) {  // sees no key
    *lse_out = kNegInf;
    return;
  }
  double sum = 0.0;
  for (long long j = 0; j < s.kv_tokens; ++j) {
    if (scores[j] == kNegInf) continue;
    const double p = std::exp(scores[j] - row_max);
    sum += p;
    const double* v_row = v + j * kv_stride + static_cast<long long>(kv_head) * d;
    for (int c = 0; c < d; ++c) o_row[c] += p * v_row[c];
  }
  for (int c = 0; c < d; ++c) o_row[c] /= sum;
  *lse_out = row_max + std::log(sum);
}

}  // namespace

void attention_forward_cpu(const RefShape& s, const double* q, const double* k,
                           const double* v, double* o, double* lse, double scale) {
  if (scale <= 0.0) scale = 1.0 / std::sqrt(static_cast<double>(s.head_dim));
  const int group = s.q_heads / s.kv_heads;
  const long long q_stride = static_cast<long long>(s.q_heads) * s.head_dim;
  std::vector<double> scores(static_cast<size_t>(s.kv_tokens));
  for (long long i = 0; i < s.q_tokens; ++i) {
    for (int h = 0; h < s.q_heads; ++h) {
      const long long off = i * q_stride + static_cast<long long>(h) * s.head_dim;
      one_row(s, q + off, k, v, h / group, i, scale, scores, o + off,
              lse + static_cast<long long>(h) * s.q_tokens + i);
    }
  }
}

namespace {

double dot(const double* a, const double* b, int n) {
  double s = 0.0;
  for (int c = 0; c < n; ++c) s += a[c] * b[c];
  return s;
}

}  // namespace

void attention_backward_cpu(const RefShape& s, const double* q, const double* k, const double* v,
                            const double* o, const double* d_o, const double* lse, double* dq,
                            double* dk, double* dv, double scale) {
  if (scale <= 0.0) scale = 1.0 / std::sqrt(static_cast<double>(s.head_dim));
  const int d = s.head_dim, group = s.q_heads / s.kv_heads;
  const long long q_stride = static_cast<long long>(s.q_heads) * d;
  const long long kv_stride = static_cast<long long>(s.kv_heads) * d;
  std::fill(dq, dq + s.q_tokens * q_stride, 0.0);
  std::fill(dk, dk + s.kv_tokens * kv_stride, 0.0);
  std::fill(dv, dv + s.kv_tokens * kv_stride, 0.0);
  for (long long i = 0; i < s.q_tokens; ++i) {
    for (int h = 0; h < s.q_heads; ++h) {
      const long long off = i * q_stride + static_cast<long long>(h) * d;
      const double row_lse = lse[static_cast<long long>(h) * s.q_tokens + i];
      if (row_lse == kNegInf) continue;  // saw no key: P = 0
      const double delta = dot(d_o + off, o + off, d);
      for (long long j = 0; j < s.kv_tokens; ++j) {
        if (!mask_visible(s.mask, i, j, s.q_tokens)) continue;
        const long long kv_off = j * kv_stride + static_cast<long long>(h / group) * d;
        const double p = std::exp(scale * dot(q + off, k + kv_off, d) - row_lse);
        const double ds = p * (dot(d_o + off, v + kv_off, d) - delta);
        for (int c = 0; c < d; ++c) {
          dq[off + c] += scale * ds * k[kv_off + c];
          dk[kv_off + c] += scale * ds * q[off + c];
          dv[kv_off + c] += p * d_o[off + c];
        }
      }
    }
  }
}

void attention_merge_cpu(long long tokens, int heads, int head_dim, double* acc_o,
                         double* acc_lse, long long acc_lse_head_stride, const double* o,
                         const double* lse, long long lse_head_stride) {
  for (int h = 0; h < heads; ++h) {
    for (long long t = 0; t < tokens; ++t) {
      double& a = acc_lse[h * acc_lse_head_stride + t];
      const double b = lse[h * lse_head_stride + t];
      const double m = std::max(a, b);
      if (m == kNegInf) continue;  // neither side saw a key: accumulator unchanged
      const double wa = std::exp(a - m), wb = std::exp(b - m);  // exp(-inf) = 0
      const double sum = wa + wb;
      double* acc_row = acc_o + (t * heads + h) * static_cast<long long>(head_dim);
      const double* row = o + (t * heads + h) * static_cast<long long>(head_dim);
      for (int c = 0; c < head_dim; ++c) acc_row[c] = (wa * acc_row[c] + wb * row[c]) / sum;
      a = m + std::log(sum);
    }
  }
}

}  // namespace ringsim::kernels
