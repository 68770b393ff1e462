// Host side of the Hopper kernel's dispatch (chunk_attention_sm90.cuh):
// availability by device, tile names, the automatic tile, dtype switch.
#include <atomic>

#include "kernels/attention/chunk_attention_internal.hpp"
#include "kernels/common/cuda_check.cuh"

namespace ringsim::kernels {
namespace {

// RINGSIM_SM90A_BUILD: meson defines it when the kernels are built for sm_90a
// (gpu_arch option); other builds carry an empty Hopper kernel and never call it.
#ifdef RINGSIM_SM90A_BUILD
constexpr bool kBuiltForSm90a = true;
#else
constexpr bool kBuiltForSm90a = false;
#endif

constexpr int kMaxDevices = 64;
std::atomic<signed char> g_is_sm90[kMaxDevices];  // 0 unknown, 1 yes, -1 no (benign races)

}  // namespace

bool sm90_kernel_available() {
  if (!kBuiltForSm90a) return false;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return false;
  if (device >= 0 && device < kMaxDevices && g_is_sm90[device] != 0) return g_is_sm90[device] > 0;
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess)
    return false;
  const bool yes = major == 9 && minor == 0;  // sm_90a code runs on 9.0 only
  if (device >= 0 && device < kMaxDevices) g_is_sm90[device] = yes ? 1 : -1;
  return yes;
}

const char* sm90_tile_name(Sm90Tile t, int head_dim) {
  switch (t) {
    case Sm90Tile::kAuto: return "auto";
    case Sm90Tile::kN128: return "m128n128";
    case Sm90Tile::kNWide: return head_dim == 128 ? "m128n176" : "m128n192";
  }
  return "?";
}

// Measured choice (H100, bf16, 32 heads, two runs 2026-11-27, kernels/README.md
// "Hopper kernel"): 128 keys per block everywhere. d128 4K full 720/708 TFLOP/s
// vs 710/698 with 176 keys; d64 4K 461/452 vs 449/441 with 192; causal 4K
// 581/579 vs 584/582 (equal within the spread; 128 also lines the diagonal
// block up with the 128-row tile). At 8K and 16K the two swap places run to
// run by up to 12% (the card is at its 700 W limit, clocks 1485-1980 MHz).
Sm90Tile auto_sm90_tile(int /*head_dim*/, Mask /*mask*/) { return Sm90Tile::kN128; }

int sm90_block_n(Sm90Tile t, int head_dim) {
  if (t == Sm90Tile::kAuto) t = auto_sm90_tile(head_dim, Mask::kFull);
  return t == Sm90Tile::kN128 ? 128 : head_dim == 128 ? 176 : 192;
}

Status launch_sm90_attention(const ChunkAttentionArgs& a, Sm90Tile tile, cudaStream_t s) {
  if (!sm90_kernel_available()) return invalid("the sm90 kernel needs an sm_90 GPU and an sm_90a build");
  if (a.kv_tokens <= 0) return invalid("the sm90 kernel needs kv_tokens > 0");
  return a.dtype == Dtype::kBf16 ? launch_sm90_attention_bf16(a, tile, s)
                                 : launch_sm90_attention_fp16(a, tile, s);
}

}  // namespace ringsim::kernels
