// GPU tests of the chunk kernels (suite 'gpu', needs a CUDA device): every
// variant (portable tilings, Hopper tilings on sm_90, the dispatcher, cuBLAS)
// against the fp64 reference on fresh random inputs, outputs poisoned with NaN
// before each run, every CUDA call checked; the GPU merge against the
// reference merge; GPU zigzag and contiguous rings equal to full causal
// attention. Fixtures in chunk_gpu_fixtures.hpp; sub-view, persistent-loop and
// no-key cases in test_chunk_attention_views_gpu.cpp.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

#include "tests/kernels/chunk_gpu_fixtures.hpp"
#include "tests/kernels/ring_cpu.hpp"

using namespace ringsim::kernels;
using namespace ringsim::kernels::test;

namespace {

// Every implementation the suite checks: the portable tilings, the Hopper
// tilings (skipped, with a message, off sm_90), the dispatcher, cuBLAS.
const KernelChoice kEveryKernel[] = {
    {AttentionVariant::kFusedPortable, FusedTile::kN64},
    {AttentionVariant::kFusedPortable, FusedTile::kN128},
    {AttentionVariant::kFusedPortable, FusedTile::kW4M2N64},
    {AttentionVariant::kFusedPortable, FusedTile::kW8M2N64},
    {AttentionVariant::kFusedPortable, FusedTile::kW4M2N32},
    {AttentionVariant::kFusedPortable, FusedTile::kW4M2N64OneBarrier},
    {AttentionVariant::kFusedPortable, FusedTile::kW4M2N32OneBarrier},
    {AttentionVariant::kFusedPortable, FusedTile::kW4M2N64Lazy},
    {AttentionVariant::kFusedPortable, FusedTile::kW4M2N64OneBarrierLazy},
    {AttentionVariant::kFusedSm90, FusedTile::kAuto, Sm90Tile::kN128},
    {AttentionVariant::kFusedSm90, FusedTile::kAuto, Sm90Tile::kNWide},
    {AttentionVariant::kFused},
    {AttentionVariant::kCublas}};

}  // namespace

TEST_CASE("kernels::chunk_attention: every variant matches the fp64 reference on every mask, dtype, head_dim and GQA ratio") {
  CublasHandle cublas;
  std::mt19937_64 rng(7);
  const std::pair<long long, long long> full_sizes[] = {{128, 128}, {200, 333}, {1, 77}, {513, 64}};
  const long long diag_sizes[] = {2, 128, 300};
  int seed = 0;
  for (const KernelChoice& k : kEveryKernel) {
    if (!runs_here(k)) {
      MESSAGE("skipped: the sm90 kernel needs an sm_90 GPU and an sm_90a build");
      continue;
    }
    for (Dtype dt : {Dtype::kBf16, Dtype::kFp16})
      for (int d : {64, 128})
        for (int group : {1, 4}) {
          std::vector<Case> cases;
          for (auto [q, kv] : full_sizes) cases.push_back({dt, d, 4, 4 / group, q, kv, Mask::kFull});
          for (long long n : diag_sizes) {
            cases.push_back({dt, d, 4, 4 / group, n, n, Mask::kCausal});
            cases.push_back({dt, d, 4, 4 / group, n + n % 2, n + n % 2, Mask::kZigzag});
          }
          for (const Case& c : cases) {
            ++seed;
            CAPTURE(seed);
            CAPTURE_TEXT(variant_name(k.kind));
            CAPTURE_TEXT(fused_tile_name(k.tile));
            CAPTURE_TEXT(sm90_tile_name(k.sm90, d));
            CAPTURE_TEXT(dtype_name(dt));
            CAPTURE(d);
            CAPTURE(group);
            CAPTURE(c.q);
            CAPTURE(c.kv);
            CAPTURE_TEXT(mask_name(c.mask));
            check_case(c, k, cublas.h, rng);
          }
        }
  }
}

TEST_CASE("kernels::chunk_attention: scores spanning a wide range (softmax_scale 1) stay accurate, lazy rescale included") {
  // Scores 11x larger than with 1/sqrt(128): row maxima keep growing by more
  // than 2^8 across key blocks, so the lazy rescale fires, and between firings
  // P runs up to 2^8 against a stale max.
  CublasHandle cublas;
  std::mt19937_64 rng(23);
  const KernelChoice kernels[] = {{AttentionVariant::kFusedPortable, FusedTile::kAuto},
                                  {AttentionVariant::kFusedPortable, FusedTile::kW4M2N64Lazy},
                                  {AttentionVariant::kFusedPortable, FusedTile::kW4M2N64OneBarrierLazy},
                                  {AttentionVariant::kFusedPortable, FusedTile::kN128},
                                  {AttentionVariant::kFusedSm90, FusedTile::kAuto, Sm90Tile::kN128},
                                  {AttentionVariant::kFusedSm90, FusedTile::kAuto, Sm90Tile::kNWide}};
  int seed = 0;
  for (const KernelChoice& k : kernels) {
    if (!runs_here(k)) continue;
    for (Dtype dt : {Dtype::kBf16, Dtype::kFp16})
      for (int d : {64, 128})
        for (Mask mask : {Mask::kFull, Mask::kCausal}) {
          ++seed;
          CAPTURE(seed);
          CAPTURE_TEXT(variant_name(k.kind));
          CAPTURE_TEXT(fused_tile_name(k.tile));
          CAPTURE_TEXT(sm90_tile_name(k.sm90, d));
          CAPTURE_TEXT(dtype_name(dt));
          CAPTURE(d);
          CAPTURE_TEXT(mask_name(mask));
          check_case({dt, d, 4, 2, 333, 333, mask, 1.f}, k, cublas.h, rng);
        }
  }
}

