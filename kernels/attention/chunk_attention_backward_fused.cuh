// Fused chunk attention backward, FlashAttention-2 style, for sm_80+ (built for
// sm_90a here). One CTA owns kBlockN keys of one kv head: it keeps their dK and
// dV in registers while it walks every query block of every q head of the
// group (GQA reduces in registers, no atomics), and recomputes P from Q, K and
// the given (final) LSE:
//
//   S  = Q K^T,  dP = dO V^T                  (kBlockM, kBlockN)   registers
//   P  = exp2(S scale log2e - LSE log2e)      masked; -inf LSE -> 0
//   dS = P (dP - D)                           P, dS -> shared memory (dtype)
//   dQ = scale dS K                           (kBlockM, kHeadDim)  added to global dQ (DqMode)
//   dV += P^T dO,  dK += dS^T Q               (kBlockN, kHeadDim)  registers, stored once
//
// dQ by reductions into fp32 global dQ (FlashAttention-2's choice): a separate
// dQ pass would redo S, dP and dS K (8 matrix products instead of 5). Either
// red.global.add.v2.f32 from registers (DqMode::kAtomic, any target) or, on
// sm_90, a shared fp32 tile added by cp.reduce.async.bulk, one instruction per
// row (DqMode::kBulk). dQ is fp32 in this API, so no conversion pass follows;
// the preprocessing kernel zeroes it first when not accumulating. Measured in
// kernels/README.md (backward tuning log).
//
// Pipeline: K, V loaded once; Q, dO, LSE, D double-buffered through cp.async,
// step s+1 in flight during step s; two barriers per step (data ready; P/dS
// ready). All bf16/fp16 shared tiles are rows of 16-byte chunks XOR-swizzled by
// (row & 7), so every ldmatrix phase (8 rows, one chunk each) and every 32-bit
// P/dS store of a warp hits 8 distinct bank groups.
// This file: traits, parameters, PTX helpers, the warp GEMM; the kernel is in
// chunk_attention_backward_fused_kernel.cuh, instantiated per dtype in
// chunk_attention_backward_fused_{bf16,fp16}.cu.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/common/ptx.cuh"

namespace ringsim::kernels::fused_bwd {

using fused::cp_async_16;
using fused::cp_async_commit;
using fused::cp_async_wait;
using fused::fast_exp2;
using fused::ldmatrix_x4;
using fused::ldmatrix_x4_trans;
using fused::mma_16816;
using fused::pack2;
using fused::smem_u32;

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kNegInf = -__builtin_huge_valf();
constexpr float kPosInf = __builtin_huge_valf();

__device__ __forceinline__ void cp_async_4(uint32_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}

// dst[0..1] += (a, b) in L2; no return value, so the issuing warp does not wait.
// The vector form needs sm_90 (ptxas rejects it for sm_80); older targets add
// the two floats separately (atomicAdd with the result unused compiles to RED).
__device__ __forceinline__ void red_add_v2(float* dst, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(dst), "f"(a), "f"(b) : "memory");
#else
  atomicAdd(dst, a);
  atomicAdd(dst + 1, b);
#endif
}

// ---- sm_90 bulk reduction (DqMode::kBulk) ----------------------------------
// dst[0 .. bytes/4) += shared src[...] (fp32), done by the copy engine: one
// instruction per row instead of a reduction per element pair per thread;
// each element is added atomically, as red is. Completion tracked per issuing
// thread through bulk groups. Only launched on sm_90 (the host checks); older
// targets compile a trap.
__device__ __forceinline__ void bulk_reduce_add_f32(float* dst, uint32_t src, uint32_t bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [%0], [%1], %2;\n" ::"l"(
                   __cvta_generic_to_global(dst)),
               "r"(src), "r"(bytes)
               : "memory");
#else
  __trap();
#endif
}
__device__ __forceinline__ void bulk_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
#endif
}
// This thread's bulk groups have finished reading shared memory (it may be rewritten).
__device__ __forceinline__ void bulk_wait_read() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
#endif
}
// ... and have completed (before the CTA exits and its shared memory is reused).
__device__ __forceinline__ void bulk_wait_all() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
#endif
}
// Orders this thread's ordinary shared-memory stores before later reads of
// them by the copy engine (the async proxy); a barrier follows.
__device__ __forceinline__ void fence_proxy_async_smem() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// How dQ = scale dS K leaves the CTA each step:
//   kAtomic: red.global.add.v2.f32 from registers (any sm_80+ target);
//   kBulk:   registers -> an fp32 (kBlockM, kHeadDim) tile in shared memory ->
//            one cp.reduce.async.bulk per row, issued after the next step's
//            first barrier (sm_90; the dispatcher picks it on sm_90a builds);
//   kNone:   not computed (timing only: what dQ costs).
enum class DqMode { kAtomic, kBulk, kNone };

