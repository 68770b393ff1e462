// RingExecutor::check: the last run's output against an fp64 CPU reference
// (ring_reference.hpp) on sampled rows, and every output element finite.
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <thread>

#include "kernels/ring/ring_executor_impl.cuh"
#include "kernels/ring/ring_reference.hpp"

namespace ringsim::ring {

// ---- check -----------------------------------------------------------------

namespace {

// Tokens to check: both ends, every chunk boundary, and random ones.
std::vector<long long> sample_tokens(long long tokens, long long part, int count, std::mt19937_64& rng) {
  std::set<long long> out{0, tokens - 1};
  for (long long b = part; b < tokens && static_cast<int>(out.size()) < count; b += part) {
    out.insert(b - 1);
    out.insert(b);
  }
  std::uniform_int_distribution<long long> any(0, tokens - 1);
  while (static_cast<int>(out.size()) < count) out.insert(any(rng));
  return {out.begin(), out.end()};
}

}  // namespace

RingCheck RingExecutor::check(std::uint64_t seed, int tokens_sampled, int heads_sampled) const {
  const Impl& m = *impl_;
  const RingConfig& cfg = m.cfg;
  const int p = cfg.ring_size;
  const long long total = cfg.chunk_tokens * p;
  const long long q_row = static_cast<long long>(cfg.q_heads) * cfg.head_dim;
  RingCheck out;
  // Whole output: every element written and finite.
  std::vector<std::vector<float>> lse(p);
  for (int d = 0; d < p; ++d) {
    const auto& r = m.ranks[d];
    DeviceScope scope(m.gpus[r.gpu].device);
    out.nonfinite += count_nonfinite(r.acc_o, m.q_elems(), m.gpus[r.gpu].compute);
    out.nonfinite += count_nonfinite(r.acc_lse, m.lse_elems(), m.gpus[r.gpu].compute);
    lse[d].resize(m.lse_elems());
    RING_CUDA(cudaMemcpy(lse[d].data(), r.acc_lse, lse[d].size() * 4, cudaMemcpyDeviceToHost));
  }
  std::mt19937_64 rng(seed ^ 0x5EEDULL);
  const long long part = cfg.layout == RingLayout::kZigzag ? cfg.chunk_tokens / 2 : cfg.chunk_tokens;
  const auto tokens = sample_tokens(total, part, tokens_sampled, rng);
  std::set<int> heads{0, cfg.q_heads - 1};
  std::uniform_int_distribution<int> any_head(0, cfg.q_heads - 1);
  while (static_cast<int>(heads.size()) < std::min(heads_sampled, cfg.q_heads)) heads.insert(any_head(rng));
  // Owner (rank, row) of each sampled token; its O row, all heads.
  std::vector<std::vector<float>> o_rows(tokens.size(), std::vector<float>(q_row));
  std::vector<std::pair<int, long long>> owner(tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const long long t = tokens[i];
    int rank;
    long long row;
    if (cfg.layout != RingLayout::kZigzag) {
      rank = static_cast<int>(t / cfg.chunk_tokens);
      row = t % cfg.chunk_tokens;
    } else {
      const long long c = cfg.chunk_tokens / 2, k = t / c;
      rank = static_cast<int>(k < p ? k : 2LL * p - 1 - k);
      row = (k < p ? 0 : c) + t % c;
    }
    owner[i] = {rank, row};
    DeviceScope scope(m.gpus[m.ranks[rank].gpu].device);
    RING_CUDA(cudaMemcpy(o_rows[i].data(), m.ranks[rank].acc_o + row * q_row, q_row * 4,
                         cudaMemcpyDeviceToHost));
  }
  const ReferenceInputs in{seed, total, cfg.q_heads, cfg.kv_heads, cfg.head_dim,
                           cfg.layout != RingLayout::kNonCausal};
  const std::vector<int> head_list(heads.begin(), heads.end());
  std::vector<double> err2(head_list.size()), ref2(head_list.size()), lse_err(head_list.size());
  std::vector<std::thread> workers;
  for (std::size_t hi = 0; hi < head_list.size(); ++hi) {
    workers.emplace_back([&, hi] {
      const int h = head_list[hi];
      const ReferenceKv kv(in, h / (cfg.q_heads / cfg.kv_heads));
      std::vector<double> o(cfg.head_dim);
      for (std::size_t i = 0; i < tokens.size(); ++i) {
        double ref_lse = 0;
        kv.row(tokens[i], h, o.data(), &ref_lse);
        for (int j = 0; j < cfg.head_dim; ++j) {
          const double got = o_rows[i][h * cfg.head_dim + j];
          err2[hi] += (got - o[j]) * (got - o[j]);
          ref2[hi] += o[j] * o[j];
        }
        const auto [rank, row] = owner[i];
        const double got_lse = lse[rank][h * cfg.chunk_tokens + row];
        lse_err[hi] = std::max(lse_err[hi], std::fabs(got_lse - ref_lse));
      }
    });
  }
  for (auto& w : workers) w.join();
  double e2 = 0, r2 = 0;
  for (std::size_t hi = 0; hi < head_list.size(); ++hi) {
    e2 += err2[hi];
    r2 += ref2[hi];
    out.max_lse_error = std::max(out.max_lse_error, lse_err[hi]);
  }
  out.rel_error = std::sqrt(e2 / r2);
  out.rows = static_cast<long long>(tokens.size() * head_list.size());
  return out;
}

}  // namespace ringsim::ring
