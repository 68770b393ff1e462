// Inputs of the ring checks: a counter-based hash, so every element of the
// global Q, K and V is a pure function of (seed, tensor, index). Each rank
// fills its own slices on the GPU and the fp64 CPU reference recomputes any
// element it needs; nothing of the whole sequence is ever stored.
// Values are uniform in [-1, 1), rounded to bf16 (round to nearest even) by
// the same bit arithmetic on both sides.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define RINGSIM_HD __host__ __device__ __forceinline__
#else
#define RINGSIM_HD inline
#endif

namespace ringsim::ring {

enum class Tensor : std::uint64_t { kQ = 1, kK = 2, kV = 3, kDO = 4 };  // kDO: the backward's incoming gradient

RINGSIM_HD std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// bf16 bits of element `index` of `tensor` (index = (token * heads + head) * head_dim + i).
RINGSIM_HD std::uint16_t random_bf16_bits(std::uint64_t seed, Tensor tensor, std::uint64_t index) {
  const std::uint64_t h = splitmix64(splitmix64(seed * 4 + static_cast<std::uint64_t>(tensor)) ^ index);
  const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;  // 24 bits
  std::uint32_t bits;
  std::memcpy(&bits, &u, sizeof bits);
  bits += 0x7FFFu + ((bits >> 16) & 1u);  // round to nearest even (no NaN/Inf here)
  return static_cast<std::uint16_t>(bits >> 16);
}

inline double bf16_bits_to_double(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace ringsim::ring