// Tiling of one CTA (kWarps warps): kBlockN keys, query blocks of kBlockM rows.
// Each of the three products splits its output over the warps:
//   S, dP  (kBlockM, kBlockN):   kSdPWarpsM x (kWarps / kSdPWarpsM)
//   dK, dV (kBlockN, kHeadDim):  kdKVWarpsN x (kWarps / kdKVWarpsN)
//   dQ     (kBlockM, kHeadDim):  kdQWarpsM  x (kWarps / kdQWarpsM)
template <typename T, int kHeadDim_, int kBlockM_, int kBlockN_, int kWarps_, int kSdPWarpsM,
          int kdKVWarpsN, int kdQWarpsM>
struct BwdTraits {
  using Element = T;
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kBlockM = kBlockM_;   // query rows per step
  static constexpr int kBlockN = kBlockN_;   // keys per CTA
  static constexpr int kWarps = kWarps_;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kChunks = kHeadDim / 8;  // 16-byte chunks per Q/K/V/dO row
  // S and dP: per warp kSdPMTiles m16 x kSdPNTiles n8.
  static constexpr int kSdPRows = kBlockM / kSdPWarpsM, kSdPCols = kBlockN / (kWarps / kSdPWarpsM);
  static constexpr int kSdPMTiles = kSdPRows / 16, kSdPNTiles = kSdPCols / 8;
  static constexpr int kSdPWarpsN = kWarps / kSdPWarpsM;
  // dK and dV: per warp kdKVMTiles m16 (keys) x kdKVNTiles n8 (head_dim).
  static constexpr int kdKVWarpsD = kWarps / kdKVWarpsN;
  static constexpr int kdKVRows = kBlockN / kdKVWarpsN, kdKVCols = kHeadDim / kdKVWarpsD;
  static constexpr int kdKVMTiles = kdKVRows / 16, kdKVNTiles = kdKVCols / 8;
  // dQ: per warp kdQMTiles m16 (queries) x kdQNTiles n8 (head_dim).
  static constexpr int kdQWarpsD = kWarps / kdQWarpsM;
  static constexpr int kdQRows = kBlockM / kdQWarpsM, kdQCols = kHeadDim / kdQWarpsD;
  static constexpr int kdQMTiles = kdQRows / 16, kdQNTiles = kdQCols / 8;
  static constexpr int kQElems = kBlockM * kHeadDim;   // one Q or dO stage
  static constexpr int kKVElems = kBlockN * kHeadDim;  // K or V
  static constexpr int kPElems = kBlockM * kBlockN;    // P or dS
  static constexpr int kSmemBytes =
      (2 * kKVElems + 4 * kQElems + 2 * kPElems) * int(sizeof(T)) + 4 * kBlockM * int(sizeof(float));
  // DqMode::kBulk adds, after the rest: a second dS buffer and the fp32 dQ
  // tile, its rows padded by 8 floats (32 bytes) so the 4 rows of a half
  // warp's 64-bit stores fall on distinct banks (pitch = 8 banks mod 32); rows
  // stay 16-byte aligned for the bulk copy. d128: 161 + 50 = 211 KiB.
  static constexpr int kDqPitch = kHeadDim + 8;
  static constexpr int kBulkExtraBytes = kPElems * int(sizeof(T)) + kBlockM * kDqPitch * int(sizeof(float));
  static_assert(kChunks >= 8 && kBlockN / 8 >= 8, "XOR swizzle over 8 chunks needs rows of >= 128 bytes");
  static_assert(kSdPMTiles >= 1 && kdKVMTiles >= 1 && kdQMTiles >= 1, "warp tiles of >= 16 rows");
  static_assert(kSdPNTiles % 2 == 0 && kdKVNTiles % 2 == 0 && kdQNTiles % 2 == 0,
                "B operands come in pairs of n8 tiles (one ldmatrix.x4)");
  static_assert(kSdPRows * kSdPWarpsM == kBlockM && kSdPCols * kSdPWarpsN == kBlockN, "S tiles cover the block");
  static_assert(kdKVRows * kdKVWarpsN == kBlockN && kdKVCols * kdKVWarpsD == kHeadDim, "dK tiles cover the block");
  static_assert(kdQRows * kdQWarpsM == kBlockM && kdQCols * kdQWarpsD == kHeadDim, "dQ tiles cover the block");
  static_assert((kBlockM * kChunks) % kThreads == 0 && (kBlockN * kChunks) % kThreads == 0,
                "tile loads split evenly over the threads");
  static_assert(2 * kBlockM <= kThreads, "one thread per LSE and per D value of a step");
};

