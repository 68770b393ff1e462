// Fused chunk attention forward for Hopper (sm_90a), FlashAttention-3 style.
// Same function and outputs as the portable kernel (chunk_attention_fused.cuh,
// whose softmax helpers and epilogue it shares): fp32 O and LSE, GQA, full and
// diagonal (causal / zigzag) masks, sub-view strides.
//
// One persistent CTA per SM walks the (head, 128-row query tile) space with a
// static stride; three warpgroups with separate roles:
//   - producer (warpgroup 0, one thread, setmaxnreg down to 24): bulk tensor
//     copies (TMA) of Q (once per tile) and of K and V blocks into kStages-deep
//     rings, each slot guarded by a full (transaction) and an empty mbarrier;
//   - two consumers (warpgroups 1-2, setmaxnreg up to 240), 64 query rows each:
//     S = Q K^T with wgmma (both operands from shared memory), online softmax
//     in registers, O += P V with wgmma (P from registers, V transposed by the
//     descriptor).
// Two overlaps keep the tensor cores fed while exp2 runs on the SFU:
//   - intra-warpgroup: block n's S = Q K^T is issued together with block
//     n+1's O += P V (blocks go from the last to the first), and the softmax of
//     block n runs while both are in flight;
//   - ping-pong: named barriers let the two consumers issue their matrix
//     products in turn, so one's softmax overlaps the other's products.
// Shared-memory tiles are written by TMA in the 128-byte swizzle and read by
// wgmma through matching descriptors (ptx_sm90.cuh); head_dim 128 is two
// swizzle columns of 64. Only compiled for sm_90a (RINGSIM_SM90A_DEVICE).
#pragma once
#include <cuda.h>  // CUtensorMap

#include "kernels/attention/chunk_attention_fused.cuh"
#include "kernels/common/ptx_sm90.cuh"
#include "kernels/common/wgmma.cuh"

