// PTX wrappers for the Hopper (sm_90a) kernels: mbarriers, bulk tensor copies
// (TMA), named barriers, setmaxnreg, and shared-memory matrix descriptors for
// wgmma (the wgmma instructions themselves are in wgmma.cuh).
//
// Every wrapper is one PTX instruction (or a try_wait loop); the reasons for
// the fences and the descriptor fields are in the comments. Only usable in
// code compiled for sm_90a (guard the callers with RINGSIM_SM90A_DEVICE).
#pragma once
#include <cstdint>

// True inside device code compiled for the architecture-specific sm_90a target.
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define RINGSIM_SM90A_DEVICE 1
#else
#define RINGSIM_SM90A_DEVICE 0
#endif

namespace ringsim::kernels::sm90 {

// ---- mbarriers (64-bit shared-memory barriers with phase parity) ---------

__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(arrivals) : "memory");
}

// Makes the initialised barriers visible to the other threads and to the
// async proxy (TMA completes transactions on them); follow with __syncthreads.
__device__ __forceinline__ void fence_barrier_init() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

// One arrival that also announces `bytes` of TMA transactions for this phase.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}

// Spins until the phase with parity `parity` has completed. A fresh barrier
// is in phase 0, so waiting on parity 1 returns at once (the "previous"
// phase): producers start their empty-slot waits at parity 1.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}

// ---- bulk tensor copy (TMA) -------------------------------------------------

// Loads the box at (c0, c1, c2) (innermost first, in elements) of a 3-D tensor
// map into shared memory at `dst`; completes `bytes` on `bar` (the full box,
// out-of-bounds elements zero-filled and counted too).
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const void* tensor_map, uint32_t bar,
                                            int c0, int c1, int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%3, %4, %5}], [%2];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(tensor_map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2)
      : "memory");
}

// The tensor map lives in kernel parameter space; prefetching it hides the
// first copy's descriptor fetch.
__device__ __forceinline__ void tma_prefetch_map(const void* tensor_map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(tensor_map))
               : "memory");
}

// ---- warpgroup register reallocation and named barriers ---------------------

// setmaxnreg takes effect only with a register cap at kernel entry
// (__launch_bounds__(threads, 1)) and all 128 threads of the warpgroup
// executing it (HOPPER.md).
template <int kRegs>
__device__ __forceinline__ void warpgroup_reg_dealloc() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}
template <int kRegs>
__device__ __forceinline__ void warpgroup_reg_alloc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}

// Barrier `id` (1..15; 0 is __syncthreads) over `threads` threads: sync waits,
// arrive only counts (the producer side of a hand-off).
__device__ __forceinline__ void named_bar_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_bar_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// ---- shared-memory matrix descriptors (wgmma operands) ----------------------

// Descriptor of an operand tile stored in the 128-byte swizzle that TMA writes
// with CU_TENSOR_MAP_SWIZZLE_128B: rows of 64 16-bit elements (128 bytes),
// 16-byte chunk c of row r stored at chunk c ^ (r % 8), 8-row atoms of 1024
// bytes, atoms 1024-byte aligned. Fields (PTX ISA, "matrix descriptor"):
//   [0,14)  start address >> 4      [16,30) leading byte offset >> 4
//   [32,46) stride byte offset >> 4  [62,64) swizzle mode (1 = 128-byte)
// K-major (rows along M/N, 64 K-elements per row): stride byte offset = 1024
// (next 8 rows); the leading offset is unused and 1 by convention; a k-step
// of 16 elements inside the row adds 32 bytes to the start address.
// MN-major (rows along K, 64 M/N-elements per row; the V operand, wgmma
// imm-trans-b = 1): stride byte offset = 1024 (next 8 K-rows), leading byte
// offset = distance to the next 64 M/N-elements (the next swizzle column).
__host__ __device__ constexpr uint64_t smem_desc_sw128(uint32_t smem_addr, uint32_t leading_bytes,
                                                       uint32_t stride_bytes) {
  return static_cast<uint64_t>((smem_addr & 0x3FFFF) >> 4) |
         static_cast<uint64_t>((leading_bytes >> 4) & 0x3FFF) << 16 |
         static_cast<uint64_t>((stride_bytes >> 4) & 0x3FFF) << 32 | uint64_t{1} << 62;
}

// A descriptor advanced by `bytes` (a multiple of 16) along its start address;
// the address field does not overflow for shared-memory offsets < 256 KiB.
__host__ __device__ constexpr uint64_t smem_desc_advance(uint64_t desc, uint32_t bytes) {
  return desc + (bytes >> 4);
}

constexpr uint32_t kSwizzleRowBytes = 128;   // one swizzled row: 64 bf16/fp16
constexpr uint32_t kSwizzleAtomBytes = 1024; // 8 rows: the swizzle period and alignment

}  // namespace ringsim::kernels::sm90
