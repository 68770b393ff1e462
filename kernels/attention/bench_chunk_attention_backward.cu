// Checking benchmark of the attention backward (llm.c style). Every variant is
// first checked against the fp64 CPU reference on fresh random inputs
// (poisoned outputs, tile remainders, GQA, every mask), then timed on the speed
// shapes: warm-up, L2 flushed, median of 20 CUDA-event runs. A variant that
// fails its check is not timed (the others are) and the exit code is 1.
//
// Variants: fused tilings (BwdTile in chunk_attention_backward_internal.hpp;
// the bulk-reduction ones only where bwd_bulk_available()), cublas (5 GEMMs +
// 2 elementwise kernels); the whole call is timed (D and dQ preprocessing
// included), as PyTorch's backward includes its own. Also: fused_ring_step
// (kAuto, D given, accumulating: a ring's steady state), fused_auto (what
// chunk_attention_backward runs), and fused_m64n128_no_dq (timing only: what
// dQ costs).
//   build/kernels/bench_chunk_attention_backward            check + time
//   build/kernels/bench_chunk_attention_backward --quick    check + 4K only
//   build/kernels/bench_chunk_attention_backward --speed    check + the target
//       shapes (bf16 d128 4K/8K, full/causal) for the m64n128 family, twice
//       (two rounds: the spread), other shapes for the original and kAuto
// TFLOP/s = 2.5x the forward's flops (10 q kv d heads), halved on diagonals.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention/attention_ref.hpp"
#include "kernels/attention/chunk_attention_backward_internal.hpp"
#include "kernels/common/gpu_timing.hpp"
#include "kernels/common/host_tensor.hpp"

using namespace ringsim::kernels;