namespace ringsim::kernels::sm90 {

using fused::FusedParams;
using fused::RowState;

// Tiling of the Hopper kernel. kBlockN is the N of the S wgmma (a multiple of
// 16 up to 256 that Wgmma<> provides); kStages the depth of the K and V rings.
// Shipped: <T, d, 128, 2> (auto_sm90_tile has the measurements); 176 keys at
// d128 / 192 at d64 are the alternative (Sm90Tile::kNWide). Two stages: K/V of
// the next block lands during the current one's two products; at d128 n128
// they take 128 KiB of the 160 KiB used. ptxas: 168 registers at entry (the
// __launch_bounds__ cap), 0 bytes of spills in every instantiation.
template <typename T, int kHeadDim_, int kBlockN_, int kStages_>
struct Sm90Traits {
  using Element = T;
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kBlockN = kBlockN_;              // keys per K/V stage
  static constexpr int kStages = kStages_;
  static constexpr int kConsumers = 2;                  // consumer warpgroups
  static constexpr int kRowsPerConsumer = 64;           // wgmma M
  static constexpr int kBlockM = kConsumers * kRowsPerConsumer;  // query rows per tile
  static constexpr int kThreads = 128 * (1 + kConsumers);
  // 24 x 128 + 240 x 256 = 64512 <= 65536 registers (= 168 x 384 at entry,
  // so the reallocation balances); 240 holds O (64), S (64 at kBlockN 128),
  // P (32) and the softmax state without spills.
  static constexpr int kProducerRegs = 24, kConsumerRegs = 240;
  static constexpr int kColumns = kHeadDim / 64;        // 128-byte swizzle columns
  static constexpr int kSTiles = kBlockN / 8;           // n8 blocks of S (softmax helpers' name)
  static constexpr int kOTiles = kHeadDim / 8;          // n8 blocks of O
  static constexpr int kPSteps = kBlockN / 16;          // k-steps of O += P V
  static constexpr int kQKSteps = kHeadDim / 16;        // k-steps of S = Q K^T
  static constexpr uint32_t kQBytes = kBlockM * kHeadDim * 2;   // (kColumns, kBlockM, 64)
  static constexpr uint32_t kKVBytes = kBlockN * kHeadDim * 2;  // (kColumns, kBlockN, 64)
  static constexpr uint32_t kQColumnBytes = kBlockM * kSwizzleRowBytes;
  static constexpr uint32_t kKVColumnBytes = kBlockN * kSwizzleRowBytes;
  // Shared memory (from a 1024-byte aligned base): Q | K stages | V stages | barriers.
  static constexpr uint32_t kKOffset = kQBytes;
  static constexpr uint32_t kVOffset = kKOffset + kStages * kKVBytes;
  static constexpr uint32_t kBarOffset = kVOffset + kStages * kKVBytes;
  static constexpr int kBarriers = 2 + 4 * kStages;     // q full/empty, k/v full/empty per stage
  static constexpr int kSmemBytes = kBarOffset + kBarriers * 8 + kSwizzleAtomBytes;  // + align slack
  static_assert(kHeadDim == 64 || kHeadDim == 128, "head_dim 64 or 128");
  static_assert(kBlockN % 16 == 0 && kBlockN <= 256, "kBlockN: wgmma N, box rows <= 256");
  static_assert(kKVColumnBytes % kSwizzleAtomBytes == 0, "swizzle atoms stay 1024-byte aligned");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per block on sm_90");
  static_assert(kProducerRegs * 128 + kConsumerRegs * 128 * kConsumers <= 65536, "register file");
};

// Work of one launch: tiles t = head * m_blocks + i, i-th query tile of the
// head (diagonal masks: last tile first, it has the most keys). Head-major
// order keeps the CTAs running at one time on few heads, whose K/V then stay
// in L2 (32 heads x 8K of K/V would not).
struct TileSpace {
  int m_blocks, tiles;
};

__device__ __forceinline__ int n_blocks_of(int m0, int rows, int kv_tokens, int block_n,
                                           bool diagonal) {
  const int keys = diagonal ? min(kv_tokens, m0 + rows) : kv_tokens;
  return (keys + block_n - 1) / block_n;
}

// Barrier and tile addresses of one CTA (shared-memory byte addresses).
template <class Tr>
struct SmemMap {
  uint32_t base;
  __device__ uint32_t q() const { return base; }
  __device__ uint32_t k(int stage) const { return base + Tr::kKOffset + stage * Tr::kKVBytes; }
  __device__ uint32_t v(int stage) const { return base + Tr::kVOffset + stage * Tr::kKVBytes; }
  __device__ uint32_t bar(int i) const { return base + Tr::kBarOffset + 8 * i; }
  __device__ uint32_t q_full() const { return bar(0); }
  __device__ uint32_t q_empty() const { return bar(1); }
  __device__ uint32_t k_full(int s) const { return bar(2 + s); }
  __device__ uint32_t k_empty(int s) const { return bar(2 + Tr::kStages + s); }
  __device__ uint32_t v_full(int s) const { return bar(2 + 2 * Tr::kStages + s); }
  __device__ uint32_t v_empty(int s) const { return bar(2 + 3 * Tr::kStages + s); }
};

// Arrivals on each empty barrier: lane 0 of every consumer warp, after its
// wgmma_wait (each warp's wait covers its own share of the warpgroup's reads).
template <class Tr>
constexpr uint32_t kConsumerWarps = Tr::kConsumers * 4;

// Ring position: slot and phase parity of the it-th use.
template <class Tr>
struct Ring {
  int it = 0;
  __device__ int stage() const { return it % Tr::kStages; }
  __device__ uint32_t parity() const { return (it / Tr::kStages) & 1; }
};

// ---- producer ---------------------------------------------------------------

template <class Tr>
__device__ void load_block(const SmemMap<Tr>& sm, const CUtensorMap* map, Ring<Tr>& ring,
                           bool is_k, int kv_head, int n) {
  const int s = ring.stage();
  mbar_wait(is_k ? sm.k_empty(s) : sm.v_empty(s), ring.parity() ^ 1);  // slot released
  const uint32_t full = is_k ? sm.k_full(s) : sm.v_full(s);
  const uint32_t dst = is_k ? sm.k(s) : sm.v(s);
  mbar_arrive_expect_tx(full, Tr::kKVBytes);
#pragma unroll
  for (int c = 0; c < Tr::kColumns; ++c)
    tma_load_3d(dst + c * Tr::kKVColumnBytes, map, full, c * 64, kv_head, n * Tr::kBlockN);
  ++ring.it;
}

// One thread issues every copy, in the order the consumers use them:
// K[last], Q, then K[n-1] before V[n] (the consumers' S for block n-1 is
// issued with their P V for block n).
template <class Tr, bool kDiagonal>
__device__ void producer(const SmemMap<Tr>& sm, const CUtensorMap* tm_q, const CUtensorMap* tm_k,
                         const CUtensorMap* tm_v, const FusedParams& p, const TileSpace& ts) {
  tma_prefetch_map(tm_q);
  tma_prefetch_map(tm_k);
  tma_prefetch_map(tm_v);
  Ring<Tr> k_ring, v_ring;
  int tile_it = 0;
  for (int t = blockIdx.x; t < ts.tiles; t += gridDim.x, ++tile_it) {
    const int head = t / ts.m_blocks, i = t % ts.m_blocks;
    const int m0 = (kDiagonal ? ts.m_blocks - 1 - i : i) * Tr::kBlockM;
    const int kv_head = head / p.group;
    const int nb = n_blocks_of(m0, Tr::kBlockM, p.kv_tokens, Tr::kBlockN, kDiagonal);
    load_block<Tr>(sm, tm_k, k_ring, true, kv_head, nb - 1);
    mbar_wait(sm.q_empty(), (tile_it & 1) ^ 1);  // consumers done with the last tile's Q
    mbar_arrive_expect_tx(sm.q_full(), Tr::kQBytes);
#pragma unroll
    for (int c = 0; c < Tr::kColumns; ++c)
      tma_load_3d(sm.q() + c * Tr::kQColumnBytes, tm_q, sm.q_full(), c * 64, head, m0);
    for (int n = nb - 2; n >= 0; --n) {
      load_block<Tr>(sm, tm_k, k_ring, true, kv_head, n);
      load_block<Tr>(sm, tm_v, v_ring, false, kv_head, n + 1);
    }
    load_block<Tr>(sm, tm_v, v_ring, false, kv_head, 0);
  }
}

// ---- consumers ----------------------------------------------------------------

// Lane 0 of each warp releases a slot once the warp's wgmma reads are done.
__device__ __forceinline__ void release(uint32_t empty_bar) {
  if (threadIdx.x % 32 == 0) mbar_arrive(empty_bar);
}

// S (64 x kBlockN) = Q (this warpgroup's 64 rows) K^T, issued, not waited.
template <class Tr>
__device__ __forceinline__ void issue_qk(float (&s)[Tr::kSTiles][4], uint32_t q_rows, uint32_t k) {
  const uint64_t q_desc = smem_desc_sw128(q_rows, 16, kSwizzleAtomBytes);
  const uint64_t k_desc = smem_desc_sw128(k, 16, kSwizzleAtomBytes);
#pragma unroll
  for (int kk = 0; kk < Tr::kQKSteps; ++kk) {  // 16 head_dim elements = 32 bytes per step
    const int column = kk / 4, within = (kk % 4) * 32;
    Wgmma<Tr::kBlockN>::template ss<typename Tr::Element>(
        s, smem_desc_advance(q_desc, column * Tr::kQColumnBytes + within),
        smem_desc_advance(k_desc, column * Tr::kKVColumnBytes + within), kk > 0);
  }
}

// O (64 x head_dim) += P (registers, kPSteps k16 fragments) V, issued, not waited.
// V is MN-major: 16 keys = 16 swizzled rows = 2048 bytes per k-step; the two
// head_dim columns of 64 are kKVColumnBytes apart (the leading byte offset).
template <class Tr>
__device__ __forceinline__ void issue_pv(float (&o)[Tr::kOTiles][4],
                                         const uint32_t (&pa)[Tr::kPSteps][4], uint32_t v) {
  const uint64_t v_desc = smem_desc_sw128(v, Tr::kKVColumnBytes, kSwizzleAtomBytes);
#pragma unroll
  for (int ks = 0; ks < Tr::kPSteps; ++ks)
    Wgmma<Tr::kHeadDim>::template rs_tb<typename Tr::Element>(
        o, pa[ks], smem_desc_advance(v_desc, ks * 16 * kSwizzleRowBytes), 1);
}

// Online softmax of one S block without touching O (a P V may still be in
// flight): moves the row maxima (lazily, as the portable kernel), scales the
// sums, turns s into p. Returns whether O must be scaled by alpha.
template <class Tr>
__device__ __forceinline__ bool softmax_block(float (&s)[Tr::kSTiles][4], RowState& st,
                                              float scale_log2, float (&alpha)[2]) {
  const float mx0 = fused::tile_row_max<Tr>(s, 0, scale_log2);
  const float mx1 = fused::tile_row_max<Tr>(s, 1, scale_log2);
  const bool rescale = __any_sync(0xffffffffu, mx0 > st.max[0] + fused::kRescaleLog2 ||
                                                   mx1 > st.max[1] + fused::kRescaleLog2);
  if (rescale) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float m_new = fmaxf(st.max[r], r == 0 ? mx0 : mx1);
      alpha[r] = fused::fast_exp2(st.max[r] - (m_new == fused::kNegInf ? 0.f : m_new));  // 0 from -inf
      st.max[r] = m_new;
      st.sum[r] *= alpha[r];
    }
  }
  fused::exp_row<Tr>(s, st, 0, scale_log2);
  fused::exp_row<Tr>(s, st, 1, scale_log2);
  return rescale;
}

