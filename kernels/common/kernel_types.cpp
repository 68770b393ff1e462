// Names and visibility rules of the kernel types (CPU, no CUDA).
#include "kernels/common/kernel_types.hpp"

namespace ringsim::kernels {

const char* dtype_name(Dtype d) { return d == Dtype::kBf16 ? "bf16" : "fp16"; }

int dtype_bytes(Dtype) { return 2; }

const char* mask_name(Mask m) {
  switch (m) {
    case Mask::kFull: return "full";
    case Mask::kCausal: return "causal";  // the profile YAML spelling
    case Mask::kZigzag: return "zigzag_diagonal";
  }
  return "?";
}

std::string describe(const Status& s) {
  static const char* const kNames[] = {"ok", "invalid argument", "workspace too small",
                                       "CUDA error", "cuBLAS error"};
  std::string out = kNames[static_cast<int>(s.code)];
  if (s.what && *s.what) out += std::string(": ") + s.what;
  if (s.code == StatusCode::kCudaError || s.code == StatusCode::kCublasError)
    out += " (code " + std::to_string(s.detail) + ")";
  return out;
}

bool mask_visible(Mask m, long long i, long long j, long long q_tokens) {
  switch (m) {
    case Mask::kFull: return true;
    case Mask::kCausal: return j <= i;
    case Mask::kZigzag: {
      const long long c = q_tokens / 2;
      return (i < c && j < c && j <= i) || (i >= c && j < c) || (i >= c && j >= c && j <= i);
    }
  }
  return false;
}

}  // namespace ringsim::kernels
