// Types shared by the chunk kernels and their CPU references. No CUDA here:
// the references and their CPU tests build on machines without nvcc.
#pragma once
#include <string>

namespace ringsim::kernels {

enum class Dtype { kBf16, kFp16 };  // input dtype; accumulation and outputs are fp32

// Which (query i, key j) pairs of a q x kv block are visible.
//   kFull:   every pair.
//   kCausal: j <= i, top-left aligned; needs q_tokens == kv_tokens.
//   kZigzag: the 2c x 2c block of a zigzag rank against its own two chunks
//            (rows/cols [0,c) = chunk r, [c,2c) = chunk 2P-1-r); needs
//            q_tokens == kv_tokens == 2c. Visible iff
//            (i<c && j<c && j<=i) || (i>=c && j<c) || (i>=c && j>=c && j<=i),
//            which is the same set as j <= i: the later chunk sees the whole
//            earlier one. The kernels use that identity; the reference keeps the
//            formula, so the tests check it.
enum class Mask { kFull, kCausal, kZigzag };

const char* dtype_name(Dtype);
const char* mask_name(Mask);
int dtype_bytes(Dtype);

enum class StatusCode { kOk, kInvalidArgument, kWorkspaceTooSmall, kCudaError, kCublasError };

struct Status {
  StatusCode code = StatusCode::kOk;
  int detail = 0;             // cudaError_t or cublasStatus_t value when relevant
  const char* what = "";      // static text: which argument or call failed
  bool ok() const { return code == StatusCode::kOk; }
};
std::string describe(const Status&);

// Visibility of one pair, straight from the definitions above (used by the
// references; q_tokens is the block's query count, 2c for kZigzag).
bool mask_visible(Mask, long long i, long long j, long long q_tokens);

}  // namespace ringsim::kernels
