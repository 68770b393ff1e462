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
  T* ds_odd;    // (kBlockM, kBlockN), DqMode::kBulk only: dS of odd steps (kBulkExtraBytes)
  float* dq;    // (kBlockM, kDqPitch) fp32, DqMode::kBulk only
  __device__ explicit BwdSmem(unsigned char* raw) {
    k = reinterpret_cast<T*>(raw);
    v = k + Tr::kKVElems;
    q = v + Tr::kKVElems;
    d_o = q + 2 * Tr::kQElems;
    p = d_o + 2 * Tr::kQElems;
    ds = p + Tr::kPElems;
    lse = reinterpret_cast<float*>(ds + Tr::kPElems);
    delta = lse + 2 * Tr::kBlockM;
    ds_odd = reinterpret_cast<T*>(delta + 2 * Tr::kBlockM);
    dq = reinterpret_cast<float*>(ds_odd + Tr::kPElems);
  }
  // Where step s's dS goes: one buffer, or (kBulk) alternating, since dQ of
  // step s is then computed after the next step's first barrier.
  __device__ T* ds_of(int s, bool alternate) const { return alternate && (s & 1) ? ds_odd : ds; }
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

// P = exp2(S scale log2e - LSE log2e) of this warp's S tile, packed (dtype)
// into p_packed and stored to shared memory. Elements are masked only when
// `check` (the block is a diagonal or edge block); kMayMask false: the caller
// knows no element is masked, and no compare is emitted.
template <class Tr, bool kDiagonal, bool kMayMask>
__device__ __forceinline__ void scores_to_p(const BwdParams& p, const BwdSmem<Tr>& sm, int stage, int m0, int n0,
                                            int row_w, int col_w, bool check,
                                            const float (&s)[Tr::kSdPMTiles][Tr::kSdPNTiles][4],
                                            uint32_t (&p_packed)[Tr::kSdPMTiles][Tr::kSdPNTiles][2]) {
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
#pragma unroll
  for (int mt = 0; mt < Tr::kSdPMTiles; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = row_w + mt * 16 + g + r * 8;  // local query row
      const float lse = sm.lse[stage * Tr::kBlockM + row];
      const float lse_log2 = lse == kNegInf ? kPosInf : lse * kLog2e;  // saw no key: P = 0
#pragma unroll
      for (int nt = 0; nt < Tr::kSdPNTiles; ++nt) {
        float pv[2];
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const int col = col_w + nt * 8 + 2 * t + c;  // local key
          const bool masked =
              kMayMask && check && (n0 + col >= p.kv_tokens || (kDiagonal && n0 + col > m0 + row));
          pv[c] = masked ? 0.f : fast_exp2(fmaf(s[mt][nt][2 * r + c], p.scale_log2, -lse_log2));
        }
        p_packed[mt][nt][r] = pack2<typename Tr::Element>(pv[0], pv[1]);
        *reinterpret_cast<uint32_t*>(sm.p + swz<Tr::kBlockN>(row, (col_w + nt * 8) / 8) + 2 * t) =
            p_packed[mt][nt][r];
      }
    }
  }
}

// S = Q K^T for this warp's tile -> P (masked) into shared memory; then
// dP = dO V^T -> dS = P (dP - D) into shared memory; both as dtype. P is kept
// packed (dtype) between the two products: 16 registers instead of 32 (the
// kM64N128 d128 kernel spilled ~100 bytes with fp32 P; ptxas -v).
// kSplitMask: blocks with no masked element (all but the diagonal and edge
// blocks) take a copy of the exp loop without the per-element compares
// (causal 8K: 2 of ~65 steps of a CTA are diagonal); else one loop whose
// compares are guarded by a run-time flag (the original kernel).
template <class Tr, bool kDiagonal, bool kSplitMask>
__device__ __forceinline__ void p_and_ds_to_smem(const BwdParams& p, const BwdSmem<Tr>& sm, int stage,
                                                 int m0, int n0, typename Tr::Element* s_ds) {
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
    if constexpr (kSplitMask) {
      if (edge || diag)
        scores_to_p<Tr, kDiagonal, true>(p, sm, stage, m0, n0, row_w, col_w, true, s, p_packed);
      else
        scores_to_p<Tr, kDiagonal, false>(p, sm, stage, m0, n0, row_w, col_w, false, s, p_packed);
    } else {  // the original kernel: every compare guarded by (edge || diag) at run time
      scores_to_p<Tr, kDiagonal, true>(p, sm, stage, m0, n0, row_w, col_w, edge || diag, s, p_packed);
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
        *reinterpret_cast<uint32_t*>(s_ds + swz<Tr::kBlockN>(row, (col_w + nt * 8) / 8) + 2 * t) =
            pack2<T>(pv.x * (dp[mt][nt][2 * r] - d), pv.y * (dp[mt][nt][2 * r + 1] - d));
      }
    }
  }
}

