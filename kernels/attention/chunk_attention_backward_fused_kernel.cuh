// The fused backward kernel (design in chunk_attention_backward_fused.cuh):
// one CTA = kBlockN keys x one kv head; steps = (q head of the group, query block).
#pragma once
#include "kernels/attention/chunk_attention_backward_fused.cuh"

namespace ringsim::kernels::fused_bwd {

// Shared-memory tiles of one CTA (element pointers into dynamic shared memory).
template <class Tr>
struct BwdSmem {
  using T = typename Tr::Element;
  T* k;         // (kBlockN, kHeadDim)
  T* v;         // (kBlockN, kHeadDim)
  T* q;         // (2 stages, kBlockM, kHeadDim)
  T* d_o;       // (2 stages, kBlockM, kHeadDim)
  T* p;         // (kBlockM, kBlockN)
  T* ds;        // (kBlockM, kBlockN)
  float* lse;   // (2 stages, kBlockM)
  float* delta; // (2 stages, kBlockM)
  __device__ explicit BwdSmem(unsigned char* raw) {
    k = reinterpret_cast<T*>(raw);
    v = k + Tr::kKVElems;
    q = v + Tr::kKVElems;
    d_o = q + 2 * Tr::kQElems;
    p = d_o + 2 * Tr::kQElems;
    ds = p + Tr::kPElems;
    lse = reinterpret_cast<float*>(ds + Tr::kPElems);
    delta = lse + 2 * Tr::kBlockM;
  }
};

// Issues the cp.async loads of one step (q head `head`, query rows m0..) into `stage`.
template <class Tr>
__device__ __forceinline__ void load_step(const BwdParams& p, const BwdSmem<Tr>& sm, int stage,
                                          int head, int m0) {
  using T = typename Tr::Element;
  const int rows_valid = p.q_tokens - m0;
  const long long col = static_cast<long long>(head) * Tr::kHeadDim;
  load_rows<Tr, Tr::kBlockM>(sm.q + stage * Tr::kQElems, static_cast<const T*>(p.q) + m0 * p.q_stride + col,
                             p.q_stride, rows_valid);
  load_rows<Tr, Tr::kBlockM>(sm.d_o + stage * Tr::kQElems,
                             static_cast<const T*>(p.d_o) + m0 * p.do_stride + col, p.do_stride, rows_valid);
  // Rows past q_tokens get LSE = D = 0 (zero-fill): their Q and dO rows are
  // zero too, so whatever P they get adds nothing to dK and dV.
  const int t = threadIdx.x;
  if (t < 2 * Tr::kBlockM) {
    const bool is_lse = t < Tr::kBlockM;
    const int row = is_lse ? t : t - Tr::kBlockM;
    const float* g = is_lse ? p.lse + head * p.lse_head_stride : p.delta + head * p.delta_head_stride;
    float* s = (is_lse ? sm.lse : sm.delta) + stage * Tr::kBlockM + row;
    const bool ok = row < rows_valid;
    cp_async_4(smem_u32(s), ok ? g + m0 + row : g, ok ? 4 : 0);
  }
}

// S = Q K^T for this warp's tile -> P (masked) into shared memory; then
// dP = dO V^T -> dS = P (dP - D) into shared memory; both as dtype. P is kept
// packed (dtype) between the two products: 16 registers instead of 32 (the
// kM64N128 d128 kernel spilled ~100 bytes with fp32 P; ptxas -v).
template <class Tr, bool kDiagonal>
__device__ __forceinline__ void p_and_ds_to_smem(const BwdParams& p, const BwdSmem<Tr>& sm, int stage,
                                                 int m0, int n0) {
  using T = typename Tr::Element;
  constexpr int kMT = Tr::kSdPMTiles, kNT = Tr::kSdPNTiles;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row_w = (warp / Tr::kSdPWarpsN) * Tr::kSdPRows;  // first local query row of the warp
  const int col_w = (warp % Tr::kSdPWarpsN) * Tr::kSdPCols;  // first local key of the warp
  const int g = lane / 4, t = lane % 4;
  uint32_t p_packed[kMT][kNT][2];  // (kSdPRows, kSdPCols) dtype pairs: rows g, g + 8
  {
    float s[kMT][kNT][4] = {};  // (kSdPRows, kSdPCols) fp32
    warp_gemm<T, kMT, kNT, Tr::kHeadDim / 16, Tr::kHeadDim, Tr::kHeadDim, false, false>(
        s, sm.q + stage * Tr::kQElems, row_w, sm.k, col_w);
    const bool edge = n0 + Tr::kBlockN > p.kv_tokens;
    const bool diag = kDiagonal && n0 + Tr::kBlockN - 1 > m0;  // some key j > some row i
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int row = row_w + mt * 16 + g + r * 8;  // local query row
        const float lse = sm.lse[stage * Tr::kBlockM + row];
        const float lse_log2 = lse == kNegInf ? kPosInf : lse * kLog2e;  // saw no key: P = 0
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) {
          float pv[2];
#pragma unroll
          for (int c = 0; c < 2; ++c) {
            const int col = col_w + nt * 8 + 2 * t + c;  // local key
            const bool masked =
                (edge || diag) && (n0 + col >= p.kv_tokens || (kDiagonal && n0 + col > m0 + row));
            pv[c] = masked ? 0.f : fast_exp2(fmaf(s[mt][nt][2 * r + c], p.scale_log2, -lse_log2));
          }
          p_packed[mt][nt][r] = pack2<T>(pv[0], pv[1]);
          *reinterpret_cast<uint32_t*>(sm.p + swz<Tr::kBlockN>(row, (col_w + nt * 8) / 8) + 2 * t) =
              p_packed[mt][nt][r];
        }
      }
    }
  }
  float dp[kMT][kNT][4] = {};  // (kSdPRows, kSdPCols) fp32
  warp_gemm<T, kMT, kNT, Tr::kHeadDim / 16, Tr::kHeadDim, Tr::kHeadDim, false, false>(
      dp, sm.d_o + stage * Tr::kQElems, row_w, sm.v, col_w);
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = row_w + mt * 16 + g + r * 8;
      const float d = sm.delta[stage * Tr::kBlockM + row];
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt) {
        const float2 pv = unpack2<T>(p_packed[mt][nt][r]);
        *reinterpret_cast<uint32_t*>(sm.ds + swz<Tr::kBlockN>(row, (col_w + nt * 8) / 8) + 2 * t) =
            pack2<T>(pv.x * (dp[mt][nt][2 * r] - d), pv.y * (dp[mt][nt][2 * r + 1] - d));
      }
    }
  }
}

