// The real executor's backward blocks (sim/work.hpp): the fused chunk
// backward with the rows' final LSE and D, the D pass, and the gradient
// additions, copies and zeroing; plus what a backward's inputs need beyond
// the program (the forward's saved O and LSE, taken from a forward run:
// take_saved). What runs is described in ring_executor.hpp.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/attention/chunk_attention_backward.hpp"
#include "kernels/ring/ring_backward_ops.cuh"
#include "kernels/ring/ring_executor_impl.cuh"

namespace ringsim::ring {

namespace {

using Role = ::ringsim::Tensor;
bool kv_role(Role r) { return r == Role::kKv || r == Role::kGradKv; }

}  // namespace

std::uint8_t* RingExecutor::Impl::at_role(const Rank& r, const Slice& s, Role role, int heads) const {
  return r.buf[static_cast<std::size_t>(s.buffer)] + plan.role_byte(s, role, heads, 0);
}

// Whether a block's gradient lands where the kernel can write it (fp32 rows).
bool RingExecutor::Impl::fp32_rows(const Slice& s, Role role) const { return plan.role_element_bytes(s.buffer, role) == 4; }

std::int64_t RingExecutor::Impl::grad_scratch_elements(long long device) const {
  std::int64_t most = 0;
  for (const ExecCompute& c : plan.computes)
    if (c.device == device)
      for (const ExecBlock& eb : c.blocks) {
        const Block& b = eb.block;
        if (b.kind != BlockKind::kAttentionBackward) continue;
        const std::int64_t q = fp32_rows(b.grad_q, Role::kGradQ) ? 0 : b.q.count * b.heads;
        const std::int64_t kv = fp32_rows(b.grad_kv, Role::kGradKv) ? 0 : b.kv.count * 2 * b.kv_heads;
        most = std::max(most, (q + kv) * head_dim());
      }
  return most;
}

// One block's dQ, dK, dV. The kernel takes one `accumulate` flag for both
// outputs; a block that writes one and adds the other (dK/dV written into a
// fresh accumulator, dQ added at home) zeroes the written rows first and
// adds. Gradients landing in grad_dtype (bf16) rows go through an fp32
// scratch, then are converted (written) or added there.
void RingExecutor::Impl::backward_block(Rank& r, const Block& b, cudaStream_t s) {
  const int d = head_dim(), h = b.heads, hk = b.kv_heads;
  const long long nq = b.q.count, nk = b.kv.count;
  float* lse_t = r.scratch_lse;  // [h, nq]: the kernel reads heads apart, rows adjacent
  float* delta_t = r.scratch_o;
  row_stats_head_major(lse_t, reinterpret_cast<const float*>(at_role(r, b.lse, Role::kLse, h)), nq, h, s);
  row_stats_head_major(delta_t, reinterpret_cast<const float*>(at_role(r, b.delta, Role::kDelta, h)), nq, h, s);
  kernels::ChunkAttentionBackwardArgs a;
  a.dtype = kernels::Dtype::kBf16;
  a.mask = kernel_mask(b);
  a.head_dim = d;
  a.q_heads = h;
  a.kv_heads = hk;
  a.q_tokens = nq;
  a.kv_tokens = nk;
  a.q = at_role(r, b.q, Role::kQ, h);
  a.d_o = at_role(r, b.dout, Role::kDO, h);
  a.k = at_role(r, b.kv, Role::kKv, hk);
  a.v = reinterpret_cast<const std::uint16_t*>(a.k) + static_cast<long long>(hk) * d;
  a.kv_token_stride = 2LL * hk * d;  // K then V in each row
  a.lse = lse_t;
  a.delta = delta_t;
  a.lse_head_stride = nq;
  a.delta_head_stride = nq;
  const bool direct_q = fp32_rows(b.grad_q, Role::kGradQ), direct_kv = fp32_rows(b.grad_kv, Role::kGradKv);
  const std::int64_t q_elems = nq * h * d, kv_elems = nk * 2 * hk * d;
  a.d_q = direct_q ? reinterpret_cast<float*>(at_role(r, b.grad_q, Role::kGradQ, h)) : r.scratch_grad;
  a.d_k = direct_kv ? reinterpret_cast<float*>(at_role(r, b.grad_kv, Role::kGradKv, hk))
                    : r.scratch_grad + (direct_q ? 0 : q_elems);
  a.d_v = a.d_k + static_cast<long long>(hk) * d;
  a.dkv_token_stride = 2LL * hk * d;  // dK then dV in each row
  const bool add_q = direct_q && b.grad_q_mode == OutputMode::kAdd;
  const bool add_kv = direct_kv && b.grad_kv_mode == OutputMode::kAdd;
  a.accumulate = add_q || add_kv;
  if (add_q != add_kv) RING_CUDA(cudaMemsetAsync(add_q ? static_cast<void*>(a.d_k) : static_cast<void*>(a.d_q), 0,
                                                 static_cast<std::size_t>(add_q ? kv_elems : q_elems) * 4, s));
  RING_KERNEL(kernels::chunk_attention_backward(a, kernels::AttentionVariant::kFused, nullptr, 0, nullptr, s));
  if (!direct_q)
    grad_stream(at_role(r, b.grad_q, Role::kGradQ, h), plan.role_element_bytes(b.grad_q.buffer, Role::kGradQ), a.d_q, 4,
                q_elems, 1, b.grad_q_mode == OutputMode::kAdd, s);
  if (!direct_kv)
    grad_stream(at_role(r, b.grad_kv, Role::kGradKv, hk), plan.role_element_bytes(b.grad_kv.buffer, Role::kGradKv), a.d_k,
                4, kv_elems, 1, b.grad_kv_mode == OutputMode::kAdd, s);
}

void RingExecutor::Impl::delta_block(Rank& r, const Block& b, cudaStream_t s) {
  delta_rows(reinterpret_cast<float*>(at_role(r, b.delta, Role::kDelta, b.heads)),
             reinterpret_cast<const std::uint16_t*>(at_role(r, b.dout, Role::kDO, b.heads)),
             reinterpret_cast<const std::uint16_t*>(at_role(r, b.out, Role::kO, b.heads)), b.dout.count, b.heads,
             head_dim(), s);
}

// kGradAdd, kCopy, kZero: whole rows of one tensor, dense in their slices.
void RingExecutor::Impl::stream_block(Rank& r, const Block& b, cudaStream_t s) {
  const Role t = b.tensor;
  const int heads = kv_role(t) ? b.kv_heads : b.heads;
  const int out_bytes = plan.role_element_bytes(b.out.buffer, t);
  const long long n = b.out.count * plan.role_row_bytes(b.out.buffer, t, heads) / out_bytes;
  void* out = at_role(r, b.out, t, heads);
  if (b.kind == BlockKind::kZero) return grad_stream(out, out_bytes, nullptr, 4, n, 0, false, s);
  const void* in = at_role(r, b.q, t, heads);
  const int in_bytes = plan.role_element_bytes(b.q.buffer, t);
  if (b.kind == BlockKind::kCopy) return grad_stream(out, out_bytes, in, in_bytes, n, 1, false, s);
  grad_stream(out, out_bytes, in, in_bytes, n, b.merges, b.output == OutputMode::kAdd, s);
}

// ---- the forward's saved O and LSE ---------------------------------------------

void RingExecutor::Impl::fill_saved(Rank& r, long long d, cudaStream_t s) {
  const auto& inputs = plan.programs[static_cast<std::size_t>(d)].inputs;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Placement& p = inputs[i];
    if (p.tensor != Placement::kOutput && p.tensor != Placement::kLse) continue;
    if (!r.saved[i]) ring_fail("backward run: the forward's saved O and LSE were never taken (take_saved)", __FILE__, __LINE__);
    RING_CUDA(cudaMemcpyAsync(r.buf[static_cast<std::size_t>(p.buffer)] + static_cast<std::int64_t>(p.offset_bytes),
                              r.saved[i], static_cast<std::size_t>(saved_bytes(p)), cudaMemcpyDeviceToDevice, s));
  }
}

