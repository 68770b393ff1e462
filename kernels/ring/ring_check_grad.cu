// RingExecutor::check_grad: a backward run's dQ and dK/dV (the program's
// output placements) against fp64 on sampled rows (ring_reference.hpp,
// ReferenceGrad's sampled form), and every gradient value finite.
//   dQ rows: fully independent (the row's O, LSE and D recomputed in fp64
//            from the hashed Q, K, V and dO);
//   dK/dV rows: exact fp64 sums over every query row, given each query row's
//            LSE and D from the run: the forward's LSE (checked against
//            fp64 by the forward's check) and D = dO . O from its saved O
//            (bf16), computed here in fp64; O(tokens^2) fp64 work per check
//            is what this avoids.
#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <thread>

#include "kernels/ring/ring_device.cuh"
#include "kernels/ring/ring_executor_impl.cuh"
#include "kernels/ring/ring_reference.hpp"

namespace ringsim::ring {

namespace {

using Role = ::ringsim::Tensor;

struct Where {
  long long device = -1;
  const Placement* p = nullptr;
  long long row = 0;
};

std::vector<int> sample_heads(int total, int count, std::mt19937_64& rng) {
  std::set<int> out{0, total - 1};
  std::uniform_int_distribution<int> any(0, total - 1);
  while (static_cast<int>(out.size()) < std::min(count, total)) out.insert(any(rng));
  return {out.begin(), out.end()};
}

struct Sums {
  double err2 = 0, ref2 = 0;
  void add(const std::vector<double>& got, const double* ref) {
    for (std::size_t i = 0; i < got.size(); ++i) err2 += (got[i] - ref[i]) * (got[i] - ref[i]), ref2 += ref[i] * ref[i];
  }
};

}  // namespace

GradCheck RingExecutor::check_grad(std::uint64_t seed, int tokens_sampled, int heads_sampled) const {
  const Impl& m = *impl_;
  const ExecPlan& plan = m.plan;
  if (plan.pass != Pass::kBackward || m.saved.o.empty())
    ring_fail("check_grad: a backward plan's run, after take_saved", __FILE__, __LINE__);
  const int dim = m.head_dim(), hq = static_cast<int>(plan.shape.q_heads), hk = static_cast<int>(plan.shape.kv_heads);
  const long long cached = plan.sequence.cached_tokens(), tokens = plan.sequence.tokens(), all = cached + tokens;
  GradCheck out;
  // The output row holding (token, head): dQ by q head, dK/dV by kv head.
  std::vector<Where> wq(static_cast<std::size_t>(all * hq)), wkv(static_cast<std::size_t>(all * hk));
  for (long long d = 0; d < plan.devices; ++d) {
    const Impl::Rank& r = m.ranks[static_cast<std::size_t>(d)];
    DeviceScope scope(r.gpu);
    cudaStream_t s = m.gpus[static_cast<std::size_t>(r.gpu)].compute;
    for (const Placement& p : plan.programs[static_cast<std::size_t>(d)].outputs) {
      const bool kv = p.tensor == Placement::kGradKeysValues;
      const Role role = kv ? Role::kGradKv : Role::kGradQ;
      const Slice rows{p.buffer, 0, p.rows, p.offset_bytes};
      const std::uint8_t* base = r.buf[static_cast<std::size_t>(p.buffer)] + plan.role_byte(rows, role, p.heads, 0);
      const int elem = plan.role_element_bytes(p.buffer, role);
      const long long n = p.rows * plan.role_row_bytes(p.buffer, role, p.heads) / elem;
      out.nonfinite += elem == 4 ? count_nonfinite(reinterpret_cast<const float*>(base), n, s)
                                 : count_nonfinite_bf16(reinterpret_cast<const std::uint16_t*>(base), n, s);
      for (long long i = 0; i < p.rows; ++i)
        for (int h = 0; h < p.heads; ++h) {
          const long long token = cached + plan.position(p, i);
          (kv ? wkv[static_cast<std::size_t>(token * hk + p.head_first + h)]
              : wq[static_cast<std::size_t>(token * hq + p.head_first + h)]) = {d, &p, i};
        }
    }
  }
  // One gradient row (head h of the placement's rows; dK/dV: dK then dV) as it stands on the GPU.
  const auto fetch = [&](const Where& w, int head, bool kv) {
    if (!w.p) ring_fail("check_grad: no output placement holds a sampled row", __FILE__, __LINE__);
    const Impl::Rank& r = m.ranks[static_cast<std::size_t>(w.device)];
    const Role role = kv ? Role::kGradKv : Role::kGradQ;
    const Slice rows{w.p->buffer, 0, w.p->rows, w.p->offset_bytes};
    const int elem = plan.role_element_bytes(w.p->buffer, role), h = head - w.p->head_first;
    std::vector<double> v;
    DeviceScope scope(r.gpu);
    for (int part = 0; part < (kv ? 2 : 1); ++part) {
      const std::uint8_t* at = r.buf[static_cast<std::size_t>(w.p->buffer)] + plan.role_byte(rows, role, w.p->heads, w.row) +
                               static_cast<std::int64_t>(part * w.p->heads + h) * dim * elem;
      std::vector<std::uint8_t> raw(static_cast<std::size_t>(dim * elem));
      RING_CUDA(cudaMemcpy(raw.data(), at, raw.size(), cudaMemcpyDeviceToHost));
      for (int i = 0; i < dim; ++i) {
        float f;
        if (elem == 4) std::memcpy(&f, &raw[static_cast<std::size_t>(i) * 4], 4);
        else f = __bfloat162float(__ushort_as_bfloat16(reinterpret_cast<const std::uint16_t*>(raw.data())[i]));
        v.push_back(f);
      }
    }
    return v;
  };
  std::mt19937_64 rng(seed ^ 0x96ADULL);
  const auto q_pos = sample_positions(tokens, plan.sequence.run_rows(), tokens_sampled, rng);
  const auto kv_pos = sample_positions(all, plan.sequence.run_rows(), tokens_sampled, rng);
  const auto kv_heads = sample_heads(hk, std::max(1, heads_sampled / 2), rng);
  const int group = hq / hk;
  std::vector<Sums> dq(kv_heads.size()), dkv(kv_heads.size());
  std::vector<std::vector<std::vector<double>>> got_q(kv_heads.size()), got_kv(kv_heads.size());
  for (std::size_t k = 0; k < kv_heads.size(); ++k) {
    for (long long pos : q_pos)
      for (int g = 0; g < group; g += std::max(1, group - 1))  // first and last head of the group
        got_q[k].push_back(fetch(wq[static_cast<std::size_t>((cached + pos) * hq + kv_heads[k] * group + g)], kv_heads[k] * group + g, false));
    for (long long t : kv_pos) got_kv[k].push_back(fetch(wkv[static_cast<std::size_t>(t * hk + kv_heads[k])], kv_heads[k], true));
  }
  const ReferenceInputs in{seed, all, hq, hk, dim, plan.causal, cached};
  std::vector<std::thread> workers;
  for (std::size_t k = 0; k < kv_heads.size(); ++k)
    workers.emplace_back([&, k] {
      const int kh = kv_heads[k];
      std::vector<double> lse, delta;  // [query][group head]: the run's LSE, D from its saved O
      for (long long pos = 0; pos < tokens; ++pos)
        for (int g = 0; g < group; ++g) {
          const int h = kh * group + g;
          const std::size_t at = static_cast<std::size_t>(pos * hq + h);
          lse.push_back(m.saved.lse[at]);
          double d = 0;
          for (int i = 0; i < dim; ++i)
            d += bf16_bits_to_double(m.saved.o[at * dim + i]) *
                 bf16_bits_to_double(random_bf16_bits(seed, Tensor::kDO, static_cast<std::uint64_t>(((cached + pos) * hq + h) * dim + i)));
          delta.push_back(d);
        }
      const ReferenceGrad ref(in, kh, std::move(lse), std::move(delta));
      std::vector<double> a(static_cast<std::size_t>(2 * dim));
      std::size_t n = 0;
      for (long long pos : q_pos)
        for (int g = 0; g < group; g += std::max(1, group - 1)) {
          ref.own_dq_row(cached + pos, kh * group + g, a.data());
          dq[k].add(got_q[k][n++], a.data());
        }
      for (std::size_t i = 0; i < kv_pos.size(); ++i) {
        ref.dkv_row(kv_pos[i], a.data(), a.data() + dim);
        dkv[k].add(got_kv[k][i], a.data());
      }
    });
  for (auto& w : workers) w.join();
  Sums q_all, kv_all;
  for (std::size_t k = 0; k < kv_heads.size(); ++k) {
    q_all.err2 += dq[k].err2, q_all.ref2 += dq[k].ref2;
    kv_all.err2 += dkv[k].err2, kv_all.ref2 += dkv[k].ref2;
  }
  out.dq_rel_error = std::sqrt(q_all.err2 / q_all.ref2);  // NaN rows give NaN, which fails the check
  out.dkv_rel_error = std::sqrt(kv_all.err2 / kv_all.ref2);
  out.dq_rows = static_cast<long long>(got_q.size() * q_pos.size() * (group > 1 ? 2 : 1));
  out.dkv_rows = static_cast<long long>(kv_heads.size() * kv_pos.size());
  return out;
}

}  // namespace ringsim::ring
