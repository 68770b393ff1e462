// Fused chunk attention forward, FlashAttention-2 style, for sm_80+ (built for
// sm_90a here). One CTA computes kBlockM query rows of one head against the
// whole key/value block; scores live only in registers.
//
//   - mma.sync m16n8k16 (bf16/fp16 in, fp32 accumulate); operands from shared
//     memory through ldmatrix (.trans for V).
//   - Q is loaded once to shared memory; with one m16 tile per warp it then
//     lives in registers, with two it is re-read per k-step (FusedTraits).
//   - K and V tiles stream through a two-stage cp.async ring each; K[n+1] is in
//     flight during S = Q K[n]^T, V[n+1] during O += P V[n].
//   - Online softmax in the log2 domain: p = exp2(s * scale * log2e - m').
//   - Shared-memory rows are 16-byte chunks XOR-swizzled by (row & 7), so the 8
//     row addresses of one ldmatrix phase hit 8 different bank groups.
// Instantiated per dtype in chunk_attention_fused_{bf16,fp16}.cu.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/common/ptx.cuh"

namespace ringsim::kernels::fused {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr float kNegInf = -__builtin_huge_valf();
constexpr float kRescaleLog2 = 8.f;  // lazy rescale: P stays <= 2^8

// kWarps warps, each owning kMTiles m16 row tiles (16 * kMTiles query rows).
// With one m-tile Q stays in registers; with two, Q fragments are re-read from
// shared memory each k-step, but every K/V fragment feeds two MMAs instead of
// one: half the ldmatrix traffic per MMA, which bounds the one-m-tile kernel
// (one 512-byte ldmatrix.x4 per two MMAs = 2 shared-memory clocks per MMA clock).
//
// kOneBarrier: K[n+1] and V[n+1] are issued together at the top of iteration n
// and waited for at the top of n+1, one barrier per iteration; the softmax of
// one m-tile can then overlap the P V MMAs of the other (no barrier between).
// Otherwise V[n+1] is issued mid-iteration, behind a second barrier.
//
// kLazyRescale (FlashAttention-4's trick): the running max, and with it the
// O and sum rescale, moves only when some row of the warp's m-tile grew by more
// than kRescaleLog2; meanwhile p = exp2(s - stale max) <= 2^kRescaleLog2, safe
// in fp32 sums and bf16/fp16 P. Skips most of the 128 FMULs per thread per block.
template <typename T, int kHeadDim_, int kBlockN_, int kWarps_, int kMTiles_, int kMinBlocks_,
          bool kOneBarrier_ = false, bool kLazyRescale_ = false>
struct FusedTraits {
  static constexpr bool kOneBarrier = kOneBarrier_;
  static constexpr bool kLazyRescale = kLazyRescale_;
  using Element = T;
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kBlockN = kBlockN_;   // keys per pipeline stage
  static constexpr int kWarps = kWarps_;
  static constexpr int kMTiles = kMTiles_;   // m16 tiles per warp
  static constexpr int kMinBlocks = kMinBlocks_;  // CTAs per SM the registers must allow
  static constexpr int kBlockM = kWarps * kMTiles * 16;  // query rows per CTA
  static constexpr bool kQInRegs = kMTiles == 1;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kStages = 2;          // K and V rings
  static constexpr int kChunkElems = 8;      // one 16-byte cp.async / ldmatrix row
  static constexpr int kChunksPerRow = kHeadDim / kChunkElems;
  static constexpr int kKSteps = kHeadDim / 16;   // k-steps of S = Q K^T
  static constexpr int kSTiles = kBlockN / 8;     // n8 tiles of S per m-tile
  static constexpr int kOTiles = kHeadDim / 8;    // n8 tiles of O per m-tile
  static constexpr int kPSteps = kBlockN / 16;    // k-steps of O = P V
  static constexpr int kQElems = kBlockM * kHeadDim;
  static constexpr int kKVElems = kBlockN * kHeadDim;
  static constexpr int kSmemBytes = (kQElems + 2 * kStages * kKVElems) * int(sizeof(T));
  static_assert(kChunksPerRow >= 8, "XOR swizzle over 8 chunks needs rows of >= 128 bytes");
  static_assert((kBlockN * kChunksPerRow) % kThreads == 0, "K/V tile loads split evenly");
  static_assert((kBlockM * kChunksPerRow) % kThreads == 0, "Q tile loads split evenly");
  static_assert(kBlockN % 16 == 0 && kHeadDim % 16 == 0, "mma k-steps of 16");
};

struct FusedParams {
  const void* q;
  const void* k;
  const void* v;
  float* o;
  float* lse;
  long long q_stride, kv_stride, o_stride, lse_head_stride;  // elements
  int q_tokens, kv_tokens;
  int group;            // q_heads / kv_heads
  float scale_log2;     // softmax_scale * log2(e)
};

// ---- shared-memory tiles --------------------------------------------------

// Element offset of 16-byte chunk `chunk` of row `row` in a swizzled tile.
template <class Tr>
__device__ __forceinline__ int swizzle(int row, int chunk) {
  return row * Tr::kHeadDim + ((chunk ^ (row & 7)) * Tr::kChunkElems);
}

// Copies kRows rows of head_dim elements (global row stride `stride`) into a
// swizzled tile; rows >= rows_valid are zero-filled (cp.async src-size 0).
template <class Tr, int kRows>
__device__ __forceinline__ void load_tile(typename Tr::Element* s_tile,
                                          const typename Tr::Element* g_tile, long long stride,
                                          int rows_valid) {
  constexpr int kPerThread = kRows * Tr::kChunksPerRow / Tr::kThreads;
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int id = threadIdx.x + i * Tr::kThreads;
    const int row = id / Tr::kChunksPerRow, chunk = id % Tr::kChunksPerRow;
    const bool ok = row < rows_valid;
    const auto* src = ok ? g_tile + row * stride + chunk * Tr::kChunkElems : g_tile;
    cp_async_16(smem_u32(s_tile + swizzle<Tr>(row, chunk)), src, ok ? 16 : 0);
  }
}