struct BwdParams {
  const void* q;
  const void* k;
  const void* v;
  const void* d_o;
  const float* lse;
  const float* delta;
  float* dq;
  float* dk;
  float* dv;
  long long q_stride, kv_stride, do_stride, dq_stride, dkv_stride;  // elements between tokens
  long long lse_head_stride, delta_head_stride;                      // elements between heads
  int q_tokens, kv_tokens, kv_heads, group;
  float scale, scale_log2;  // softmax scale, and times log2(e)
  bool accumulate;
  bool heads_fastest;  // CTA order: kv heads vary fastest (else key blocks of one head)
};

template <typename T>
__device__ __forceinline__ float2 unpack2(uint32_t bits) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&bits));
  } else {
    return __half22float2(*reinterpret_cast<const __half2*>(&bits));
  }
}

// Element offset of 16-byte chunk `chunk` of row `row` in a swizzled tile.
template <int kRowElems>
__device__ __forceinline__ int swz(int row, int chunk) {
  return row * kRowElems + ((chunk ^ (row & 7)) << 3);
}

// Copies kRows rows of head_dim elements (global row stride `stride`) into a
// swizzled tile; rows >= rows_valid are zero-filled (cp.async src-size 0).
template <class Tr, int kRows>
__device__ __forceinline__ void load_rows(typename Tr::Element* s_tile,
                                          const typename Tr::Element* g_tile, long long stride,
                                          int rows_valid) {
  constexpr int kPerThread = kRows * Tr::kChunks / Tr::kThreads;
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int id = threadIdx.x + i * Tr::kThreads;
    const int row = id / Tr::kChunks, chunk = id % Tr::kChunks;
    const bool ok = row < rows_valid;
    const auto* src = ok ? g_tile + row * stride + chunk * 8 : g_tile;
    cp_async_16(smem_u32(s_tile + swz<Tr::kHeadDim>(row, chunk)), src, ok ? 16 : 0);
  }
}

// acc (kMT m16 x kNT n8 tiles) += A B over kKSteps k16 steps, operands from
// swizzled shared tiles through ldmatrix:
//   kATrans false: A is a stored (M, K) tile, rows a_row0..; true: A is the
//                  transpose of a stored (K, M) tile (ldmatrix.trans), A row
//                  a_row0 = stored column a_row0.
//   kBStoredKN false: B[k][n] = stored[n][k] (K^T, V^T); true: B = stored (K, N)
//                  tile (ldmatrix.trans), columns b_col0...
template <typename T, int kMT, int kNT, int kKSteps, int kARowElems, int kBRowElems, bool kATrans,
          bool kBStoredKN>
__device__ __forceinline__ void warp_gemm(float (&acc)[kMT][kNT][4], const T* s_a, int a_row0,
                                          const T* s_b, int b_col0) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int ks = 0; ks < kKSteps; ++ks) {
    uint32_t a[kMT][4];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
      const int r0 = a_row0 + mt * 16;
      if constexpr (kATrans)
        ldmatrix_x4_trans(a[mt], smem_u32(s_a + swz<kARowElems>(ks * 16 + (lane % 8) + (lane / 16) * 8,
                                                                 r0 / 8 + ((lane / 8) & 1))));
      else
        ldmatrix_x4(a[mt], smem_u32(s_a + swz<kARowElems>(r0 + (lane % 8) + ((lane / 8) & 1) * 8,
                                                           ks * 2 + lane / 16)));
    }
#pragma unroll
    for (int np = 0; np < kNT / 2; ++np) {
      const int n0 = b_col0 + np * 16;
      uint32_t b[4];  // b[0], b[1]: n8 tile n0; b[2], b[3]: n8 tile n0 + 8
      if constexpr (kBStoredKN)
        ldmatrix_x4_trans(b, smem_u32(s_b + swz<kBRowElems>(ks * 16 + (lane % 8) + ((lane / 8) & 1) * 8,
                                                             n0 / 8 + lane / 16)));
      else
        ldmatrix_x4(b, smem_u32(s_b + swz<kBRowElems>(n0 + (lane % 8) + (lane / 16) * 8,
                                                       ks * 2 + ((lane / 8) & 1))));
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        mma_16816<T>(acc[mt][2 * np], a[mt], b[0], b[1]);
        mma_16816<T>(acc[mt][2 * np + 1], a[mt], b[2], b[3]);
      }
    }
  }
}

}  // namespace ringsim::kernels::fused_bwd