TEST_CASE("kernels::attention_merge: the GPU merge matches the reference merge, -inf rows included") {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> dist;
  for (int seed = 0; seed < 6; ++seed) {
    CAPTURE(seed);
    const long long tokens = 37 + seed * 50;
    const int heads = 3, d = seed % 2 ? 128 : 64;
    std::vector<float> acc_o(tokens * heads * d), o(acc_o.size()), acc_lse(tokens * heads), lse(acc_lse.size());
    for (auto& x : acc_o) x = float(dist(rng));
    for (auto& x : o) x = float(dist(rng));
    for (auto& x : acc_lse) x = rng() % 4 == 0 ? -INFINITY : float(dist(rng));
    for (auto& x : lse) x = rng() % 4 == 0 ? -INFINITY : float(dist(rng));
    std::vector<double> ref_o(acc_o.begin(), acc_o.end()), ref_lse(acc_lse.begin(), acc_lse.end());
    const std::vector<double> blk_o(o.begin(), o.end()), blk_lse(lse.begin(), lse.end());
    attention_merge_cpu(tokens, heads, d, ref_o.data(), ref_lse.data(), tokens, blk_o.data(),
                        blk_lse.data(), tokens);
    DeviceArray<float> g_acc_o(acc_o.size()), g_o(o.size()), g_acc_lse(acc_lse.size()), g_lse(lse.size());
    g_acc_o.upload(acc_o);
    g_o.upload(o);
    g_acc_lse.upload(acc_lse);
    g_lse.upload(lse);
    REQUIRE_OK(attention_merge({tokens, heads, d, g_acc_o.ptr, g_acc_lse.ptr, g_o.ptr, g_lse.ptr}, nullptr));
    REQUIRE_CUDA(cudaDeviceSynchronize());
    const auto out_o = g_acc_o.download(), out_lse = g_acc_lse.download();
    double worst = 0;
    for (std::size_t i = 0; i < out_o.size(); ++i) worst = std::max(worst, std::fabs(out_o[i] - ref_o[i]));
    for (std::size_t i = 0; i < out_lse.size(); ++i) {
      if (std::isinf(ref_lse[i])) CHECK(out_lse[i] == -INFINITY);
      else worst = std::max(worst, std::fabs(out_lse[i] - ref_lse[i]));
    }
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("kernels::chunk_attention: a GPU ring of blocks and merges equals full attention (zigzag and contiguous, causal)") {
  CublasHandle cublas;
  // kFused is the Hopper kernel on sm_90, the portable one elsewhere.
  const AttentionVariant variants[] = {AttentionVariant::kFused, AttentionVariant::kCublas,
                                       AttentionVariant::kFusedPortable};
  for (int seed = 0; seed < 6; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(500 + seed);
    const Layout layout = seed % 2 ? Layout::kZigzag : Layout::kContiguous;
    const AttentionVariant variant = variants[seed / 2];
    CAPTURE_TEXT(variant_name(variant));
    const Dtype dt = Dtype::kBf16;
    const int ranks = 3;
    const long long c = 96;  // 2c = 192: not a multiple of the 128-row tile
    Sequence seq{4, 2, 128, (layout == Layout::kZigzag ? 2 : 1) * ranks * c, {}, {}, {}};
    seq.q = random_exact(seq.tokens * seq.q_heads * seq.head_dim, dt, rng);
    seq.k = random_exact(seq.tokens * seq.kv_heads * seq.head_dim, dt, rng);
    seq.v = random_exact(seq.tokens * seq.kv_heads * seq.head_dim, dt, rng);
    std::vector<double> full_o(seq.q.size()), full_lse(seq.q_heads * seq.tokens);
    attention_forward_cpu({seq.q_heads, seq.kv_heads, seq.head_dim, seq.tokens, seq.tokens, Mask::kCausal},
                          seq.q.data(), seq.k.data(), seq.v.data(), full_o.data(), full_lse.data());
    const long long qw = seq.q_heads * seq.head_dim, kw = seq.kv_heads * seq.head_dim;
    for (int r = 0; r < ranks; ++r) {
      CAPTURE(r);
      const auto mine = rank_tokens(layout, r, ranks, c);
      const long long rows = static_cast<long long>(mine.size());
      DeviceArray<uint16_t> q(rows * qw), k(rows * kw), v(rows * kw);
      q.upload(to_bits(gather(seq.q, mine, qw), dt));
      DeviceArray<float> acc_o(rows * qw), acc_lse(rows * seq.q_heads), o(rows * qw), lse(rows * seq.q_heads);
      REQUIRE_CUDA(cudaMemset(acc_o.ptr, 0, acc_o.n * sizeof(float)));
      REQUIRE_CUDA(cudaMemcpy(acc_lse.ptr, std::vector<float>(acc_lse.n, -INFINITY).data(),
                              acc_lse.n * sizeof(float), cudaMemcpyHostToDevice));
      for (int step = 0; step < ranks; ++step) {
        const int s = (r - step + ranks) % ranks;
        const BlockPlan b = plan_block(layout, true, r, s, c);
        if (b.skip) continue;
        const auto theirs = rank_tokens(layout, s, ranks, c);
        k.upload(to_bits(gather(seq.k, theirs, kw), dt));
        v.upload(to_bits(gather(seq.v, theirs, kw), dt));
        o.poison();
        lse.poison();
        // Sub-views: q rows from b.q_begin, kv rows from b.kv_begin, outputs at
        // the same rows of full-size buffers (LSE head stride = rows).
        ChunkAttentionArgs a{dt, b.mask, seq.head_dim, seq.q_heads, seq.kv_heads, b.q_count, b.kv_count,
                             q.ptr + b.q_begin * qw, k.ptr + b.kv_begin * kw, v.ptr + b.kv_begin * kw,
                             o.ptr + b.q_begin * qw, lse.ptr + b.q_begin, qw, kw, qw, rows};
        DeviceArray<unsigned char> ws(chunk_attention_workspace_bytes(a, variant));
        REQUIRE_OK(chunk_attention_forward(a, variant, ws.ptr, ws.n, cublas.h, nullptr));
        MergeArgs m{b.q_count, seq.q_heads, seq.head_dim, acc_o.ptr + b.q_begin * qw,
                    acc_lse.ptr + b.q_begin, o.ptr + b.q_begin * qw, lse.ptr + b.q_begin, qw, qw, rows, rows};
        REQUIRE_OK(attention_merge(m, nullptr));
        REQUIRE_CUDA(cudaDeviceSynchronize());
      }
      std::vector<double> ref_o = gather(full_o, mine, qw), ref_lse(rows * seq.q_heads);
      for (int h = 0; h < seq.q_heads; ++h)
        for (long long i = 0; i < rows; ++i) ref_lse[h * rows + i] = full_lse[h * seq.tokens + mine[i]];
      check_errors(compare(acc_o.download(), ref_o, acc_lse.download(), ref_lse), dt);
    }
  }
}

TEST_CASE("kernels::chunk_attention: bad arguments are refused with a status, not a crash") {
  DeviceArray<uint16_t> t(64 * 4 * 128);
  DeviceArray<float> o(64 * 4 * 128), lse(64 * 4);
  ChunkAttentionArgs a{Dtype::kBf16, Mask::kFull, 128, 4, 4, 64, 64, t.ptr, t.ptr, t.ptr, o.ptr, lse.ptr};
  auto code = [&](ChunkAttentionArgs x, AttentionVariant v = AttentionVariant::kFused) {
    return chunk_attention_forward(x, v, nullptr, 0, nullptr, nullptr).code;
  };
  CHECK(code(a) == StatusCode::kOk);
  auto bad = a;
  bad.head_dim = 96;
  CHECK(code(bad) == StatusCode::kInvalidArgument);
  bad = a;
  bad.kv_heads = 3;
  CHECK(code(bad) == StatusCode::kInvalidArgument);
  bad = a;
  bad.mask = Mask::kCausal;
  bad.kv_tokens = 32;
  CHECK(code(bad) == StatusCode::kInvalidArgument);
  bad = a;
  bad.q = t.ptr + 1;  // misaligned
  CHECK(code(bad) == StatusCode::kInvalidArgument);
  CublasHandle cublas;
  CHECK(chunk_attention_forward(a, AttentionVariant::kCublas, nullptr, 0, cublas.h, nullptr).code ==
        StatusCode::kWorkspaceTooSmall);
  // The Hopper kernel where it exists, a refusal (not a silent fallback) elsewhere.
  CHECK(code(a, AttentionVariant::kFusedSm90) ==
        (sm90_kernel_available() ? StatusCode::kOk : StatusCode::kInvalidArgument));
  REQUIRE_CUDA(cudaDeviceSynchronize());
}
