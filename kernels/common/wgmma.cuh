// wgmma wrappers (sm_90a): warpgroup matrix products D(64 x N, fp32) (+)= A B
// with A from shared memory (descriptor) or registers, B from shared memory,
// bf16/fp16 inputs, k = 16 per instruction; plus fence / commit / wait and
// the operand fence that keeps the compiler from touching accumulators while
// an asynchronous wgmma still owns them.
//
// Accumulator layout (per warpgroup of 128 threads): warp w holds rows
// 16w..16w+15; for each 8-column block j, d[j][0..1] are row 16w + lane/4,
// columns 8j + 2(lane%4) + {0,1}, and d[j][2..3] the same columns of row +8:
// the mma.sync m16n8 C fragment, repeated over N/8 blocks. An A fragment in
// registers (m64 x k16) is the mma.sync m16n8k16 A fragment per warp, so two
// adjacent 8-column accumulator blocks convert into one k-step of A.
//
// The operand lists below are mechanical (one "+f" per accumulator register);
// RINGSIM_WGMMA_D<N> is the PTX register vector, RINGSIM_WGMMA_ARGS<N> the
// matching constraints.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#define RINGSIM_WD(j) "+f"(d[j][0]), "+f"(d[j][1]), "+f"(d[j][2]), "+f"(d[j][3])

#define RINGSIM_WGMMA_D64 \
  "{" "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22," \
  "%23,%24,%25,%26,%27,%28,%29,%30,%31" "}"
#define RINGSIM_WGMMA_ARGS64 \
  RINGSIM_WD(0), RINGSIM_WD(1), RINGSIM_WD(2), RINGSIM_WD(3), RINGSIM_WD(4), RINGSIM_WD(5), RINGSIM_WD(6), RINGSIM_WD(7)
#define RINGSIM_WGMMA_D128 \
  "{" "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22," \
  "%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43," \
  "%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63" "}"
#define RINGSIM_WGMMA_ARGS128 \
  RINGSIM_WD(0), RINGSIM_WD(1), RINGSIM_WD(2), RINGSIM_WD(3), RINGSIM_WD(4), RINGSIM_WD(5), RINGSIM_WD(6), RINGSIM_WD(7), \
  RINGSIM_WD(8), RINGSIM_WD(9), RINGSIM_WD(10), RINGSIM_WD(11), RINGSIM_WD(12), RINGSIM_WD(13), RINGSIM_WD(14), RINGSIM_WD(15)
#define RINGSIM_WGMMA_D176 \
  "{" "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22," \
  "%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43," \
  "%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64," \
  "%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85," \
  "%86,%87" "}"
#define RINGSIM_WGMMA_ARGS176 \
  RINGSIM_WD(0), RINGSIM_WD(1), RINGSIM_WD(2), RINGSIM_WD(3), RINGSIM_WD(4), RINGSIM_WD(5), RINGSIM_WD(6), RINGSIM_WD(7), \
  RINGSIM_WD(8), RINGSIM_WD(9), RINGSIM_WD(10), RINGSIM_WD(11), RINGSIM_WD(12), RINGSIM_WD(13), RINGSIM_WD(14), RINGSIM_WD(15), \
  RINGSIM_WD(16), RINGSIM_WD(17), RINGSIM_WD(18), RINGSIM_WD(19), RINGSIM_WD(20), RINGSIM_WD(21)
#define RINGSIM_WGMMA_D192 \
  "{" "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22," \
  "%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43," \
  "%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64," \
  "%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85," \
  "%86,%87,%88,%89,%90,%91,%92,%93,%94,%95" "}"
#define RINGSIM_WGMMA_ARGS192 \
  RINGSIM_WD(0), RINGSIM_WD(1), RINGSIM_WD(2), RINGSIM_WD(3), RINGSIM_WD(4), RINGSIM_WD(5), RINGSIM_WD(6), RINGSIM_WD(7), \
  RINGSIM_WD(8), RINGSIM_WD(9), RINGSIM_WD(10), RINGSIM_WD(11), RINGSIM_WD(12), RINGSIM_WD(13), RINGSIM_WD(14), RINGSIM_WD(15), \
  RINGSIM_WD(16), RINGSIM_WD(17), RINGSIM_WD(18), RINGSIM_WD(19), RINGSIM_WD(20), RINGSIM_WD(21), RINGSIM_WD(22), RINGSIM_WD(23)