template <class Tr>
__device__ __forceinline__ void scale_o(float (&o)[Tr::kOTiles][4], const float (&alpha)[2]) {
#pragma unroll
  for (int j = 0; j < Tr::kOTiles; ++j) {
    o[j][0] *= alpha[0], o[j][1] *= alpha[0];
    o[j][2] *= alpha[1], o[j][3] *= alpha[1];
  }
}

// Two adjacent n8 accumulator blocks are one m64 x k16 A fragment.
template <class Tr>
__device__ __forceinline__ void to_a_fragments(const float (&s)[Tr::kSTiles][4],
                                               uint32_t (&pa)[Tr::kPSteps][4]) {
  using T = typename Tr::Element;
#pragma unroll
  for (int ks = 0; ks < Tr::kPSteps; ++ks) {
    pa[ks][0] = fused::pack2<T>(s[2 * ks][0], s[2 * ks][1]);
    pa[ks][1] = fused::pack2<T>(s[2 * ks][2], s[2 * ks][3]);
    pa[ks][2] = fused::pack2<T>(s[2 * ks + 1][0], s[2 * ks + 1][1]);
    pa[ks][3] = fused::pack2<T>(s[2 * ks + 1][2], s[2 * ks + 1][3]);
  }
}

}  // namespace ringsim::kernels::sm90

#include "kernels/attention/chunk_attention_sm90_consumer.cuh"