// dQ[m0.., head] += scale dS K for this warp's tile. kAtomic: added in L2 by
// red.global.add.v2.f32; kBulk: written (scaled) to the shared dQ tile, which
// dq_bulk_issue hands to the copy engine after the next barrier (the caller
// fences first).
template <class Tr, DqMode kMode>
__device__ __forceinline__ void dq_out(const BwdParams& p, const BwdSmem<Tr>& sm, const typename Tr::Element* s_ds,
                                       int head, int m0) {
  using T = typename Tr::Element;
  constexpr int kMT = Tr::kdQMTiles, kNT = Tr::kdQNTiles;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row_w = (warp / Tr::kdQWarpsD) * Tr::kdQRows;
  const int col_w = (warp % Tr::kdQWarpsD) * Tr::kdQCols;
  float dq[kMT][kNT][4] = {};  // (kdQRows, kdQCols) fp32
  warp_gemm<T, kMT, kNT, Tr::kBlockN / 16, Tr::kBlockN, Tr::kHeadDim, false, true>(dq, s_ds, row_w, sm.k, col_w);
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int local_row = row_w + mt * 16 + g + r * 8;
      if constexpr (kMode == DqMode::kBulk) {
        float* dst = sm.dq + local_row * Tr::kDqPitch + col_w + 2 * t;
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
          *reinterpret_cast<float2*>(dst + nt * 8) =
              make_float2(dq[mt][nt][2 * r] * p.scale, dq[mt][nt][2 * r + 1] * p.scale);
      } else {
        const int row = m0 + local_row;
        if (row >= p.q_tokens) continue;
        float* dst = p.dq + row * p.dq_stride + static_cast<long long>(head) * Tr::kHeadDim + col_w + 2 * t;
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
          red_add_v2(dst + nt * 8, dq[mt][nt][2 * r] * p.scale, dq[mt][nt][2 * r + 1] * p.scale);
      }
    }
  }
}