// dQ[m0.., head] += scale dS K, added in L2 (red.global.add.v2.f32).
template <class Tr>
__device__ __forceinline__ void dq_to_global(const BwdParams& p, const BwdSmem<Tr>& sm, int head, int m0) {
  using T = typename Tr::Element;
  constexpr int kMT = Tr::kdQMTiles, kNT = Tr::kdQNTiles;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row_w = (warp / Tr::kdQWarpsD) * Tr::kdQRows;
  const int col_w = (warp % Tr::kdQWarpsD) * Tr::kdQCols;
  float dq[kMT][kNT][4] = {};  // (kdQRows, kdQCols) fp32
  warp_gemm<T, kMT, kNT, Tr::kBlockN / 16, Tr::kBlockN, Tr::kHeadDim, false, true>(dq, sm.ds, row_w, sm.k, col_w);
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = m0 + row_w + mt * 16 + g + r * 8;
      if (row >= p.q_tokens) continue;
      float* dst = p.dq + row * p.dq_stride + static_cast<long long>(head) * Tr::kHeadDim + col_w + 2 * t;
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt)
        red_add_v2(dst + nt * 8, dq[mt][nt][2 * r] * p.scale, dq[mt][nt][2 * r + 1] * p.scale);
    }
  }
}

// Writes (or adds) one warp's dK or dV tile, times `scale`; rows past kv_tokens skipped.
template <class Tr>
__device__ __forceinline__ void store_dkv(const BwdParams& p, float* out, const float (&acc)[Tr::kdKVMTiles][Tr::kdKVNTiles][4],
                                          float scale, int kv_head, int n0) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row_w = (warp / Tr::kdKVWarpsD) * Tr::kdKVRows;
  const int col_w = (warp % Tr::kdKVWarpsD) * Tr::kdKVCols;
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int mt = 0; mt < Tr::kdKVMTiles; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int key = n0 + row_w + mt * 16 + g + r * 8;
      if (key >= p.kv_tokens) continue;
      float* dst = out + key * p.dkv_stride + static_cast<long long>(kv_head) * Tr::kHeadDim + col_w + 2 * t;
#pragma unroll
      for (int nt = 0; nt < Tr::kdKVNTiles; ++nt) {
        float2 val = make_float2(acc[mt][nt][2 * r] * scale, acc[mt][nt][2 * r + 1] * scale);
        auto* d2 = reinterpret_cast<float2*>(dst + nt * 8);
        if (p.accumulate) {
          const float2 old = *d2;
          val.x += old.x;
          val.y += old.y;
        }
        *d2 = val;
      }
    }
  }
}

