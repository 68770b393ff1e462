// Consumer warpgroups and the kernel entry of the Hopper chunk-attention
// kernel (see chunk_attention_sm90.cuh for the design). Included by it.
#pragma once

namespace ringsim::kernels::sm90 {

// Named barriers 1 and 2: consumer 0's and consumer 1's turn to issue.
constexpr int kTurnBarrier = 1;
constexpr int kTurnThreads = 256;  // the waiting consumer's 128 + the signalling one's 128

// -inf outside the kv range and, for diagonal masks, above the diagonal; only
// blocks that reach either are touched (the first block, and the diagonal one).
template <class Tr, bool kDiagonal>
__device__ __forceinline__ void mask_block(float (&s)[Tr::kSTiles][4], const FusedParams& p, int n,
                                           int wg_row0, int row0) {
  const int col0 = n * Tr::kBlockN;
  const bool edge = col0 + Tr::kBlockN > p.kv_tokens;
  const bool diagonal = kDiagonal && col0 + Tr::kBlockN - 1 > wg_row0;
  if (edge || diagonal)
    fused::mask_scores<Tr>(s, row0, col0 + 2 * (threadIdx.x % 4), p.kv_tokens, kDiagonal);
}

// Where one consumer warpgroup's rows of a tile are.
struct ConsumerRows {
  int wg;          // 0 or 1
  int wg_row0;     // first query row of the warpgroup
  int row0;        // this thread's accumulator rows: row0 and row0 + 8
  uint32_t q;      // shared-memory address of the warpgroup's Q rows
};

// Per-tile accumulators and softmax state of one consumer thread.
template <class Tr>
struct ConsumerRegs {
  float o[Tr::kOTiles][4] = {};  // (16 rows per warp, head_dim) fp32
  float s[Tr::kSTiles][4];       // (16 rows per warp, kBlockN) fp32 scores, then p
  uint32_t pa[Tr::kPSteps][4];   // p as A fragments
  float alpha[2];                // O scale of a moved row max
  RowState st{{fused::kNegInf, fused::kNegInf}, {0.f, 0.f}};
};

// The tile's first block (n = nb - 1): S = Q K^T, waited for; softmax -> P.
template <class Tr, bool kDiagonal>
__device__ __forceinline__ void first_block(const SmemMap<Tr>& sm, const FusedParams& p,
                                            const ConsumerRows& r, int nb, Ring<Tr>& k_ring,
                                            ConsumerRegs<Tr>& x) {
  mbar_wait(sm.k_full(k_ring.stage()), k_ring.parity());
  wgmma_fence();
  issue_qk<Tr>(x.s, r.q, sm.k(k_ring.stage()));
  wgmma_commit();
  wgmma_wait<0>();
  fence_operand(x.s);
  release(sm.k_empty(k_ring.stage()));
  ++k_ring.it;
  if (nb == 1) release(sm.q_empty());
  mask_block<Tr, kDiagonal>(x.s, p, nb - 1, r.wg_row0, r.row0);
  softmax_block<Tr>(x.s, x.st, p.scale_log2, x.alpha);  // O is still 0: nothing to scale
  to_a_fragments<Tr>(x.s, x.pa);
}

// Block n: [turn] S[n] = Q K^T and O += P[n+1] V[n+1] issued together [turn
// handed over]; softmax of S[n] while the P V runs; then P = S[n], O *= alpha.
template <class Tr, bool kDiagonal>
__device__ __forceinline__ void overlapped_block(const SmemMap<Tr>& sm, const FusedParams& p,
                                                 const ConsumerRows& r, int n, Ring<Tr>& k_ring,
                                                 Ring<Tr>& v_ring, ConsumerRegs<Tr>& x) {
  mbar_wait(sm.k_full(k_ring.stage()), k_ring.parity());
  named_bar_sync(kTurnBarrier + r.wg, kTurnThreads);
  wgmma_fence();
  issue_qk<Tr>(x.s, r.q, sm.k(k_ring.stage()));
  wgmma_commit();
  mbar_wait(sm.v_full(v_ring.stage()), v_ring.parity());
  issue_pv<Tr>(x.o, x.pa, sm.v(v_ring.stage()));
  wgmma_commit();
  named_bar_arrive(kTurnBarrier + 1 - r.wg, kTurnThreads);
  wgmma_wait<1>();  // S[n] done (the P V may still run)
  fence_operand(x.s);
  release(sm.k_empty(k_ring.stage()));
  ++k_ring.it;
  if (n == 0) release(sm.q_empty());
  mask_block<Tr, kDiagonal>(x.s, p, n, r.wg_row0, r.row0);
  const bool rescale = softmax_block<Tr>(x.s, x.st, p.scale_log2, x.alpha);
  wgmma_wait<0>();
  fence_operand(x.o);
  fence_operand(x.pa);
  release(sm.v_empty(v_ring.stage()));
  ++v_ring.it;
  to_a_fragments<Tr>(x.s, x.pa);
  if (rescale) scale_o<Tr>(x.o, x.alpha);
}

// The tile's last product O += P[0] V[0], waited for.
template <class Tr>
__device__ __forceinline__ void last_pv(const SmemMap<Tr>& sm, Ring<Tr>& v_ring,
                                        ConsumerRegs<Tr>& x) {
  mbar_wait(sm.v_full(v_ring.stage()), v_ring.parity());
  wgmma_fence();
  issue_pv<Tr>(x.o, x.pa, sm.v(v_ring.stage()));
  wgmma_commit();
  wgmma_wait<0>();
  fence_operand(x.o);
  release(sm.v_empty(v_ring.stage()));
  ++v_ring.it;
}

// One consumer warpgroup (wg 0 or 1): rows wg*64.. of every tile of this CTA,
// key blocks n = nb-1 down to 0 (first_block, overlapped_block for the rest,
// last_pv), then O / sum and LSE stored.
template <class Tr, bool kDiagonal>
__device__ void consumer(const SmemMap<Tr>& sm, const FusedParams& p, const TileSpace& ts, int wg) {
  const int tid = threadIdx.x % 128, warp = tid / 32, lane = tid % 32;
  Ring<Tr> k_ring, v_ring;
  if (wg == 1) named_bar_arrive(kTurnBarrier + 0, kTurnThreads);  // consumer 0 issues first
  int tile_it = 0;
  for (int t = blockIdx.x; t < ts.tiles; t += gridDim.x, ++tile_it) {
    const int head = t / ts.m_blocks, i = t % ts.m_blocks;
    const int m0 = (kDiagonal ? ts.m_blocks - 1 - i : i) * Tr::kBlockM;
    const int nb = n_blocks_of(m0, Tr::kBlockM, p.kv_tokens, Tr::kBlockN, kDiagonal);
    const int wg_row0 = m0 + wg * Tr::kRowsPerConsumer;
    const ConsumerRows r{wg, wg_row0, wg_row0 + 16 * warp + lane / 4,
                         sm.q() + wg * Tr::kRowsPerConsumer * kSwizzleRowBytes};
    ConsumerRegs<Tr> x;  // O = 0, row max -inf, row sum 0
    mbar_wait(sm.q_full(), tile_it & 1);
    first_block<Tr, kDiagonal>(sm, p, r, nb, k_ring, x);
    for (int n = nb - 2; n >= 0; --n) overlapped_block<Tr, kDiagonal>(sm, p, r, n, k_ring, v_ring, x);
    last_pv<Tr>(sm, v_ring, x);
    fused::store_output<Tr>(p, x.o, x.st, head, r.row0);
  }
  // Consumer 1 handed over one turn more than consumer 0 took: take it, so
  // both named barriers end balanced.
  if (wg == 0) named_bar_sync(kTurnBarrier + 0, kTurnThreads);
}

// grid: min(tiles, SMs) persistent CTAs; block: Tr::kThreads; dynamic shared
// memory Tr::kSmemBytes. Tensor maps by value (__grid_constant__) so TMA
// reads them from parameter space.
template <class Tr, bool kDiagonal>
__global__ void __launch_bounds__(Tr::kThreads, 1)
    attention_kernel(const __grid_constant__ CUtensorMap tm_q,
                     const __grid_constant__ CUtensorMap tm_k,
                     const __grid_constant__ CUtensorMap tm_v, const FusedParams p,
                     const TileSpace ts) {
#if RINGSIM_SM90A_DEVICE
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const SmemMap<Tr> sm{(fused::smem_u32(smem_raw) + kSwizzleAtomBytes - 1) &
                       ~(kSwizzleAtomBytes - 1)};
  if (threadIdx.x == 0) {
    mbar_init(sm.q_full(), 1);  // the producer's arrive.expect_tx
    mbar_init(sm.q_empty(), kConsumerWarps<Tr>);
    for (int s = 0; s < Tr::kStages; ++s) {
      mbar_init(sm.k_full(s), 1);
      mbar_init(sm.k_empty(s), kConsumerWarps<Tr>);
      mbar_init(sm.v_full(s), 1);
      mbar_init(sm.v_empty(s), kConsumerWarps<Tr>);
    }
    fence_barrier_init();
  }
  __syncthreads();
  const int wg = threadIdx.x / 128;
  if (wg == 0) {
    warpgroup_reg_dealloc<Tr::kProducerRegs>();
    if (threadIdx.x == 0) producer<Tr, kDiagonal>(sm, &tm_q, &tm_k, &tm_v, p, ts);
  } else {
    warpgroup_reg_alloc<Tr::kConsumerRegs>();
    consumer<Tr, kDiagonal>(sm, p, ts, wg - 1);
  }
#endif
}

}  // namespace ringsim::kernels::sm90