// ---- the kernel -----------------------------------------------------------

// Per-thread softmax state: rows g and g+8 of an m16 tile (g = lane / 4).
struct RowState {
  float max[2];  // running max of scores * scale * log2(e) (maybe stale, see kLazyRescale)
  float sum[2];  // running sum of exp2(...), this thread's columns only
};

template <class Tr>
__device__ __forceinline__ void mask_scores(float (&s)[Tr::kSTiles][4], int row0, int col0,
                                            int kv_tokens, bool diagonal) {
#pragma unroll
  for (int j = 0; j < Tr::kSTiles; ++j) {
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const int i = row0 + (c >> 1) * 8, col = col0 + j * 8 + (c & 1);
      if (col >= kv_tokens || (diagonal && col > i)) s[j][c] = kNegInf;
    }
  }
}

// Row max of row r (0: g, 1: g+8) over one S tile, times scale * log2(e).
template <class Tr>
__device__ __forceinline__ float tile_row_max(const float (&s)[Tr::kSTiles][4], int r,
                                              float scale_log2) {
  float mx = kNegInf;
#pragma unroll
  for (int j = 0; j < Tr::kSTiles; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
  mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));  // the 4 threads of a row
  mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
  return mx * scale_log2;  // scale > 0: -inf stays -inf
}

// Moves row r's max to include mx (scaled), rescaling its sum and O.
template <class Tr>
__device__ __forceinline__ void rescale_row(float (&o)[Tr::kOTiles][4], RowState& st, int r,
                                            float mx) {
  const float m_new = fmaxf(st.max[r], mx);
  const float alpha = fast_exp2(st.max[r] - (m_new == kNegInf ? 0.f : m_new));  // 0 from -inf
  st.max[r] = m_new;
  st.sum[r] *= alpha;
#pragma unroll
  for (int j = 0; j < Tr::kOTiles; ++j) {
    o[j][2 * r] *= alpha;
    o[j][2 * r + 1] *= alpha;
  }
}