// kWriteDq false: timing only (dQ not computed), to measure what dQ's
// reductions cost (BwdTile::kM64N128NoDq; kernels/README.md).
template <class Tr, bool kDiagonal, bool kWriteDq = true>
__global__ void __launch_bounds__(Tr::kThreads, 1) fused_attention_backward_kernel(const BwdParams p) {
  using T = typename Tr::Element;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const BwdSmem<Tr> sm(smem_raw);
  // CTA order. heads_fastest: the first key blocks of every head (on diagonal
  // blocks the ones with the most query blocks) start in the first wave.
  // Otherwise FlashAttention-2's order: all key blocks of one head together,
  // sharing its Q, dO and dQ rows in L2.
  const int n_blocks = (p.kv_tokens + Tr::kBlockN - 1) / Tr::kBlockN;
  const int kv_head = p.heads_fastest ? blockIdx.x % p.kv_heads : blockIdx.x / n_blocks;
  const int n0 = (p.heads_fastest ? blockIdx.x / p.kv_heads : blockIdx.x % n_blocks) * Tr::kBlockN;
  const int warp = threadIdx.x / 32;
  const long long kv_col = static_cast<long long>(kv_head) * Tr::kHeadDim;
  load_rows<Tr, Tr::kBlockN>(sm.k, static_cast<const T*>(p.k) + n0 * p.kv_stride + kv_col, p.kv_stride,
                             p.kv_tokens - n0);
  load_rows<Tr, Tr::kBlockN>(sm.v, static_cast<const T*>(p.v) + n0 * p.kv_stride + kv_col, p.kv_stride,
                             p.kv_tokens - n0);
  cp_async_commit();  // group: K, V

  // Diagonal masks: query rows below n0 see none of these keys.
  const int m_begin = kDiagonal ? n0 / Tr::kBlockM : 0;
  const int m_count = (p.q_tokens + Tr::kBlockM - 1) / Tr::kBlockM - m_begin;
  const int steps = m_count > 0 ? p.group * m_count : 0;
  auto head_of = [&](int s) { return kv_head * p.group + s / m_count; };
  auto m0_of = [&](int s) { return (m_begin + s % m_count) * Tr::kBlockM; };
  if (steps > 0) load_step<Tr>(p, sm, 0, head_of(0), m0_of(0));
  cp_async_commit();  // group: step 0

  float dk[Tr::kdKVMTiles][Tr::kdKVNTiles][4] = {};  // (kdKVRows, kdKVCols) fp32
  float dv[Tr::kdKVMTiles][Tr::kdKVNTiles][4] = {};
  const int kv_row_w = (warp / Tr::kdKVWarpsD) * Tr::kdKVRows;
  const int kv_col_w = (warp % Tr::kdKVWarpsD) * Tr::kdKVCols;
  for (int s = 0; s < steps; ++s) {
    const int stage = s & 1, head = head_of(s), m0 = m0_of(s);
    cp_async_wait<0>();  // step s (and K, V) landed
    __syncthreads();     // ... for every thread; everyone is done with step s-1's buffers
    if (s + 1 < steps) load_step<Tr>(p, sm, stage ^ 1, head_of(s + 1), m0_of(s + 1));
    cp_async_commit();   // group: step s+1 (maybe empty)
    p_and_ds_to_smem<Tr, kDiagonal>(p, sm, stage, m0, n0);
    __syncthreads();     // P and dS complete
    if constexpr (kWriteDq) dq_to_global<Tr>(p, sm, head, m0);  // first: its reductions drain during dV, dK
    const T* s_q = sm.q + stage * Tr::kQElems;
    const T* s_do = sm.d_o + stage * Tr::kQElems;
    warp_gemm<T, Tr::kdKVMTiles, Tr::kdKVNTiles, Tr::kBlockM / 16, Tr::kBlockN, Tr::kHeadDim, true, true>(
        dv, sm.p, kv_row_w, s_do, kv_col_w);
    warp_gemm<T, Tr::kdKVMTiles, Tr::kdKVNTiles, Tr::kBlockM / 16, Tr::kBlockN, Tr::kHeadDim, true, true>(
        dk, sm.ds, kv_row_w, s_q, kv_col_w);
  }
  cp_async_wait<0>();
  store_dkv<Tr>(p, p.dv, dv, 1.f, kv_head, n0);
  store_dkv<Tr>(p, p.dk, dk, p.scale, kv_head, n0);
}

}  // namespace ringsim::kernels::fused_bwd
