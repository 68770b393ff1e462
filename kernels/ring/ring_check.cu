// RingExecutor::check: the last run's outputs (the program's output
// placements) against an fp64 CPU reference (ring_reference.hpp) on sampled
// (position, head) rows, and every output value finite.
#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <thread>

#include "kernels/ring/ring_device.cuh"
#include "kernels/ring/ring_executor_impl.cuh"
#include "kernels/ring/ring_reference.hpp"

namespace ringsim::ring {

namespace {

// Where (position, head) of the output lies: device, placement, its row.
struct Where {
  long long device = -1;
  const Placement* p = nullptr;
  long long row = 0;
};

float bf16_to_float(std::uint16_t bits) { return __bfloat162float(__ushort_as_bfloat16(bits)); }

}  // namespace

RingCheck RingExecutor::check(std::uint64_t seed, int tokens_sampled, int heads_sampled) const {
  const Impl& m = *impl_;
  const ExecPlan& plan = m.plan;
  const int dim = m.head_dim(), q_heads = static_cast<int>(plan.shape.q_heads);
  const long long tokens = plan.sequence.tokens();
  RingCheck out;
  std::vector<std::vector<Where>> where(static_cast<std::size_t>(tokens), std::vector<Where>(static_cast<std::size_t>(q_heads)));
  for (long long d = 0; d < plan.devices; ++d) {
    const Impl::Rank& r = m.ranks[static_cast<std::size_t>(d)];
    DeviceScope scope(r.gpu);
    cudaStream_t s = m.gpus[static_cast<std::size_t>(r.gpu)].compute;
    for (const Placement& p : plan.programs[static_cast<std::size_t>(d)].outputs) {
      const ExecBuffer& b = plan.buffers[static_cast<std::size_t>(p.buffer)];
      const std::uint8_t* base = r.buf[static_cast<std::size_t>(p.buffer)] + static_cast<std::int64_t>(p.offset_bytes);
      const long long n = p.rows * p.heads * dim;
      if (b.format == BufferFormat::kAccumulator) {
        out.nonfinite += count_nonfinite(reinterpret_cast<const float*>(base), n, s);
        out.nonfinite += count_nonfinite(r.lse[static_cast<std::size_t>(p.buffer)], b.rows() * b.heads, s);
      } else {
        out.nonfinite += count_nonfinite_bf16(reinterpret_cast<const std::uint16_t*>(base), n, s);
      }
      for (long long i = 0; i < p.rows; ++i)
        for (int h = 0; h < p.heads; ++h)
          where[static_cast<std::size_t>(plan.position(p, i))][static_cast<std::size_t>(p.head_first + h)] = {d, &p, i};
    }
  }
  std::mt19937_64 rng(seed ^ 0x5EEDULL);
  const auto positions = sample_positions(tokens, plan.sequence.run_rows(), tokens_sampled, rng);
  std::set<int> head_set{0, q_heads - 1};
  std::uniform_int_distribution<int> any_head(0, q_heads - 1);
  while (static_cast<int>(head_set.size()) < std::min(heads_sampled, q_heads)) head_set.insert(any_head(rng));
  const std::vector<int> heads(head_set.begin(), head_set.end());
  // Each sampled row as it stands on the GPU: o and (accumulators) lse.
  std::vector<std::vector<std::vector<double>>> got(heads.size(), std::vector<std::vector<double>>(positions.size()));
  std::vector<std::vector<double>> got_lse(heads.size(), std::vector<double>(positions.size(), NAN));
  for (std::size_t hi = 0; hi < heads.size(); ++hi)
    for (std::size_t i = 0; i < positions.size(); ++i) {
      const Where& w = where[static_cast<std::size_t>(positions[i])][static_cast<std::size_t>(heads[hi])];
      if (!w.p) ring_fail("check: no output placement holds a sampled row", __FILE__, __LINE__);
      const Impl::Rank& r = m.ranks[static_cast<std::size_t>(w.device)];
      const ExecBuffer& b = plan.buffers[static_cast<std::size_t>(w.p->buffer)];
      const long long row = static_cast<long long>(w.p->offset_bytes) / b.row_bytes + w.row;
      const int h = heads[hi] - w.p->head_first;
      const std::uint8_t* at = r.buf[static_cast<std::size_t>(w.p->buffer)] + row * b.row_bytes;
      DeviceScope scope(r.gpu);
      auto& o = got[hi][i];
      o.resize(static_cast<std::size_t>(dim));
      if (b.format == BufferFormat::kAccumulator) {
        std::vector<float> v(static_cast<std::size_t>(dim));
        RING_CUDA(cudaMemcpy(v.data(), at + static_cast<std::int64_t>(h) * dim * 4, v.size() * 4, cudaMemcpyDeviceToHost));
        float lse = 0;
        RING_CUDA(cudaMemcpy(&lse, r.lse[static_cast<std::size_t>(w.p->buffer)] + static_cast<long long>(h) * b.rows() + row,
                             4, cudaMemcpyDeviceToHost));
        got_lse[hi][i] = lse;
        for (int k = 0; k < dim; ++k) o[static_cast<std::size_t>(k)] = v[static_cast<std::size_t>(k)];
      } else {
        std::vector<std::uint16_t> v(static_cast<std::size_t>(dim));
        RING_CUDA(cudaMemcpy(v.data(), at + static_cast<std::int64_t>(h) * dim * 2, v.size() * 2, cudaMemcpyDeviceToHost));
        for (int k = 0; k < dim; ++k) o[static_cast<std::size_t>(k)] = bf16_to_float(v[static_cast<std::size_t>(k)]);
      }
    }
  const long long cached = plan.sequence.cached_tokens();
  const ReferenceInputs in{seed, cached + tokens, q_heads, static_cast<int>(plan.shape.kv_heads), dim, plan.causal};
  std::vector<double> err2(heads.size()), ref2(heads.size()), lse_err(heads.size());
  std::vector<std::thread> workers;
  for (std::size_t hi = 0; hi < heads.size(); ++hi) {
    workers.emplace_back([&, hi] {
      const ReferenceKv kv(in, heads[hi] / (q_heads / static_cast<int>(plan.shape.kv_heads)));
      std::vector<double> o(static_cast<std::size_t>(dim));
      for (std::size_t i = 0; i < positions.size(); ++i) {
        double ref_lse = 0;
        kv.row(cached + positions[i], heads[hi], o.data(), &ref_lse);
        for (int k = 0; k < dim; ++k) {
          const double e = got[hi][i][static_cast<std::size_t>(k)] - o[static_cast<std::size_t>(k)];
          err2[hi] += e * e;
          ref2[hi] += o[static_cast<std::size_t>(k)] * o[static_cast<std::size_t>(k)];
        }
        if (!std::isnan(got_lse[hi][i])) lse_err[hi] = std::max(lse_err[hi], std::fabs(got_lse[hi][i] - ref_lse));
      }
    });
  }
  for (auto& w : workers) w.join();
  double e2 = 0, r2 = 0;
  for (std::size_t hi = 0; hi < heads.size(); ++hi) {
    e2 += err2[hi];
    r2 += ref2[hi];
    out.max_lse_error = std::max(out.max_lse_error, lse_err[hi]);
  }
  out.rel_error = std::sqrt(e2 / r2);  // NaN outputs give NaN, which fails the check
  out.rows = static_cast<long long>(positions.size() * heads.size());
  return out;
}

}  // namespace ringsim::ring
