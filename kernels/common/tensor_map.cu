// TMA tensor maps (see tensor_map.hpp).
#include <cuda_runtime.h>

#include "kernels/common/cuda_check.cuh"
#include "kernels/common/tensor_map.hpp"

namespace ringsim::kernels {
namespace {

using EncodeTiledFn = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*,
                                   const cuuint64_t*, const cuuint64_t*, const cuuint32_t*,
                                   const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                   CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

// Looked up once (thread-safe static); null when the driver lacks it.
EncodeTiledFn encoder() {
  static const EncodeTiledFn fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult found{};
    // 12000: the CUDA 12.0 ABI of cuTensorMapEncodeTiled (unchanged since).
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault,
                                         &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
      return static_cast<EncodeTiledFn>(nullptr);
    return reinterpret_cast<EncodeTiledFn>(p);
  }();
  return fn;
}

}  // namespace

Status encode_token_head_map(CUtensorMap* map, const void* base, Dtype dtype, int head_dim,
                             int heads, long long tokens, long long token_stride, int box_rows) {
  const EncodeTiledFn encode = encoder();
  if (!encode) return cuda_status(cudaErrorNotSupported, "cuTensorMapEncodeTiled not found");
  constexpr cuuint32_t kBoxCols = 64;  // 128 bytes: the widest box the 128-byte swizzle takes
  const cuuint64_t dims[3] = {static_cast<cuuint64_t>(head_dim), static_cast<cuuint64_t>(heads),
                              static_cast<cuuint64_t>(tokens)};
  const cuuint64_t strides_bytes[2] = {static_cast<cuuint64_t>(head_dim) * 2,
                                       static_cast<cuuint64_t>(token_stride) * 2};
  const cuuint32_t box[3] = {kBoxCols, 1, static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t element_strides[3] = {1, 1, 1};
  const CUresult r = encode(
      map, dtype == Dtype::kBf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
      3, const_cast<void*>(base), dims, strides_bytes, box, element_strides,
      CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) return Status{StatusCode::kCudaError, static_cast<int>(r), "cuTensorMapEncodeTiled"};
  return {};
}

}  // namespace ringsim::kernels