// kBulk: lanes 0..kBlockM/kWarps-1 of every warp each add one row of the
// shared dQ tile (a step's dQ for q head `head`, rows m0..) to global dQ, one
// bulk group each. The instruction takes uniform registers, so ptxas issues a
// warp's rows one after another (ELECT loop, SASS): 8 per warp rather than 32
// in each of two warps. Called after a barrier that follows every thread's
// dq_out and fence_proxy_async_smem; the tile may be rewritten once the same
// threads passed bulk_wait_read() and a barrier followed.
template <class Tr>
__device__ __forceinline__ void dq_bulk_issue(const BwdParams& p, const BwdSmem<Tr>& sm, int head, int m0) {
  constexpr int kRowsPerWarp = Tr::kBlockM / Tr::kWarps;
  static_assert(kRowsPerWarp * Tr::kWarps == Tr::kBlockM && kRowsPerWarp <= 32, "dQ rows split over the warps");
  const int lane = threadIdx.x % 32;
  if (lane >= kRowsPerWarp) return;
  const int row = threadIdx.x / 32 * kRowsPerWarp + lane;
  if (m0 + row < p.q_tokens) {
    float* dst = p.dq + (m0 + row) * p.dq_stride + static_cast<long long>(head) * Tr::kHeadDim;
    bulk_reduce_add_f32(dst, smem_u32(sm.dq + row * Tr::kDqPitch), Tr::kHeadDim * sizeof(float));
  }
  bulk_commit();
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

// kDqMode: how dQ leaves the CTA (DqMode; kNone = timing only, what dQ costs:
// BwdTile::kM64N128NoDq). kSplitMask: see p_and_ds_to_smem.
template <class Tr, bool kDiagonal, DqMode kDqMode = DqMode::kAtomic, bool kSplitMask = false>
__global__ void __launch_bounds__(Tr::kThreads, 1) fused_attention_backward_kernel(const BwdParams p) {
  using T = typename Tr::Element;
  constexpr bool kBulk = kDqMode == DqMode::kBulk;
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
    T* const s_ds = sm.ds_of(s, kBulk);
    cp_async_wait<0>();  // step s (and K, V) landed
    // kBulk: the copy engine has read step s-2's dQ tile (issued a half step
    // ago). Here, beside the wait above (the same DEPBAR on SB0 in SASS), and
    // not just before the dQ stores: ptxas hoisted such a wait up to the bulk
    // issue, a stall on the copy engine every step.
    if constexpr (kBulk) bulk_wait_read();
    __syncthreads();     // ... for every thread; everyone is done with step s-1's buffers but dS (kBulk)
    if constexpr (kBulk) {
      // dQ of step s-1 from its dS (the other buffer) while nothing is in
      // flight: the proxy fence (MEMBAR.CTA in SASS) then waits only for these stores.
      if (s > 0) {
        dq_out<Tr, kDqMode>(p, sm, sm.ds_of(s - 1, true), head_of(s - 1), m0_of(s - 1));
        fence_proxy_async_smem();  // visible to the copy engine after the next barrier
      }
    }
    if (s + 1 < steps) load_step<Tr>(p, sm, stage ^ 1, head_of(s + 1), m0_of(s + 1));
    cp_async_commit();   // group: step s+1 (maybe empty)
    p_and_ds_to_smem<Tr, kDiagonal, kSplitMask>(p, sm, stage, m0, n0, s_ds);
    __syncthreads();     // P and dS complete (kBulk: and step s-1's dQ tile)
    if constexpr (kBulk) {
      if (s > 0) dq_bulk_issue<Tr>(p, sm, head_of(s - 1), m0_of(s - 1));
    } else if constexpr (kDqMode == DqMode::kAtomic) {
      dq_out<Tr, kDqMode>(p, sm, s_ds, head, m0);  // first: its reductions drain during dV, dK
    }
    const T* s_q = sm.q + stage * Tr::kQElems;
    const T* s_do = sm.d_o + stage * Tr::kQElems;
    warp_gemm<T, Tr::kdKVMTiles, Tr::kdKVNTiles, Tr::kBlockM / 16, Tr::kBlockN, Tr::kHeadDim, true, true>(
        dv, sm.p, kv_row_w, s_do, kv_col_w);
    warp_gemm<T, Tr::kdKVMTiles, Tr::kdKVNTiles, Tr::kBlockM / 16, Tr::kBlockN, Tr::kHeadDim, true, true>(
        dk, s_ds, kv_row_w, s_q, kv_col_w);
  }
  cp_async_wait<0>();
  if constexpr (kBulk) {
    if (steps > 0) {  // the last step's dQ
      bulk_wait_read();
      __syncthreads();  // the dQ tile is free
      dq_out<Tr, kDqMode>(p, sm, sm.ds_of(steps - 1, true), head_of(steps - 1), m0_of(steps - 1));
      fence_proxy_async_smem();
      __syncthreads();
      dq_bulk_issue<Tr>(p, sm, head_of(steps - 1), m0_of(steps - 1));
    }
  }
  store_dkv<Tr>(p, p.dv, dv, 1.f, kv_head, n0);
  store_dkv<Tr>(p, p.dk, dk, p.scale, kv_head, n0);
  if constexpr (kBulk) bulk_wait_all();  // before the CTA's shared memory goes to the next CTA
}

}  // namespace ringsim::kernels::fused_bwd
