// GPU tests of the attention backward (suite 'gpu', needs a CUDA device): the
// fused tilings and the cuBLAS path against the fp64 reference on fresh random
// inputs, outputs poisoned with NaN (or filled with random values to add to,
// when accumulating), every CUDA call checked; a GPU ring backward on
// sub-views equal to the backward of the whole sequence; bad arguments.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include "kernels/attention/chunk_attention_backward_internal.hpp"
#include "kernels/common/host_tensor.hpp"
#include "tests/kernels/gpu_fixtures.hpp"
#include "tests/kernels/ring_cpu.hpp"

using namespace ringsim::kernels;
using namespace ringsim::kernels::test;

namespace {

// One block on the host: exact inputs, the fp64 forward (O, LSE) and backward.
struct HostBlock {
  Case c;
  std::vector<double> q, k, v, d_o, o, lse, dq, dk, dv;
};

HostBlock make_block(const Case& c, std::mt19937_64& rng) {
  HostBlock b{c, {}, {}, {}, {}, {}, {}, {}, {}, {}};
  const RefShape shape{c.q_heads, c.kv_heads, c.head_dim, c.q, c.kv, c.mask};
  b.q = random_exact(c.q * c.q_heads * c.head_dim, c.dtype, rng);
  b.k = random_exact(c.kv * c.kv_heads * c.head_dim, c.dtype, rng);
  b.v = random_exact(b.k.size(), c.dtype, rng);
  b.d_o = random_exact(b.q.size(), c.dtype, rng);
  b.o.resize(b.q.size()), b.lse.resize(c.q * c.q_heads);
  attention_forward_cpu(shape, b.q.data(), b.k.data(), b.v.data(), b.o.data(), b.lse.data(), c.softmax_scale);
  b.dq.resize(b.q.size()), b.dk.resize(b.k.size()), b.dv.resize(b.v.size());
  attention_backward_cpu(shape, b.q.data(), b.k.data(), b.v.data(), b.o.data(), b.d_o.data(), b.lse.data(),
                         b.dq.data(), b.dk.data(), b.dv.data(), c.softmax_scale);
  return b;
}

// ||out - init - ref|| / ||ref|| (init empty: 0); `finite` cleared on NaN/inf.
double rel_error(const std::vector<float>& out, const std::vector<float>& init, const std::vector<double>& ref,
                 bool& finite) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    finite &= std::isfinite(out[i]);
    const double e = out[i] - (init.empty() ? 0.0 : init[i]) - ref[i];
    diff += e * e;
    norm += ref[i] * ref[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

struct Variant {
  const char* name;
  AttentionVariant kind;
  BwdTile tile;
};
// The bulk-reduction tiles need an sm_90a build on an sm_90 GPU (else the
// last test checks that they are refused).
const Variant kVariants[] = {{"fused_m64n128", AttentionVariant::kFused, BwdTile::kM64N128},
                             {"fused_m64n128_split", AttentionVariant::kFused, BwdTile::kM64N128Split},
                             {"fused_m64n128_bulk", AttentionVariant::kFused, BwdTile::kM64N128Bulk},
                             {"fused_m64n128_bulk_split", AttentionVariant::kFused, BwdTile::kM64N128BulkSplit},
                             {"fused_m64n128_head_major", AttentionVariant::kFused, BwdTile::kM64N128HeadMajor},
                             {"fused_m64n64", AttentionVariant::kFused, BwdTile::kM64N64},
                             {"cublas", AttentionVariant::kCublas, BwdTile::kAuto}};

bool is_bulk(const Variant& v) { return v.tile == BwdTile::kM64N128Bulk || v.tile == BwdTile::kM64N128BulkSplit; }
bool runs_here(const Variant& v) { return !is_bulk(v) || bwd_bulk_available(); }

struct GradErrors {
  double dq = 0, dk = 0, dv = 0;
  bool finite = true;
};

std::vector<float> random_floats(std::size_t n, std::mt19937_64& rng) {
  std::normal_distribution<float> dist;
  std::vector<float> out(n);
  for (auto& x : out) x = dist(rng);
  return out;
}

// Runs the block's backward on the GPU; accumulating adds to random values.
GradErrors run_on_gpu(const HostBlock& b, const Variant& var, bool accumulate, bool give_delta,
                      cublasHandle_t cublas, std::mt19937_64& rng) {
  const Case& c = b.c;
  DeviceArray<uint16_t> q(b.q.size()), k(b.k.size()), v(b.v.size()), d_o(b.d_o.size());
  q.upload(to_bits(b.q, c.dtype)), k.upload(to_bits(b.k, c.dtype)), v.upload(to_bits(b.v, c.dtype));
  d_o.upload(to_bits(b.d_o, c.dtype));
  DeviceArray<float> o(b.o.size()), lse(b.lse.size()), delta(b.lse.size());
  o.upload(to_float(b.o)), lse.upload(to_float(b.lse));
  DeviceArray<float> dq(b.dq.size()), dk(b.dk.size()), dv(b.dv.size());
  std::vector<float> init_dq, init_dk, init_dv;
  if (accumulate) {
    init_dq = random_floats(dq.n, rng), init_dk = random_floats(dk.n, rng), init_dv = random_floats(dv.n, rng);
    dq.upload(init_dq), dk.upload(init_dk), dv.upload(init_dv);
  } else {
    dq.poison(), dk.poison(), dv.poison();
  }
  ChunkAttentionBackwardArgs a;
  a.dtype = c.dtype, a.mask = c.mask, a.head_dim = c.head_dim, a.q_heads = c.q_heads, a.kv_heads = c.kv_heads;
  a.q_tokens = c.q, a.kv_tokens = c.kv, a.q = q.ptr, a.k = k.ptr, a.v = v.ptr, a.o = o.ptr, a.d_o = d_o.ptr;
  a.lse = lse.ptr, a.d_q = dq.ptr, a.d_k = dk.ptr, a.d_v = dv.ptr, a.accumulate = accumulate;
  a.softmax_scale = c.softmax_scale;
  if (give_delta) {
    delta.poison();
    REQUIRE_OK(chunk_attention_backward_delta(a, delta.ptr, nullptr));
    a.delta = delta.ptr, a.o = nullptr;
  }
  DeviceArray<unsigned char> ws(chunk_attention_backward_workspace_bytes(a, var.kind));
  REQUIRE_OK(run_attention_backward(a, var.kind, var.tile, ws.ptr, ws.n, cublas, nullptr));
  REQUIRE_CUDA(cudaDeviceSynchronize());
  GradErrors e;
  e.dq = rel_error(dq.download(), init_dq, b.dq, e.finite);
  e.dk = rel_error(dk.download(), init_dk, b.dk, e.finite);
  e.dv = rel_error(dv.download(), init_dv, b.dv, e.finite);
  return e;
}

}  // namespace

TEST_CASE("kernels::chunk_attention_backward: every variant matches the fp64 reference on every mask, dtype, head_dim, GQA ratio and accumulate mode") {
  CublasHandle cublas;
  std::mt19937_64 rng(31);
  const std::pair<long long, long long> full_sizes[] = {{128, 128}, {200, 333}, {1, 77}, {77, 1}, {513, 64}};
  const long long diag_sizes[] = {2, 128, 300};
  double worst[2] = {0, 0};  // per dtype, over dq, dk, dv
  int seed = 0;
  for (Dtype dt : {Dtype::kBf16, Dtype::kFp16})
    for (int d : {64, 128})
      for (int group : {1, 4}) {
        std::vector<Case> cases;
        for (auto [q, kv] : full_sizes) cases.push_back({dt, d, 4, 4 / group, q, kv, Mask::kFull});
        for (long long n : diag_sizes) {
          cases.push_back({dt, d, 4, 4 / group, n, n, Mask::kCausal});
          cases.push_back({dt, d, 4, 4 / group, n, n, Mask::kZigzag});  // all even
        }
        // Scores 11x wider than with 1/sqrt(128): P spans many orders of magnitude.
        cases.push_back({dt, d, 4, 4 / group, 160, 160, Mask::kCausal, 1.f});
        for (const Case& c : cases) {
          const HostBlock b = make_block(c, rng);
          for (const Variant& var : kVariants)
            for (bool acc : {false, true}) {
              if (!runs_here(var)) continue;
              ++seed;
              const bool give_delta = var.kind == AttentionVariant::kFused && seed % 3 == 0;
              CAPTURE(seed);
              const std::string variant = var.name;  // a string: doctest prints a char* as a pointer
              CAPTURE(variant);
              CAPTURE(std::string(dtype_name(dt)));
              CAPTURE(d);
              CAPTURE(group);
              CAPTURE(c.q);
              CAPTURE(c.kv);
              CAPTURE(std::string(mask_name(c.mask)));
              CAPTURE(c.softmax_scale);
              CAPTURE(acc);
              CAPTURE(give_delta);
              const GradErrors e = run_on_gpu(b, var, acc, give_delta, cublas.h, rng);
              CAPTURE(e.dq);
              CAPTURE(e.dk);
              CAPTURE(e.dv);
              CHECK(e.finite);
              CHECK(e.dq < tolerance(dt));
              CHECK(e.dk < tolerance(dt));
              CHECK(e.dv < tolerance(dt));
              worst[dt == Dtype::kFp16] = std::max({worst[dt == Dtype::kFp16], e.dq, e.dk, e.dv});
            }
        }
      }
  std::printf("backward worst relative error vs fp64 (dq, dk, dv; all variants): bf16 %.2e, fp16 %.2e\n",
              worst[0], worst[1]);
}

TEST_CASE("kernels::chunk_attention_backward: sanitizer subset (every variant and mask, tails, GQA, small)") {
  // Small enough for compute-sanitizer memcheck and racecheck (kernels/run_device_bwd.sh).
  CublasHandle cublas;
  std::mt19937_64 rng(47);
  int seed = 0;
  for (const Case& base : {Case{Dtype::kBf16, 128, 4, 1, 77, 200, Mask::kFull},
                           Case{Dtype::kFp16, 64, 4, 4, 77, 200, Mask::kFull}})
    for (Mask mask : {Mask::kFull, Mask::kCausal, Mask::kZigzag}) {
      Case c = base;
      if (mask != Mask::kFull) c.mask = mask, c.q = c.kv = 130;
      const HostBlock b = make_block(c, rng);
      for (const Variant& var : kVariants) {
        if (!runs_here(var)) continue;
        ++seed;
        CAPTURE(seed);
        const std::string variant = var.name;
        CAPTURE(variant);
        CAPTURE(std::string(mask_name(mask)));
        const GradErrors e = run_on_gpu(b, var, seed % 2 == 0, var.kind == AttentionVariant::kFused && seed % 4 == 1,
                                        cublas.h, rng);
        CHECK(e.finite);
        CHECK(std::max({e.dq, e.dk, e.dv}) < tolerance(c.dtype));
      }
    }
}

namespace {

// Rows of `width` values copied into rows of `stride`, the rest `fill`.
template <typename T>
std::vector<T> pad_rows(const std::vector<T>& x, long long rows, long long width, long long stride, T fill) {
  std::vector<T> out(rows * stride, fill);
  for (long long r = 0; r < rows; ++r) std::copy_n(x.begin() + r * width, width, out.begin() + r * stride);
  return out;
}

// The rows back; `padding_kept` cleared when a padding value is not `fill`.
std::vector<float> unpad_rows(const std::vector<float>& x, long long rows, long long width, long long stride,
                              float fill, bool& padding_kept) {
  std::vector<float> out(rows * width);
  for (long long r = 0; r < rows; ++r)
    for (long long c = 0; c < stride; ++c) {
      if (c < width) out[r * width + c] = x[r * stride + c];
      else padding_kept &= x[r * stride + c] == fill;
    }
  return out;
}

}  // namespace

TEST_CASE("kernels::chunk_attention_backward: padded token and head strides (sub-views), padding untouched") {
  // Inputs padded with NaN (read by mistake: NaN outputs), outputs with 7
  // (written by mistake: changed padding). dQ's stride steers the atomic and
  // the bulk-reduction addresses alike.
  std::mt19937_64 rng(59);
  const std::uint16_t kNanBits = 0x7fff;  // NaN in bf16 and fp16
  const float kFill = 7.f;
  int seed = 0;
  for (const Case& c : {Case{Dtype::kBf16, 128, 4, 2, 77, 200, Mask::kFull},
                        Case{Dtype::kBf16, 128, 4, 2, 130, 130, Mask::kCausal},
                        Case{Dtype::kFp16, 64, 4, 4, 200, 200, Mask::kZigzag}}) {
    const HostBlock b = make_block(c, rng);
    const long long qw = c.q_heads * c.head_dim, kw = c.kv_heads * c.head_dim;
    const long long q_stride = qw + 8, kv_stride = kw + 16, do_stride = qw + 24, o_stride = qw + 4;
    const long long dq_stride = qw + 12, dkv_stride = kw + 4, lse_stride = c.q + 3, delta_stride = c.q + 5;
    DeviceArray<uint16_t> q(c.q * q_stride), k(c.kv * kv_stride), v(c.kv * kv_stride), d_o(c.q * do_stride);
    q.upload(pad_rows(to_bits(b.q, c.dtype), c.q, qw, q_stride, kNanBits));
    k.upload(pad_rows(to_bits(b.k, c.dtype), c.kv, kw, kv_stride, kNanBits));
    v.upload(pad_rows(to_bits(b.v, c.dtype), c.kv, kw, kv_stride, kNanBits));
    d_o.upload(pad_rows(to_bits(b.d_o, c.dtype), c.q, qw, do_stride, kNanBits));
    DeviceArray<float> o(c.q * o_stride), lse(c.q_heads * lse_stride), delta(c.q_heads * delta_stride);
    o.upload(pad_rows(to_float(b.o), c.q, qw, o_stride, std::nanf("")));
    lse.upload(pad_rows(to_float(b.lse), c.q_heads, c.q, lse_stride, std::nanf("")));
    DeviceArray<float> dq(c.q * dq_stride), dk(c.kv * dkv_stride), dv(c.kv * dkv_stride);
    for (const Variant& var : kVariants) {
      if (var.kind != AttentionVariant::kFused || !runs_here(var)) continue;
      const bool give_delta = ++seed % 2 == 0;
      const std::string variant = var.name;
      CAPTURE(variant);
      CAPTURE(std::string(mask_name(c.mask)));
      CAPTURE(give_delta);
      const std::vector<float> nan_q(c.q * qw, std::nanf("")), nan_kv(c.kv * kw, std::nanf(""));
      dq.upload(pad_rows(nan_q, c.q, qw, dq_stride, kFill));
      dk.upload(pad_rows(nan_kv, c.kv, kw, dkv_stride, kFill));
      dv.upload(pad_rows(nan_kv, c.kv, kw, dkv_stride, kFill));
      ChunkAttentionBackwardArgs a;
      a.dtype = c.dtype, a.mask = c.mask, a.head_dim = c.head_dim, a.q_heads = c.q_heads, a.kv_heads = c.kv_heads;
      a.q_tokens = c.q, a.kv_tokens = c.kv, a.q = q.ptr, a.k = k.ptr, a.v = v.ptr, a.o = o.ptr, a.d_o = d_o.ptr;
      a.lse = lse.ptr, a.d_q = dq.ptr, a.d_k = dk.ptr, a.d_v = dv.ptr;
      a.q_token_stride = q_stride, a.kv_token_stride = kv_stride, a.do_token_stride = do_stride;
      a.o_token_stride = o_stride, a.dq_token_stride = dq_stride, a.dkv_token_stride = dkv_stride;
      a.lse_head_stride = lse_stride;
      if (give_delta) {
        a.delta_head_stride = delta_stride;
        REQUIRE_OK(chunk_attention_backward_delta(a, delta.ptr, nullptr));
        a.delta = delta.ptr, a.o = nullptr;
      }
      DeviceArray<unsigned char> ws(chunk_attention_backward_workspace_bytes(a, var.kind));
      REQUIRE_OK(run_attention_backward(a, var.kind, var.tile, ws.ptr, ws.n, nullptr, nullptr));
      REQUIRE_CUDA(cudaDeviceSynchronize());
      bool finite = true, padding_kept = true;
      const double e_dq = rel_error(unpad_rows(dq.download(), c.q, qw, dq_stride, kFill, padding_kept), {}, b.dq, finite);
      const double e_dk = rel_error(unpad_rows(dk.download(), c.kv, kw, dkv_stride, kFill, padding_kept), {}, b.dk, finite);
      const double e_dv = rel_error(unpad_rows(dv.download(), c.kv, kw, dkv_stride, kFill, padding_kept), {}, b.dv, finite);
      CAPTURE(e_dq);
      CAPTURE(e_dk);
      CAPTURE(e_dv);
      CHECK(finite);
      CHECK(padding_kept);
      CHECK(std::max({e_dq, e_dk, e_dv}) < tolerance(c.dtype));
    }
  }
}

namespace {

struct RingSetup {
  Layout layout;
  bool causal;
  AttentionVariant variant;
  Dtype dtype;
  int head_dim;
  bool give_delta;  // D computed once per rank (chunk_attention_backward_delta), as a ring would
};

// Per-rank device tensors of a ring: the rank's rows of Q, dO, O (final), LSE
// (final, [heads, rows]), D, dQ; its K, V and the dK, dV that collect its keys.
struct RankBuffers {
  DeviceArray<uint16_t> q, d_o, k, v;
  DeviceArray<float> o, lse, delta, dq, dk, dv;
  RankBuffers(long long rows, long long qw, long long kw, int heads)
      : q(rows * qw), d_o(rows * qw), k(rows * kw), v(rows * kw), o(rows * qw), lse(rows * heads),
        delta(rows * heads), dq(rows * qw), dk(rows * kw), dv(rows * kw) {}
};

}  // namespace

TEST_CASE("kernels::chunk_attention_backward: a GPU ring of block backwards on sub-views equals the full backward") {
  CublasHandle cublas;
  const RingSetup setups[] = {
      {Layout::kContiguous, true, AttentionVariant::kFused, Dtype::kBf16, 128, false},
      {Layout::kZigzag, true, AttentionVariant::kFused, Dtype::kBf16, 128, true},
      {Layout::kZigzag, true, AttentionVariant::kCublas, Dtype::kBf16, 128, false},
      {Layout::kContiguous, true, AttentionVariant::kCublas, Dtype::kFp16, 64, true},
      {Layout::kZigzag, true, AttentionVariant::kFused, Dtype::kFp16, 64, false},
      {Layout::kContiguous, false, AttentionVariant::kFused, Dtype::kBf16, 64, true}};
  for (int seed = 0; seed < 6; ++seed) {
    const RingSetup& rs = setups[seed];
    CAPTURE(seed);
    std::mt19937_64 rng(700 + seed);
    const int ranks = 3;
    const long long c = 96;  // 2c = 192: not a multiple of the 64-row or 128-key tiles
    Sequence seq{4, 2, rs.head_dim, (rs.layout == Layout::kZigzag ? 2 : 1) * ranks * c, {}, {}, {}};
    const long long qw = seq.q_heads * seq.head_dim, kw = seq.kv_heads * seq.head_dim;
    seq.q = random_exact(seq.tokens * qw, rs.dtype, rng);
    seq.k = random_exact(seq.tokens * kw, rs.dtype, rng);
    seq.v = random_exact(seq.tokens * kw, rs.dtype, rng);
    const auto d_o = random_exact(seq.tokens * qw, rs.dtype, rng);
    const RefShape full{seq.q_heads, seq.kv_heads, seq.head_dim, seq.tokens, seq.tokens,
                        rs.causal ? Mask::kCausal : Mask::kFull};
    std::vector<double> o(seq.q.size()), lse(seq.q_heads * seq.tokens);
    attention_forward_cpu(full, seq.q.data(), seq.k.data(), seq.v.data(), o.data(), lse.data());
    std::vector<double> want_dq(seq.q.size()), want_dk(seq.k.size()), want_dv(seq.v.size());
    attention_backward_cpu(full, seq.q.data(), seq.k.data(), seq.v.data(), o.data(), d_o.data(), lse.data(),
                           want_dq.data(), want_dk.data(), want_dv.data());
    std::vector<std::unique_ptr<RankBuffers>> rank;
    const long long rows = static_cast<long long>(rank_tokens(rs.layout, 0, ranks, c).size());
    for (int r = 0; r < ranks; ++r) {
      const auto mine = rank_tokens(rs.layout, r, ranks, c);
      auto& b = *rank.emplace_back(std::make_unique<RankBuffers>(rows, qw, kw, seq.q_heads));
      b.q.upload(to_bits(gather(seq.q, mine, qw), rs.dtype)), b.d_o.upload(to_bits(gather(d_o, mine, qw), rs.dtype));
      b.k.upload(to_bits(gather(seq.k, mine, kw), rs.dtype)), b.v.upload(to_bits(gather(seq.v, mine, kw), rs.dtype));
      b.o.upload(to_float(gather(o, mine, qw)));
      std::vector<float> rank_lse(rows * seq.q_heads);
      for (int h = 0; h < seq.q_heads; ++h)
        for (long long i = 0; i < rows; ++i) rank_lse[h * rows + i] = float(lse[h * seq.tokens + mine[i]]);
      b.lse.upload(rank_lse);
      b.dq.poison(), b.dk.poison(), b.dv.poison(), b.delta.poison();
    }
    // Step 0 is each rank's own (diagonal) block and overwrites; later steps
    // add, as the dK/dV accumulators travel with K/V around the ring.
    for (int step = 0; step < ranks; ++step)
      for (int r = 0; r < ranks; ++r) {
        const int s = (r - step + ranks) % ranks;
        const BlockPlan p = plan_block(rs.layout, rs.causal, r, s, c);
        if (p.skip) continue;
        RankBuffers &mine = *rank[r], &theirs = *rank[s];
        ChunkAttentionBackwardArgs a;
        a.dtype = rs.dtype, a.mask = p.mask, a.head_dim = seq.head_dim, a.q_heads = seq.q_heads;
        a.kv_heads = seq.kv_heads, a.q_tokens = p.q_count, a.kv_tokens = p.kv_count;
        a.q = mine.q.ptr + p.q_begin * qw, a.d_o = mine.d_o.ptr + p.q_begin * qw, a.o = mine.o.ptr + p.q_begin * qw;
        a.lse = mine.lse.ptr + p.q_begin, a.lse_head_stride = rows, a.d_q = mine.dq.ptr + p.q_begin * qw;
        a.k = theirs.k.ptr + p.kv_begin * kw, a.v = theirs.v.ptr + p.kv_begin * kw;
        a.d_k = theirs.dk.ptr + p.kv_begin * kw, a.d_v = theirs.dv.ptr + p.kv_begin * kw;
        a.accumulate = step > 0;
        if (rs.give_delta) {
          if (step == 0) {  // once per rank, over all its rows
            ChunkAttentionBackwardArgs all = a;
            all.q_tokens = rows, all.o = mine.o.ptr, all.d_o = mine.d_o.ptr, all.lse = mine.lse.ptr;
            REQUIRE_OK(chunk_attention_backward_delta(all, mine.delta.ptr, nullptr));
          }
          a.delta = mine.delta.ptr + p.q_begin, a.delta_head_stride = rows, a.o = nullptr;
        }
        DeviceArray<unsigned char> ws(chunk_attention_backward_workspace_bytes(a, rs.variant));
        REQUIRE_OK(chunk_attention_backward(a, rs.variant, ws.ptr, ws.n, cublas.h, nullptr));
        REQUIRE_CUDA(cudaDeviceSynchronize());
      }
    bool finite = true;
    double worst = 0;
    for (int r = 0; r < ranks; ++r) {
      const auto mine = rank_tokens(rs.layout, r, ranks, c);
      worst = std::max({worst, rel_error(rank[r]->dq.download(), {}, gather(want_dq, mine, qw), finite),
                        rel_error(rank[r]->dk.download(), {}, gather(want_dk, mine, kw), finite),
                        rel_error(rank[r]->dv.download(), {}, gather(want_dv, mine, kw), finite)});
    }
    CAPTURE(worst);
    CHECK(finite);
    CHECK(worst < tolerance(rs.dtype));
  }
}

TEST_CASE("kernels::chunk_attention_backward: empty blocks zero what they own, bad arguments get a status") {
  DeviceArray<uint16_t> t(64 * 4 * 128);
  DeviceArray<float> o(64 * 4 * 128), lse(64 * 4), dq(64 * 4 * 128), dk(64 * 4 * 128), dv(64 * 4 * 128);
  lse.poison();
  ChunkAttentionBackwardArgs a;
  a.head_dim = 128, a.q_heads = 4, a.kv_heads = 4, a.q_tokens = 64, a.kv_tokens = 0;
  a.q = t.ptr, a.k = t.ptr, a.v = t.ptr, a.d_o = t.ptr, a.o = o.ptr, a.lse = lse.ptr;
  a.d_q = dq.ptr, a.d_k = dk.ptr, a.d_v = dv.ptr;
  DeviceArray<unsigned char> ws(chunk_attention_backward_workspace_bytes(a, AttentionVariant::kFused));
  REQUIRE_CUDA(cudaMemset(t.ptr, 0, t.n * 2));
  REQUIRE_CUDA(cudaMemset(o.ptr, 0, o.n * 4));
  dq.poison();
  REQUIRE_OK(chunk_attention_backward(a, AttentionVariant::kFused, ws.ptr, ws.n, nullptr, nullptr));
  REQUIRE_CUDA(cudaDeviceSynchronize());
  for (float x : dq.download()) REQUIRE(x == 0.f);  // no key: dQ = 0
  a.q_tokens = 0, a.kv_tokens = 64;
  dk.poison(), dv.poison();
  REQUIRE_OK(chunk_attention_backward(a, AttentionVariant::kFused, ws.ptr, ws.n, nullptr, nullptr));
  REQUIRE_CUDA(cudaDeviceSynchronize());
  for (float x : dk.download()) REQUIRE(x == 0.f);  // no query: dK = dV = 0
  for (float x : dv.download()) REQUIRE(x == 0.f);

  a.q_tokens = 64;
  auto code = [&](ChunkAttentionBackwardArgs x, AttentionVariant v = AttentionVariant::kFused) {
    return chunk_attention_backward(x, v, ws.ptr, ws.n, nullptr, nullptr).code;
  };
  auto bad = a;
  bad.head_dim = 96;
  CHECK(code(bad) == StatusCode::kInvalidArgument);
  bad = a, bad.kv_heads = 3;
  CHECK(code(bad) == StatusCode::kInvalidArgument);
  bad = a, bad.mask = Mask::kCausal, bad.kv_tokens = 32;
  CHECK(code(bad) == StatusCode::kInvalidArgument);
  bad = a, bad.d_o = t.ptr + 1;  // misaligned
  CHECK(code(bad) == StatusCode::kInvalidArgument);
  bad = a, bad.d_k = nullptr;
  CHECK(code(bad) == StatusCode::kInvalidArgument);
  bad = a, bad.o = nullptr;  // neither o nor delta
  CHECK(code(bad) == StatusCode::kInvalidArgument);
  bad = a, bad.dkv_token_stride = 4 * 128 + 2;
  CHECK(code(bad) == StatusCode::kInvalidArgument);
  CHECK(chunk_attention_backward(a, AttentionVariant::kFused, nullptr, 0, nullptr, nullptr).code ==
        StatusCode::kWorkspaceTooSmall);
  CublasHandle cublas;
  CHECK(chunk_attention_backward(a, AttentionVariant::kCublas, ws.ptr, ws.n, cublas.h, nullptr).code ==
        StatusCode::kWorkspaceTooSmall);
  if (!bwd_bulk_available()) {  // no silent fallback to the atomic tile
    const BwdTile bulk = BwdTile::kM64N128Bulk;
    CHECK(run_attention_backward(a, AttentionVariant::kFused, bulk, ws.ptr, ws.n, nullptr, nullptr).code ==
          StatusCode::kInvalidArgument);
    CHECK(auto_bwd_tile(128) == BwdTile::kM64N128Split);
  }
  REQUIRE_CUDA(cudaDeviceSynchronize());
}