// p = exp2(s * scale * log2(e) - max) for row r; adds the row's sum.
template <class Tr>
__device__ __forceinline__ void exp_row(float (&s)[Tr::kSTiles][4], RowState& st, int r,
                                        float scale_log2) {
  const float sub = st.max[r] == kNegInf ? 0.f : st.max[r];  // no (-inf) - (-inf)
  float sum = 0.f;
#pragma unroll
  for (int j = 0; j < Tr::kSTiles; ++j) {
    s[j][2 * r] = fast_exp2(fmaf(s[j][2 * r], scale_log2, -sub));
    s[j][2 * r + 1] = fast_exp2(fmaf(s[j][2 * r + 1], scale_log2, -sub));
    sum += s[j][2 * r] + s[j][2 * r + 1];
  }
  st.sum[r] += sum;
}

// Online softmax over one S tile: updates max/sum, rescales O, turns s into p.
template <class Tr>
__device__ __forceinline__ void softmax_step(float (&s)[Tr::kSTiles][4],
                                             float (&o)[Tr::kOTiles][4], RowState& st,
                                             float scale_log2) {
  if constexpr (Tr::kLazyRescale) {
    const float mx0 = tile_row_max<Tr>(s, 0, scale_log2), mx1 = tile_row_max<Tr>(s, 1, scale_log2);
    // Warp-uniform vote: no divergence around the FMULs.
    if (__any_sync(0xffffffffu, mx0 > st.max[0] + kRescaleLog2 || mx1 > st.max[1] + kRescaleLog2)) {
      rescale_row<Tr>(o, st, 0, mx0);
      rescale_row<Tr>(o, st, 1, mx1);
    }
    exp_row<Tr>(s, st, 0, scale_log2);
    exp_row<Tr>(s, st, 1, scale_log2);
  } else {
#pragma unroll
    for (int r = 0; r < 2; ++r) {  // row by row: fewer live registers
      rescale_row<Tr>(o, st, r, tile_row_max<Tr>(s, r, scale_log2));
      exp_row<Tr>(s, st, r, scale_log2);
    }
  }
}

template <class Tr>
__device__ __forceinline__ void store_output(const FusedParams& p, float (&o)[Tr::kOTiles][4],
                                             RowState& st, int head, int row0) {
  const int t = threadIdx.x % 4;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float sum = st.sum[r];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int row = row0 + r * 8;
    if (row >= p.q_tokens) continue;
    const float inv = sum > 0.f ? 1.f / sum : 0.f;
    float* o_row = p.o + row * p.o_stride + head * Tr::kHeadDim + 2 * t;
#pragma unroll
    for (int j = 0; j < Tr::kOTiles; ++j)
      *reinterpret_cast<float2*>(o_row + j * 8) = make_float2(o[j][2 * r] * inv, o[j][2 * r + 1] * inv);
    if (t == 0)
      p.lse[head * p.lse_head_stride + row] =
          sum > 0.f ? (st.max[r] + log2f(sum)) * kLn2 : kNegInf;
  }
}

