// Checking benchmark of chunk attention (llm.c style). Every variant is first
// checked against the fp64 CPU reference on fresh random inputs (poisoned
// outputs, small shapes incl. tile remainders and GQA), then timed on the
// speed shapes: warm-up, L2 flushed, median of 20 CUDA-event runs.
//
// Variants: the portable kernel's tilings (FusedTile in chunk_attention_internal.hpp),
// the Hopper kernel's (Sm90Tile; skipped on other GPUs), `fused` (what
// chunk_attention_forward picks on this device: what calibration times),
// cublas (GEMM -> softmax -> GEMM); plus the merge.
//   build/kernels/bench_chunk_attention            check + time (default shapes)
//   build/kernels/bench_chunk_attention --fast     check all, time the shipped variants only
//   build/kernels/bench_chunk_attention --quick    check + the peer shapes only
//   build/kernels/bench_chunk_attention --profile NAME [causal] [d64]
//                                                  one run of variant NAME, bf16 4K (for ncu)
// Output: one line per (variant, shape): ms, TFLOP/s; a final table.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention/attention_ref.hpp"
#include "kernels/attention/chunk_attention_internal.hpp"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/gpu_timing.hpp"
#include "kernels/common/host_tensor.hpp"

using namespace ringsim::kernels;

namespace {

#define CHECK_CUDA(call)                                                              \
  do {                                                                                \
    cudaError_t e_ = (call);                                                          \
    if (e_ != cudaSuccess) {                                                          \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)
#define CHECK_STATUS(expr)                                                            \
  do {                                                                                \
    Status s_ = (expr);                                                               \
    if (!s_.ok()) {                                                                   \
      std::fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, describe(s_).c_str());    \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

struct Variant {
  const char* name;
  AttentionVariant kind;  // kFusedPortable: `tile`; kFusedSm90: `sm90_tile`; kFused: dispatcher
  FusedTile tile = FusedTile::kAuto;
  Sm90Tile sm90_tile = Sm90Tile::kAuto;
  bool shipped = false;  // timed by --fast: the tiles the dispatcher can pick, and peers
};
constexpr AttentionVariant kPortable = AttentionVariant::kFusedPortable;
constexpr AttentionVariant kSm90 = AttentionVariant::kFusedSm90;
const Variant kVariants[] = {
    {"fused_m128n64", kPortable, FusedTile::kN64},
    {"fused_m128n128", kPortable, FusedTile::kN128},
    {"fused_w4m2n64", kPortable, FusedTile::kW4M2N64},
    {"fused_w8m2n64", kPortable, FusedTile::kW8M2N64},
    {"fused_w4m2n32", kPortable, FusedTile::kW4M2N32},
    {"fused_w4m2n64_1bar", kPortable, FusedTile::kW4M2N64OneBarrier},
    {"fused_w4m2n32_1bar", kPortable, FusedTile::kW4M2N32OneBarrier},
    {"fused_w4m2n64_lazy", kPortable, FusedTile::kW4M2N64Lazy},
    {"fused_w4m2n64_1bar_lazy", kPortable, FusedTile::kW4M2N64OneBarrierLazy, Sm90Tile::kAuto, true},
    {"sm90_n128", kSm90, FusedTile::kAuto, Sm90Tile::kN128, true},
    {"sm90_nwide", kSm90, FusedTile::kAuto, Sm90Tile::kNWide, true},  // n176 (d128) / n192 (d64)
    {"fused", AttentionVariant::kFused, FusedTile::kAuto, Sm90Tile::kAuto, true},
    {"cublas", AttentionVariant::kCublas, FusedTile::kAuto, Sm90Tile::kAuto, true}};

bool runs_here(const Variant& v) { return v.kind != kSm90 || sm90_kernel_available(); }

struct Shape {
  Dtype dtype;
  int head_dim, q_heads, kv_heads;
  long long q, kv;
  Mask mask;
};

// Device tensors of one problem; outputs poisoned with NaN (0xFF bytes).
struct Problem {
  ChunkAttentionArgs args;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  Problem(const Shape& s, bool with_cublas) {
    args.dtype = s.dtype;
    args.mask = s.mask;
    args.head_dim = s.head_dim;
    args.q_heads = s.q_heads;
    args.kv_heads = s.kv_heads;
    args.q_tokens = s.q;
    args.kv_tokens = s.kv;
    void *q, *k, *v;
    CHECK_CUDA(cudaMalloc(&q, s.q * s.q_heads * s.head_dim * 2));
    CHECK_CUDA(cudaMalloc(&k, s.kv * s.kv_heads * s.head_dim * 2));
    CHECK_CUDA(cudaMalloc(&v, s.kv * s.kv_heads * s.head_dim * 2));
    CHECK_CUDA(cudaMalloc(&args.o, s.q * s.q_heads * s.head_dim * 4));
    CHECK_CUDA(cudaMalloc(&args.lse, s.q * s.q_heads * 4));
    args.q = q, args.k = k, args.v = v;
    if (with_cublas) {
      workspace_bytes = chunk_attention_workspace_bytes(args, AttentionVariant::kCublas);
      CHECK_CUDA(cudaMalloc(&workspace, workspace_bytes));
    }
  }
  ~Problem() {
    cudaFree(const_cast<void*>(args.q));
    cudaFree(const_cast<void*>(args.k));
    cudaFree(const_cast<void*>(args.v));
    cudaFree(args.o);
    cudaFree(args.lse);
    cudaFree(workspace);
  }
  void poison() {
    CHECK_CUDA(cudaMemset(args.o, 0xff, args.q_tokens * args.q_heads * args.head_dim * 4));
    CHECK_CUDA(cudaMemset(args.lse, 0xff, args.q_tokens * args.q_heads * 4));
  }
};

Status run_variant(const Variant& v, Problem& p, cublasHandle_t cublas, cudaStream_t stream) {
  if (v.kind == AttentionVariant::kCublas || v.kind == AttentionVariant::kFused)
    return chunk_attention_forward(p.args, v.kind, p.workspace, p.workspace_bytes, cublas, stream);
  ChunkAttentionArgs a;
  RINGSIM_TRY(resolve_args(p.args, &a));
  if (v.kind == kSm90) return launch_sm90_attention(a, v.sm90_tile, stream);
  return launch_fused_attention(a, v.tile, stream);
}

// ---- check -----------------------------------------------------------------

bool check_variant(const Variant& v, const Shape& s, cublasHandle_t cublas, std::mt19937_64& rng) {
  Problem p(s, v.kind == AttentionVariant::kCublas);
  const auto hq = random_exact(s.q * s.q_heads * s.head_dim, s.dtype, rng);
  const auto hk = random_exact(s.kv * s.kv_heads * s.head_dim, s.dtype, rng);
  const auto hv = random_exact(s.kv * s.kv_heads * s.head_dim, s.dtype, rng);
  const auto bq = to_bits(hq, s.dtype), bk = to_bits(hk, s.dtype), bv = to_bits(hv, s.dtype);
  CHECK_CUDA(cudaMemcpy(const_cast<void*>(p.args.q), bq.data(), bq.size() * 2, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(const_cast<void*>(p.args.k), bk.data(), bk.size() * 2, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(const_cast<void*>(p.args.v), bv.data(), bv.size() * 2, cudaMemcpyHostToDevice));
  p.poison();
  CHECK_STATUS(run_variant(v, p, cublas, nullptr));
  CHECK_CUDA(cudaDeviceSynchronize());
  std::vector<float> o(hq.size()), lse(s.q * s.q_heads);
  CHECK_CUDA(cudaMemcpy(o.data(), p.args.o, o.size() * 4, cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(lse.data(), p.args.lse, lse.size() * 4, cudaMemcpyDeviceToHost));
  std::vector<double> ro(o.size()), rlse(lse.size());
  attention_forward_cpu({s.q_heads, s.kv_heads, s.head_dim, s.q, s.kv, s.mask}, hq.data(),
                        hk.data(), hv.data(), ro.data(), rlse.data());
  double diff = 0, norm = 0, lse_err = 0;
  bool finite = true;
  for (std::size_t i = 0; i < o.size(); ++i) {
    finite &= std::isfinite(o[i]);
    diff += (o[i] - ro[i]) * (o[i] - ro[i]);
    norm += ro[i] * ro[i];
  }
  for (std::size_t i = 0; i < lse.size(); ++i) lse_err = std::max(lse_err, std::fabs(lse[i] - rlse[i]));
  const double rel = std::sqrt(diff / norm);
  const double tol = s.dtype == Dtype::kBf16 ? 1e-2 : 2e-3;
  const bool ok = finite && rel < tol && lse_err < 1e-3;
  std::printf("check %-23s %s d%-3d h%d/%d q%-5lld kv%-5lld %-15s rel %.2e lse %.1e %s\n", v.name,
              dtype_name(s.dtype), s.head_dim, s.q_heads, s.kv_heads, s.q, s.kv, mask_name(s.mask),
              rel, lse_err, ok ? "ok" : "FAIL");
  return ok;
}

// ---- time ------------------------------------------------------------------

struct Row {
  std::string variant;
  Shape shape;
  double seconds, tflops;
};

Row time_variant(const Variant& v, const Shape& s, cublasHandle_t cublas, GpuTimer& timer) {
  Problem p(s, v.kind == AttentionVariant::kCublas);
  CHECK_STATUS(fill_random_device(const_cast<void*>(p.args.q), s.q * s.q_heads * s.head_dim, s.dtype, 1, nullptr));
  CHECK_STATUS(fill_random_device(const_cast<void*>(p.args.k), s.kv * s.kv_heads * s.head_dim, s.dtype, 2, nullptr));
  CHECK_STATUS(fill_random_device(const_cast<void*>(p.args.v), s.kv * s.kv_heads * s.head_dim, s.dtype, 3, nullptr));
  Status st;
  const double sec = timer.median_seconds([&] { return run_variant(v, p, cublas, nullptr); }, 3, 20, &st);
  CHECK_STATUS(st);
  return {v.name, s, sec, chunk_attention_flops(p.args) / sec * 1e-12};
}

double time_merge(long long tokens, int heads, int d, GpuTimer& timer) {
  const std::size_t n = tokens * heads * d;
  float *acc_o, *o, *acc_lse, *lse;
  CHECK_CUDA(cudaMalloc(&acc_o, n * 4));
  CHECK_CUDA(cudaMalloc(&o, n * 4));
  CHECK_CUDA(cudaMalloc(&acc_lse, tokens * heads * 4));
  CHECK_CUDA(cudaMalloc(&lse, tokens * heads * 4));
  CHECK_CUDA(cudaMemset(acc_o, 0, n * 4));
  CHECK_CUDA(cudaMemset(o, 0, n * 4));
  CHECK_CUDA(cudaMemset(acc_lse, 0, tokens * heads * 4));
  CHECK_CUDA(cudaMemset(lse, 0, tokens * heads * 4));
  MergeArgs m{tokens, heads, d, acc_o, acc_lse, o, lse};
  Status st;
  const double sec = timer.median_seconds([&] { return attention_merge(m, nullptr); }, 3, 20, &st);
  CHECK_STATUS(st);
  cudaFree(acc_o), cudaFree(o), cudaFree(acc_lse), cudaFree(lse);
  return sec;
}

// One run of one variant (by name) on bf16 32 heads 4K, for ncu.
int profile_one(int argc, char** argv) {
  const Variant* v = nullptr;
  for (const Variant& x : kVariants)
    if (std::strcmp(x.name, argv[2]) == 0) v = &x;
  if (!v) return std::fprintf(stderr, "unknown variant %s\n", argv[2]), 2;
  bool causal = false;
  int d = 128;
  for (int i = 3; i < argc; ++i) {
    causal |= std::strcmp(argv[i], "causal") == 0;
    if (std::strcmp(argv[i], "d64") == 0) d = 64;
  }
  Problem p({Dtype::kBf16, d, 32, 32, 4096, 4096, causal ? Mask::kCausal : Mask::kFull}, false);
  for (auto [ptr, seed] : {std::pair{p.args.q, 1}, {p.args.k, 2}, {p.args.v, 3}})
    CHECK_STATUS(fill_random_device(const_cast<void*>(ptr), 4096 * 32 * d, Dtype::kBf16, seed, nullptr));
  CHECK_STATUS(run_variant(*v, p, nullptr, nullptr));
  CHECK_CUDA(cudaDeviceSynchronize());
  std::printf("profiled %s %s d%d\n", v->name, causal ? "causal" : "full", d);
  return 0;
}

bool check_all(cublasHandle_t cublas) {
  std::mt19937_64 rng(20261126);
  bool all_ok = true;
  for (const Variant& v : kVariants) {
    if (!runs_here(v)) {
      std::printf("skip %s: needs an sm_90 GPU and an sm_90a build\n", v.name);
      continue;
    }
    for (Dtype dt : {Dtype::kBf16, Dtype::kFp16})
      for (int d : {64, 128}) {
        all_ok &= check_variant(v, {dt, d, 4, 2, 200, 333, Mask::kFull}, cublas, rng);
        all_ok &= check_variant(v, {dt, d, 4, 4, 300, 300, Mask::kCausal}, cublas, rng);
        all_ok &= check_variant(v, {dt, d, 4, 1, 258, 258, Mask::kZigzag}, cublas, rng);
      }
  }
  return all_ok;
}

std::vector<Shape> speed_shapes(bool quick) {
  std::vector<Shape> shapes;
  for (long long n : {1024, 2048, 4096, 8192}) shapes.push_back({Dtype::kBf16, 128, 32, 32, n, n, Mask::kFull});
  if (quick) return shapes;
  for (long long n : {4096, 8192}) shapes.push_back({Dtype::kBf16, 128, 32, 32, n, n, Mask::kCausal});
  shapes.push_back({Dtype::kFp16, 128, 32, 32, 4096, 4096, Mask::kFull});
  for (long long n : {4096, 8192}) shapes.push_back({Dtype::kBf16, 64, 32, 32, n, n, Mask::kFull});
  shapes.push_back({Dtype::kBf16, 64, 32, 32, 4096, 4096, Mask::kCausal});
  shapes.push_back({Dtype::kBf16, 128, 32, 8, 4096, 4096, Mask::kFull});
  shapes.push_back({Dtype::kBf16, 128, 32, 32, 16384, 16384, Mask::kFull});
  return shapes;
}

void print_table(const char* device, const std::vector<Row>& rows) {
  std::printf("\nmeasured on %s (CUDA events, median, L2 flushed):\n", device);
  std::printf("\n| variant | dtype | d | heads q/kv | q | kv | mask | ms | TFLOP/s |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows)
    std::printf("| %s | %s | %d | %d/%d | %lld | %lld | %s | %.3f | %.1f |\n", r.variant.c_str(),
                dtype_name(r.shape.dtype), r.shape.head_dim, r.shape.q_heads, r.shape.kv_heads,
                r.shape.q, r.shape.kv, mask_name(r.shape.mask), r.seconds * 1e3, r.tflops);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const bool fast = argc > 1 && std::strcmp(argv[1], "--fast") == 0;
  if (argc > 2 && std::strcmp(argv[1], "--profile") == 0) return profile_one(argc, argv);
  cudaDeviceProp prop;
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs\n", prop.name, prop.multiProcessorCount);
  cublasHandle_t cublas;
  if (cublasCreate(&cublas) != CUBLAS_STATUS_SUCCESS) return 1;
  if (!check_all(cublas)) {
    std::printf("CHECK FAILED: not timing\n");
    return 1;
  }
  GpuTimer timer(nullptr);
  std::vector<Row> rows;
  for (const Shape& s : speed_shapes(quick))
    for (const Variant& v : kVariants) {
      if (!runs_here(v) || (fast && !v.shipped)) continue;
      if (v.kind == AttentionVariant::kCublas && s.q * s.kv * s.q_heads > (8192LL * 8192 * 32)) continue;
      rows.push_back(time_variant(v, s, cublas, timer));
      const Row& r = rows.back();
      std::printf("time %-23s %s d%-3d h%d/%d q%-5lld kv%-5lld %-15s %9.3f ms %7.1f TFLOP/s\n",
                  r.variant.c_str(), dtype_name(s.dtype), s.head_dim, s.q_heads, s.kv_heads, s.q,
                  s.kv, mask_name(s.mask), r.seconds * 1e3, r.tflops);
    }
  for (int d : {64, 128}) {
    const double sec = time_merge(4096, 32, d, timer);
    std::printf("time merge q4096 h32 d%d %.3f ms %.0f GB/s\n", d, sec * 1e3,
                12.0 * 4096 * 32 * d / sec * 1e-9);
  }
  print_table(prop.name, rows);
  cublasDestroy(cublas);
  return 0;
}