namespace {

void die_cuda(cudaError_t e, const char* what, int line) {
  if (e == cudaSuccess) return;
  std::fprintf(stderr, "line %d: %s: %s\n", line, what, cudaGetErrorString(e));
  std::exit(1);
}
void die_status(const Status& s, int line) {
  if (s.ok()) return;
  std::fprintf(stderr, "line %d: %s\n", line, describe(s).c_str());
  std::exit(1);
}
#define CHECK_CUDA(call) die_cuda((call), #call, __LINE__)
#define CHECK_STATUS(expr) die_status((expr), __LINE__)

struct Variant {
  const char* name;
  AttentionVariant kind;
  BwdTile tile;
  bool ring_step;    // D given, accumulate
  bool timing_only;  // not a correct backward: no check
  bool speed;        // timed on the target shapes by --speed
};
const Variant kVariants[] = {
    {"fused_m64n128", AttentionVariant::kFused, BwdTile::kM64N128, false, false, true},  // the original
    {"fused_m64n128_split", AttentionVariant::kFused, BwdTile::kM64N128Split, false, false, true},
    {"fused_m64n128_bulk", AttentionVariant::kFused, BwdTile::kM64N128Bulk, false, false, true},
    {"fused_m64n128_bulk_split", AttentionVariant::kFused, BwdTile::kM64N128BulkSplit, false, false, true},
    {"fused_m64n128_head_major", AttentionVariant::kFused, BwdTile::kM64N128HeadMajor, false, false, false},
    {"fused_m64n64", AttentionVariant::kFused, BwdTile::kM64N64, false, false, false},
    {"fused_auto", AttentionVariant::kFused, BwdTile::kAuto, false, false, false},
    {"fused_ring_step", AttentionVariant::kFused, BwdTile::kAuto, true, false, true},
    {"fused_m64n128_no_dq", AttentionVariant::kFused, BwdTile::kM64N128NoDq, false, true, true},
    {"cublas", AttentionVariant::kCublas, BwdTile::kAuto, false, false, false}};

bool runs_here(const Variant& v) {
  const bool bulk = v.tile == BwdTile::kM64N128Bulk || v.tile == BwdTile::kM64N128BulkSplit;
  return !bulk || bwd_bulk_available();
}

struct Shape {
  Dtype dtype;
  int head_dim, q_heads, kv_heads;
  long long q, kv;
  Mask mask;
};

template <typename T>
T* device_alloc(std::size_t n) {
  void* p = nullptr;
  CHECK_CUDA(cudaMalloc(&p, std::max<std::size_t>(n, 1) * sizeof(T)));
  return static_cast<T*>(p);
}

// Device tensors of one problem (outputs poisoned with NaN by poison()).
struct Problem {
  ChunkAttentionBackwardArgs args;
  float* delta = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  Problem(const Shape& s, const Variant& v) {
    args.dtype = s.dtype, args.mask = s.mask, args.head_dim = s.head_dim;
    args.q_heads = s.q_heads, args.kv_heads = s.kv_heads, args.q_tokens = s.q, args.kv_tokens = s.kv;
    const std::size_t qn = s.q * s.q_heads * s.head_dim, kvn = s.kv * s.kv_heads * s.head_dim;
    args.q = device_alloc<uint16_t>(qn), args.d_o = device_alloc<uint16_t>(qn);
    args.k = device_alloc<uint16_t>(kvn), args.v = device_alloc<uint16_t>(kvn);
    args.o = device_alloc<float>(qn), args.lse = device_alloc<float>(s.q * s.q_heads);
    args.d_q = device_alloc<float>(qn), args.d_k = device_alloc<float>(kvn), args.d_v = device_alloc<float>(kvn);
    delta = device_alloc<float>(s.q * s.q_heads);
    workspace_bytes = chunk_attention_backward_workspace_bytes(args, v.kind);
    workspace = device_alloc<unsigned char>(workspace_bytes);
  }
  ~Problem() {
    for (const void* p : {args.q, args.d_o, args.k, args.v, static_cast<const void*>(args.o),
                          static_cast<const void*>(args.lse), static_cast<const void*>(args.d_q),
                          static_cast<const void*>(args.d_k), static_cast<const void*>(args.d_v),
                          static_cast<const void*>(delta), static_cast<const void*>(workspace)})
      cudaFree(const_cast<void*>(p));
  }
  void poison() {
    const std::size_t qn = args.q_tokens * args.q_heads * args.head_dim;
    const std::size_t kvn = args.kv_tokens * args.kv_heads * args.head_dim;
    CHECK_CUDA(cudaMemset(args.d_q, 0xff, qn * 4));
    CHECK_CUDA(cudaMemset(args.d_k, 0xff, kvn * 4));
    CHECK_CUDA(cudaMemset(args.d_v, 0xff, kvn * 4));
  }
  // A ring step's arguments: D computed beforehand, outputs accumulated.
  ChunkAttentionBackwardArgs ring_step_args() {
    CHECK_STATUS(chunk_attention_backward_delta(args, delta, nullptr));
    ChunkAttentionBackwardArgs a = args;
    a.delta = delta, a.accumulate = true;
    return a;
  }
};

Status run_variant(const Variant& v, Problem& p, const ChunkAttentionBackwardArgs& a, cublasHandle_t cublas) {
  return run_attention_backward(a, v.kind, v.tile, p.workspace, p.workspace_bytes, cublas, nullptr);
}

template <typename T>
void upload(const void* dst, const std::vector<T>& h) {
  CHECK_CUDA(cudaMemcpy(const_cast<void*>(dst), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
}
std::vector<float> download(const float* src, std::size_t n) {
  std::vector<float> h(n);
  CHECK_CUDA(cudaMemcpy(h.data(), src, n * 4, cudaMemcpyDeviceToHost));
  return h;
}

double rel_error(const std::vector<float>& out, const std::vector<double>& ref, bool& finite) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    finite &= std::isfinite(out[i]);
    diff += (out[i] - ref[i]) * (out[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return std::sqrt(diff / norm);
}

// ---- check -----------------------------------------------------------------

// Fresh random inputs of one check shape and their fp64 forward and backward,
// computed once and shared by every variant (the reference costs 0.1-0.3 s
// per shape on the CPU).
struct Reference {
  Shape s;
  std::vector<double> q, k, v, d_o, o, lse, dq, dk, dv;
};

Reference make_reference(const Shape& s, std::mt19937_64& rng) {
  Reference r{s, {}, {}, {}, {}, {}, {}, {}, {}, {}};
  const RefShape shape{s.q_heads, s.kv_heads, s.head_dim, s.q, s.kv, s.mask};
  r.q = random_exact(s.q * s.q_heads * s.head_dim, s.dtype, rng);
  r.k = random_exact(s.kv * s.kv_heads * s.head_dim, s.dtype, rng);
  r.v = random_exact(r.k.size(), s.dtype, rng), r.d_o = random_exact(r.q.size(), s.dtype, rng);
  r.o.resize(r.q.size()), r.lse.resize(s.q * s.q_heads);
  r.dq.resize(r.q.size()), r.dk.resize(r.k.size()), r.dv.resize(r.k.size());
  attention_forward_cpu(shape, r.q.data(), r.k.data(), r.v.data(), r.o.data(), r.lse.data());
  attention_backward_cpu(shape, r.q.data(), r.k.data(), r.v.data(), r.o.data(), r.d_o.data(), r.lse.data(),
                         r.dq.data(), r.dk.data(), r.dv.data());
  return r;
}

// A launch that returns an error status counts as a failed check (the
// benchmark goes on with the other variants).
bool check_variant(const Variant& v, const Reference& r, cublasHandle_t cublas) {
  const Shape& s = r.s;
  Problem p(s, v);
  upload(p.args.q, to_bits(r.q, s.dtype)), upload(p.args.k, to_bits(r.k, s.dtype));
  upload(p.args.v, to_bits(r.v, s.dtype)), upload(p.args.d_o, to_bits(r.d_o, s.dtype));
  upload(p.args.o, std::vector<float>(r.o.begin(), r.o.end()));
  upload(p.args.lse, std::vector<float>(r.lse.begin(), r.lse.end()));
  p.poison();
  ChunkAttentionBackwardArgs a = p.args;
  if (v.ring_step) {  // accumulate onto zeros
    a = p.ring_step_args();
    CHECK_CUDA(cudaMemset(a.d_q, 0, r.dq.size() * 4));
    CHECK_CUDA(cudaMemset(a.d_k, 0, r.dk.size() * 4));
    CHECK_CUDA(cudaMemset(a.d_v, 0, r.dv.size() * 4));
  }
  const Status st = run_variant(v, p, a, cublas);
  if (!st.ok()) {
    std::printf("check %-26s FAIL: %s\n", v.name, describe(st).c_str());
    return false;
  }
  CHECK_CUDA(cudaDeviceSynchronize());
  bool finite = true;
  const double e_dq = rel_error(download(a.d_q, r.dq.size()), r.dq, finite);
  const double e_dk = rel_error(download(a.d_k, r.dk.size()), r.dk, finite);
  const double e_dv = rel_error(download(a.d_v, r.dv.size()), r.dv, finite);
  const double tol = s.dtype == Dtype::kBf16 ? 1e-2 : 2e-3;
  const bool ok = finite && e_dq < tol && e_dk < tol && e_dv < tol;
  std::printf("check %-26s %s d%-3d h%d/%d q%-4lld kv%-4lld %-15s rel dq %.2e dk %.2e dv %.2e %s\n", v.name,
              dtype_name(s.dtype), s.head_dim, s.q_heads, s.kv_heads, s.q, s.kv, mask_name(s.mask), e_dq, e_dk,
              e_dv, ok ? "ok" : "FAIL");
  return ok;
}

// ---- time ------------------------------------------------------------------

struct Row {
  std::string variant;
  Shape shape;
  double seconds, tflops;
};

Row time_variant(const Variant& v, const Shape& s, cublasHandle_t cublas, GpuTimer& timer) {
  Problem p(s, v);
  const std::size_t qn = s.q * s.q_heads * s.head_dim, kvn = s.kv * s.kv_heads * s.head_dim;
  CHECK_STATUS(fill_random_device(const_cast<void*>(p.args.q), qn, s.dtype, 1, nullptr));
  CHECK_STATUS(fill_random_device(const_cast<void*>(p.args.k), kvn, s.dtype, 2, nullptr));
  CHECK_STATUS(fill_random_device(const_cast<void*>(p.args.v), kvn, s.dtype, 3, nullptr));
  CHECK_STATUS(fill_random_device(const_cast<void*>(p.args.d_o), qn, s.dtype, 4, nullptr));
  // Plausible O and LSE: a real forward of these inputs (fp32 O, natural-log LSE).
  ChunkAttentionArgs f;
  f.dtype = s.dtype, f.mask = s.mask, f.head_dim = s.head_dim, f.q_heads = s.q_heads, f.kv_heads = s.kv_heads;
  f.q_tokens = s.q, f.kv_tokens = s.kv, f.q = p.args.q, f.k = p.args.k, f.v = p.args.v;
  f.o = const_cast<float*>(p.args.o), f.lse = const_cast<float*>(p.args.lse);
  CHECK_STATUS(chunk_attention_forward(f, AttentionVariant::kFused, nullptr, 0, nullptr, nullptr));
  const ChunkAttentionBackwardArgs a = v.ring_step ? p.ring_step_args() : p.args;
  CHECK_CUDA(cudaMemset(a.d_q, 0, qn * 4));  // what a ring step accumulates onto
  CHECK_CUDA(cudaMemset(a.d_k, 0, kvn * 4));
  CHECK_CUDA(cudaMemset(a.d_v, 0, kvn * 4));
  Status st;
  const double sec = timer.median_seconds([&] { return run_variant(v, p, a, cublas); }, 3, 20, &st);
  CHECK_STATUS(st);
  return {v.name, s, sec, chunk_attention_backward_flops(a) / sec * 1e-12};
}

// The shapes timed, and which variants each gets.
struct Plan {
  Shape shape;
  bool all_variants;  // else (--speed, other shapes): the original and fused_auto only
};
std::vector<Plan> timing_plan(bool quick, bool speed) {
  std::vector<Plan> plan;
  for (long long n : {1024, 2048, 4096, 8192})
    if ((!quick || n == 4096) && (!speed || n >= 4096))
      plan.push_back({{Dtype::kBf16, 128, 32, 32, n, n, Mask::kFull}, true});
  for (long long n : {4096, 8192})
    if (!quick || n == 4096) plan.push_back({{Dtype::kBf16, 128, 32, 32, n, n, Mask::kCausal}, true});
  if (!quick) {
    plan.push_back({{Dtype::kFp16, 128, 32, 32, 4096, 4096, Mask::kFull}, !speed});
    plan.push_back({{Dtype::kBf16, 64, 32, 32, 4096, 4096, Mask::kFull}, !speed});
    plan.push_back({{Dtype::kBf16, 128, 32, 8, 4096, 4096, Mask::kFull}, !speed});
  }
  return plan;
}

bool timed(const Variant& v, const Plan& plan, bool speed) {
  if (v.timing_only && plan.shape.mask != Mask::kFull) return false;  // built for the full mask only
  if (!speed) return true;
  if (plan.all_variants) return v.speed;
  return v.tile == BwdTile::kM64N128 || std::strcmp(v.name, "fused_auto") == 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, speed = false;
  for (int i = 1; i < argc; ++i) {
    quick |= std::strcmp(argv[i], "--quick") == 0;
    speed |= std::strcmp(argv[i], "--speed") == 0;
  }
  cudaDeviceProp prop;
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs; bulk-reduction tiles %s; kAuto = %s (d128), %s (d64)\n", prop.name,
              prop.multiProcessorCount,
              bwd_bulk_available() ? "available" : "not available (not an sm_90a build on an sm_90 GPU)",
              bwd_tile_name(auto_bwd_tile(128)), bwd_tile_name(auto_bwd_tile(64)));
  cublasHandle_t cublas;
  if (cublasCreate(&cublas) != CUBLAS_STATUS_SUCCESS) return 1;

  std::mt19937_64 rng(20261127);
  std::vector<bool> ok(std::size(kVariants), true);
  for (Dtype dt : {Dtype::kBf16, Dtype::kFp16})
    for (int d : {64, 128})
      for (const Shape& s : {Shape{dt, d, 4, 2, 200, 333, Mask::kFull}, Shape{dt, d, 4, 4, 300, 300, Mask::kCausal},
                             Shape{dt, d, 4, 1, 258, 258, Mask::kZigzag}}) {
        const Reference ref = make_reference(s, rng);
        for (std::size_t i = 0; i < std::size(kVariants); ++i)
          if (!kVariants[i].timing_only && runs_here(kVariants[i]))
            ok[i] = check_variant(kVariants[i], ref, cublas) && ok[i];
      }
  for (std::size_t i = 0; i < std::size(kVariants); ++i)
    if (!ok[i]) std::printf("CHECK FAILED: %s is not timed\n", kVariants[i].name);

  GpuTimer timer(nullptr);
  std::vector<Row> rows;
  const int rounds = speed ? 2 : 1;  // --speed: every timing twice, interleaved (the run-to-run spread)
  for (int round = 0; round < rounds; ++round)
    for (const Plan& plan : timing_plan(quick, speed))
      for (std::size_t i = 0; i < std::size(kVariants); ++i) {
        const Variant& v = kVariants[i];
        if (!ok[i] || !runs_here(v) || !timed(v, plan, speed)) continue;
        const Shape& s = plan.shape;
        rows.push_back(time_variant(v, s, cublas, timer));
        const Row& r = rows.back();
        std::printf("time %-26s %s d%-3d h%d/%d q%-5lld kv%-5lld %-15s %9.3f ms %7.1f TFLOP/s (round %d)\n",
                    r.variant.c_str(), dtype_name(s.dtype), s.head_dim, s.q_heads, s.kv_heads, s.q, s.kv,
                    mask_name(s.mask), r.seconds * 1e3, r.tflops, round + 1);
      }
  std::printf("\nmeasured on %s (CUDA events, median of 20, L2 flushed; TFLOP/s = 2.5x forward flops):\n",
              prop.name);
  std::printf("\n| variant | dtype | d | heads q/kv | q | kv | mask | ms | TFLOP/s |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows)
    std::printf("| %s | %s | %d | %d/%d | %lld | %lld | %s | %.3f | %.1f |\n", r.variant.c_str(),
                dtype_name(r.shape.dtype), r.shape.head_dim, r.shape.q_heads, r.shape.kv_heads, r.shape.q,
                r.shape.kv, mask_name(r.shape.mask), r.seconds * 1e3, r.tflops);
  cublasDestroy(cublas);
  for (bool b : ok)
    if (!b) return 1;
  return 0;
}