// SS: A and B K-major in shared memory (imm-trans 0, 0); scale_d = 0 writes
// D = A B (no need to clear D), 1 accumulates.
#define RINGSIM_WGMMA_SS_ASM(N, TY, A, B, S)                                    \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" S ", 0;\n"                  \
               "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " "   \
               RINGSIM_WGMMA_D##N ", %" A ", %" B ", p, 1, 1, 0, 0;\n}\n"       \
               : RINGSIM_WGMMA_ARGS##N                                          \
               : "l"(desc_a), "l"(desc_b), "r"(scale_d))
// RS: A (m64 x k16) in registers, B MN-major in shared memory (imm-trans-b 1).
#define RINGSIM_WGMMA_RS_ASM(N, TY, A0, A1, A2, A3, B, S)                       \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" S ", 0;\n"                  \
               "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " "   \
               RINGSIM_WGMMA_D##N ", {%" A0 ", %" A1 ", %" A2 ", %" A3 "}, %" B \
               ", p, 1, 1, 1;\n}\n"                                             \
               : RINGSIM_WGMMA_ARGS##N                                          \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d))

namespace ringsim::kernels::sm90 {

template <int N>
struct Wgmma;  // m64nNk16 for the N below

// Operand numbers after the N/2 accumulator registers: SS (desc_a, desc_b,
// scale_d), RS (a0..a3, desc_b, scale_d).
#define RINGSIM_WGMMA_SHAPE(N, SA, SB, SS, R0, R1, R2, R3, RB, RS)                        \
  template <>                                                                            \
  struct Wgmma<N> {                                                                      \
    template <typename T>                                                                \
    __device__ static void ss(float (&d)[N / 8][4], uint64_t desc_a, uint64_t desc_b,    \
                              int scale_d) {                                             \
      if constexpr (std::is_same_v<T, __nv_bfloat16>) RINGSIM_WGMMA_SS_ASM(N, "bf16", SA, SB, SS); \
      else RINGSIM_WGMMA_SS_ASM(N, "f16", SA, SB, SS);                                   \
    }                                                                                    \
    template <typename T>                                                                \
    __device__ static void rs_tb(float (&d)[N / 8][4], const uint32_t (&a)[4],           \
                                 uint64_t desc_b, int scale_d) {                         \
      if constexpr (std::is_same_v<T, __nv_bfloat16>)                                    \
        RINGSIM_WGMMA_RS_ASM(N, "bf16", R0, R1, R2, R3, RB, RS);                         \
      else RINGSIM_WGMMA_RS_ASM(N, "f16", R0, R1, R2, R3, RB, RS);                       \
    }                                                                                    \
  };
RINGSIM_WGMMA_SHAPE(64, "32", "33", "34", "32", "33", "34", "35", "36", "37")
RINGSIM_WGMMA_SHAPE(128, "64", "65", "66", "64", "65", "66", "67", "68", "69")
RINGSIM_WGMMA_SHAPE(176, "88", "89", "90", "88", "89", "90", "91", "92", "93")
RINGSIM_WGMMA_SHAPE(192, "96", "97", "98", "96", "97", "98", "99", "100", "101")
#undef RINGSIM_WGMMA_SHAPE

// Orders this thread's earlier register writes (accumulators, A fragments)
// before the wgmmas that follow; needed before every batch.
__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
// Waits until at most kPending committed groups of this warpgroup are in flight.
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}

// An empty asm that "writes" every register of x: code that reads x cannot be
// moved above the preceding wgmma_wait, nor writes below the next wgmma issue.
template <int kRows, int kCols>
__device__ __forceinline__ void fence_operand(float (&x)[kRows][kCols]) {
#pragma unroll
  for (int i = 0; i < kRows; ++i)
#pragma unroll
    for (int j = 0; j < kCols; ++j) asm volatile("" : "+f"(x[i][j])::"memory");
}
template <int kRows, int kCols>
__device__ __forceinline__ void fence_operand(uint32_t (&x)[kRows][kCols]) {
#pragma unroll
  for (int i = 0; i < kRows; ++i)
#pragma unroll
    for (int j = 0; j < kCols; ++j) asm volatile("" : "+r"(x[i][j])::"memory");
}

}  // namespace ringsim::kernels::sm90
