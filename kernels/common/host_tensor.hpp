// Host-side test data for the kernels: random values drawn from a grid that
// bf16 / fp16 represent exactly, so the fp64 reference sees the very inputs
// the GPU sees (no rounding between them). No CUDA needed.
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/common/kernel_types.hpp"

#pragma once

namespace ringsim::kernels {

// bf16 holds 8 significant bits, fp16 11: values k / 2^7 (bf16) or k / 2^10
// (fp16) in [-2, 2] are exact in both float and the 16-bit type.
inline double grid_step(Dtype d) { return d == Dtype::kBf16 ? 1.0 / 128 : 1.0 / 1024; }

inline std::vector<double> random_exact(std::size_t n, Dtype d, std::mt19937_64& rng) {
  const double step = grid_step(d);
  const int kmax = static_cast<int>(2.0 / step);
  std::uniform_int_distribution<int> pick(-kmax, kmax);
  std::vector<double> out(n);
  for (auto& x : out) x = pick(rng) * step;
  return out;
}

// Exact conversion of a grid value (see random_exact) to its 16-bit pattern.
inline uint16_t to_bits(double x, Dtype d) {
  const float f = static_cast<float>(x);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (d == Dtype::kBf16) return static_cast<uint16_t>(u >> 16);  // exact: low bits are 0
  const uint32_t sign = (u >> 16) & 0x8000u;
  if ((u & 0x7fffffffu) == 0) return static_cast<uint16_t>(sign);
  const int exp = static_cast<int>((u >> 23) & 0xff) - 127 + 15;  // grid values are fp16 normals
  return static_cast<uint16_t>(sign | (exp << 10) | ((u >> 13) & 0x3ffu));
}

inline std::vector<uint16_t> to_bits(const std::vector<double>& x, Dtype d) {
  std::vector<uint16_t> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = to_bits(x[i], d);
  return out;
}

}  // namespace ringsim::kernels