template <class Tr, bool kDiagonal>
__global__ void __launch_bounds__(Tr::kThreads, Tr::kMinBlocks)
    fused_attention_kernel(const FusedParams p) {
  using T = typename Tr::Element;
  constexpr int kM = Tr::kMTiles;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* s_q = reinterpret_cast<T*>(smem_raw);        // (kBlockM, kHeadDim)
  T* s_k = s_q + Tr::kQElems;                     // (kStages, kBlockN, kHeadDim)
  T* s_v = s_k + Tr::kStages * Tr::kKVElems;      // (kStages, kBlockN, kHeadDim)

  // Diagonal blocks: the last query tiles have the most keys; launch them first.
  const int m_block = kDiagonal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
  const int head = blockIdx.y, kv_head = head / p.group;
  const int m0 = m_block * Tr::kBlockM;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int warp_row = warp * kM * 16;  // first row of this warp's m-tiles in the CTA

  const T* g_q = static_cast<const T*>(p.q) + m0 * p.q_stride + head * Tr::kHeadDim;
  const T* g_k = static_cast<const T*>(p.k) + kv_head * Tr::kHeadDim;
  const T* g_v = static_cast<const T*>(p.v) + kv_head * Tr::kHeadDim;
  int n_blocks = (p.kv_tokens + Tr::kBlockN - 1) / Tr::kBlockN;
  if (kDiagonal) n_blocks = min(n_blocks, (m0 + Tr::kBlockM + Tr::kBlockN - 1) / Tr::kBlockN);

  load_tile<Tr, Tr::kBlockM>(s_q, g_q, p.q_stride, p.q_tokens - m0);
  load_tile<Tr, Tr::kBlockN>(s_k, g_k, p.kv_stride, p.kv_tokens);
  cp_async_commit();                                             // group: Q, K[0]
  load_tile<Tr, Tr::kBlockN>(s_v, g_v, p.kv_stride, p.kv_tokens);
  cp_async_commit();                                             // group: V[0]
  cp_async_wait<1>();
  __syncthreads();

  // A operand of Q for m-tile mt, k-step kk: (16 rows, 16 of head_dim).
  const int q_lane_row = warp_row + (lane % 8) + ((lane / 8) & 1) * 8;
  auto load_q = [&](uint32_t (&frag)[4], int mt, int kk) {
    ldmatrix_x4(frag, smem_u32(s_q + swizzle<Tr>(q_lane_row + mt * 16, kk * 2 + lane / 16)));
  };
  uint32_t q_regs[Tr::kQInRegs ? Tr::kKSteps : 1][4];  // (16 rows, kHeadDim) when kQInRegs
  if constexpr (Tr::kQInRegs) {
#pragma unroll
    for (int kk = 0; kk < Tr::kKSteps; ++kk) load_q(q_regs[kk], 0, kk);
  }

  float o_acc[kM][Tr::kOTiles][4] = {};  // (kM x 16 rows, kHeadDim) fp32
  RowState st[kM];
#pragma unroll
  for (int mt = 0; mt < kM; ++mt) st[mt] = RowState{{kNegInf, kNegInf}, {0.f, 0.f}};
  const int row0 = m0 + warp_row + lane / 4;  // query row of c0/c1 of m-tile 0 (c2/c3: +8)

  for (int n = 0; n < n_blocks; ++n) {
    const int stage = n % Tr::kStages, next = (n + 1) % Tr::kStages;
    const T* g_k_next = g_k + (n + 1) * Tr::kBlockN * p.kv_stride;
    const T* g_v_next = g_v + (n + 1) * Tr::kBlockN * p.kv_stride;
    const int rows_next = p.kv_tokens - (n + 1) * Tr::kBlockN;
    if constexpr (Tr::kOneBarrier) {
      cp_async_wait<0>();  // K[n], V[n] landed
      __syncthreads();     // ... for every thread; and everyone is done with stage `next`
      if (n + 1 < n_blocks) {
        load_tile<Tr, Tr::kBlockN>(s_k + next * Tr::kKVElems, g_k_next, p.kv_stride, rows_next);
        load_tile<Tr, Tr::kBlockN>(s_v + next * Tr::kKVElems, g_v_next, p.kv_stride, rows_next);
      }
      cp_async_commit();  // group: K[n+1], V[n+1]
    } else {
      cp_async_wait<1>();  // K[n] landed (V[n] may be in flight)
      __syncthreads();     // ... for every thread; and everyone is done with stage `next`
      if (n + 1 < n_blocks)
        load_tile<Tr, Tr::kBlockN>(s_k + next * Tr::kKVElems, g_k_next, p.kv_stride, rows_next);
      cp_async_commit();  // group: K[n+1] (maybe empty, keeps the count uniform)
    }

    float s_acc[kM][Tr::kSTiles][4] = {};  // (kM x 16 rows, kBlockN) fp32 scores
    const T* s_kn = s_k + stage * Tr::kKVElems;
#pragma unroll
    for (int kk = 0; kk < Tr::kKSteps; ++kk) {
      uint32_t q_frag[kM][4];
      if constexpr (Tr::kQInRegs) {
#pragma unroll
        for (int i = 0; i < 4; ++i) q_frag[0][i] = q_regs[kk][i];
      } else {
#pragma unroll
        for (int mt = 0; mt < kM; ++mt) load_q(q_frag[mt], mt, kk);
      }
#pragma unroll
      for (int np = 0; np < Tr::kSTiles / 2; ++np) {
        uint32_t b[4];  // K rows np*16.., head_dim kk*16..: two n8 B operands
        const int key = np * 16 + (lane / 16) * 8 + (lane % 8);
        ldmatrix_x4(b, smem_u32(s_kn + swizzle<Tr>(key, kk * 2 + ((lane / 8) & 1))));
#pragma unroll
        for (int mt = 0; mt < kM; ++mt) {
          mma_16816<T>(s_acc[mt][2 * np], q_frag[mt], b[0], b[1]);
          mma_16816<T>(s_acc[mt][2 * np + 1], q_frag[mt], b[2], b[3]);
        }
      }
    }
    const int col0 = n * Tr::kBlockN;
    const bool edge = col0 + Tr::kBlockN > p.kv_tokens;
    const bool diag = kDiagonal && col0 + Tr::kBlockN - 1 > m0;
    uint32_t p_frag[kM][Tr::kPSteps][4];  // (kM x 16 rows, kBlockN) as A operands
#pragma unroll
    for (int mt = 0; mt < kM; ++mt) {
      if (edge || diag)
        mask_scores<Tr>(s_acc[mt], row0 + mt * 16, col0 + 2 * (lane % 4), p.kv_tokens, kDiagonal);
      softmax_step<Tr>(s_acc[mt], o_acc[mt], st[mt], p.scale_log2);
#pragma unroll
      for (int ks = 0; ks < Tr::kPSteps; ++ks) {
        p_frag[mt][ks][0] = pack2<T>(s_acc[mt][2 * ks][0], s_acc[mt][2 * ks][1]);
        p_frag[mt][ks][1] = pack2<T>(s_acc[mt][2 * ks][2], s_acc[mt][2 * ks][3]);
        p_frag[mt][ks][2] = pack2<T>(s_acc[mt][2 * ks + 1][0], s_acc[mt][2 * ks + 1][1]);
        p_frag[mt][ks][3] = pack2<T>(s_acc[mt][2 * ks + 1][2], s_acc[mt][2 * ks + 1][3]);
      }
    }

    if constexpr (!Tr::kOneBarrier) {
      cp_async_wait<1>();  // V[n] landed (K[n+1] may be in flight)
      __syncthreads();
      if (n + 1 < n_blocks)
        load_tile<Tr, Tr::kBlockN>(s_v + next * Tr::kKVElems, g_v_next, p.kv_stride, rows_next);
      cp_async_commit();  // group: V[n+1]
    }

    const T* s_vn = s_v + stage * Tr::kKVElems;
#pragma unroll
    for (int ks = 0; ks < Tr::kPSteps; ++ks) {
#pragma unroll
      for (int dp = 0; dp < Tr::kOTiles / 2; ++dp) {
        uint32_t b[4];  // V rows ks*16.., head_dim dp*16..: two n8 B operands (transposed)
        const int key = ks * 16 + (lane % 8) + ((lane / 8) & 1) * 8;
        ldmatrix_x4_trans(b, smem_u32(s_vn + swizzle<Tr>(key, dp * 2 + lane / 16)));
#pragma unroll
        for (int mt = 0; mt < kM; ++mt) {
          mma_16816<T>(o_acc[mt][2 * dp], p_frag[mt][ks], b[0], b[1]);
          mma_16816<T>(o_acc[mt][2 * dp + 1], p_frag[mt][ks], b[2], b[3]);
        }
      }
    }
  }
  cp_async_wait<0>();
#pragma unroll
  for (int mt = 0; mt < kM; ++mt) store_output<Tr>(p, o_acc[mt], st[mt], head, row0 + mt * 16);
}

}  // namespace ringsim::kernels::fused