std::int64_t RingExecutor::Impl::saved_bytes(const Placement& p) const {
  return p.rows * p.heads * (p.tensor == Placement::kLse ? 4LL : 2LL * head_dim());
}

}  // namespace ringsim::ring

namespace ringsim::ring {

namespace {

std::uint16_t bf16_round(float f) {  // round to nearest even, as cast_to_bf16
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7F800000u) != 0x7F800000u) bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(bits >> 16);
}

template <typename T>
std::vector<T> download(const void* p, long long n) {
  std::vector<T> v(static_cast<std::size_t>(n));
  RING_CUDA(cudaMemcpy(v.data(), p, v.size() * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

}  // namespace

void RingExecutor::take_saved(const RingExecutor& forward) { impl_->take_saved(*forward.impl_); }

// Host round trip, outside any timed run: the forward's output placements
// gathered by position, then each backward rank's O and LSE input rows.
void RingExecutor::Impl::take_saved(const Impl& f) {
  const ExecPlan& fp = f.plan;
  saved = SavedRows{fp.sequence.tokens(), static_cast<int>(fp.shape.q_heads), head_dim(), {}, {}};
  SavedRows& s = saved;
  s.o.assign(static_cast<std::size_t>(s.tokens * s.heads * s.dim), 0);
  s.lse.assign(static_cast<std::size_t>(s.tokens * s.heads), std::numeric_limits<float>::quiet_NaN());
  for (long long d = 0; d < fp.devices; ++d) {
    const Rank& fr = f.ranks[static_cast<std::size_t>(d)];
    DeviceScope scope(fr.gpu);
    const BufferId acc = fp.programs[static_cast<std::size_t>(d)].accumulator;
    if (acc == kNoBuffer) ring_fail("take_saved: a forward rank has no accumulator", __FILE__, __LINE__);
    const ExecBuffer& ab = fp.buffers[static_cast<std::size_t>(acc)];
    const auto lse = download<float>(fr.lse[static_cast<std::size_t>(acc)], ab.rows() * ab.heads);
    for (const Placement& p : fp.programs[static_cast<std::size_t>(d)].outputs) {
      const ExecBuffer& b = fp.buffers[static_cast<std::size_t>(p.buffer)];
      if (b.heads != p.heads || b.heads != ab.heads || b.rows() != ab.rows())
        ring_fail("take_saved: an output placement that is not whole accumulator rows", __FILE__, __LINE__);
      const long long row0 = static_cast<long long>(p.offset_bytes) / b.row_bytes, n = p.rows * p.heads * s.dim;
      const std::uint8_t* base = fr.buf[static_cast<std::size_t>(p.buffer)] + static_cast<std::int64_t>(p.offset_bytes);
      std::vector<std::uint16_t> o;
      if (b.format == BufferFormat::kAccumulator) {
        for (float v : download<float>(base, n)) o.push_back(bf16_round(v));
      } else {
        o = download<std::uint16_t>(base, n);
      }
      for (long long i = 0; i < p.rows; ++i) {
        const long long pos = fp.position(p, i);
        for (int h = 0; h < p.heads; ++h) {
          const long long at = pos * s.heads + p.head_first + h;
          std::copy_n(&o[static_cast<std::size_t>((i * p.heads + h) * s.dim)], s.dim, &s.o[static_cast<std::size_t>(at * s.dim)]);
          s.lse[static_cast<std::size_t>(at)] = lse[static_cast<std::size_t>(h * ab.rows() + row0 + i)];
        }
      }
    }
  }
  for (long long d = 0; d < plan.devices; ++d) {
    Rank& r = ranks[static_cast<std::size_t>(d)];
    DeviceScope scope(r.gpu);
    const auto& inputs = plan.programs[static_cast<std::size_t>(d)].inputs;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const Placement& p = inputs[i];
      if (p.tensor != Placement::kOutput && p.tensor != Placement::kLse) continue;
      const bool is_lse = p.tensor == Placement::kLse;
      std::vector<std::uint8_t> rows(static_cast<std::size_t>(saved_bytes(p)));
      const std::size_t elem = is_lse ? 4 : 2, per = is_lse ? 1 : static_cast<std::size_t>(s.dim);
      for (long long k = 0; k < p.rows; ++k)
        for (int h = 0; h < p.heads; ++h) {
          const std::size_t from = static_cast<std::size_t>(plan.position(p, k) * s.heads + p.head_first + h) * per;
          const void* src = is_lse ? static_cast<const void*>(&s.lse[from]) : static_cast<const void*>(&s.o[from]);
          std::memcpy(&rows[(static_cast<std::size_t>(k * p.heads + h) * per) * elem], src, per * elem);
        }
      if (!r.saved[i]) RING_CUDA(cudaMalloc(&r.saved[i], rows.size()));
      RING_CUDA(cudaMemcpy(r.saved[i], rows.data(), rows.size(), cudaMemcpyHostToDevice));
    }
  }
}

}  // namespace ringsim::ring
