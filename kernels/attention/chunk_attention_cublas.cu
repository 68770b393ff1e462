// cuBLAS path of chunk attention: the same block as two batched GEMMs around a
// masked-softmax kernel. A second implementation (cross-check of the fused
// kernel) and a speed baseline; it materialises fp32 scores and dtype
// probabilities, q_heads * q * kv * 6 bytes of workspace.
//
//   S_h = Q_h K_h^T      cublasGemmStridedBatchedEx, fp32 out    (q, kv) per head
//   P_h, LSE_h           masked_softmax_kernel                   (q, kv) dtype
//   O_h = P_h V_h        cublasGemmStridedBatchedEx, fp32 out    (q, head_dim)
// GQA: one batched call per member of a head group (batch = kv_heads), since
// q head h = kv_head * group + member is not a single batch stride.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/attention/chunk_attention_internal.hpp"
#include "kernels/common/cuda_check.cuh"

namespace ringsim::kernels {
namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kSoftmaxThreads = 256;

__device__ float block_reduce(float v, bool is_max, float* scratch) {
  for (int off = 16; off > 0; off /= 2) {
    const float o = __shfl_xor_sync(0xffffffffu, v, off);
    v = is_max ? fmaxf(v, o) : v + o;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // scratch reuse across calls
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < kSoftmaxThreads / 32; ++w) v = is_max ? fmaxf(v, scratch[w]) : v + scratch[w];
  return v;
}

// One block per (query row, head): P = softmax(scale * S) over visible keys.
template <typename T>
__global__ void __launch_bounds__(kSoftmaxThreads) masked_softmax_kernel(
    const float* scores, T* probs, float* lse, long long lse_head_stride, int q_tokens,
    int kv_tokens, bool diagonal, float scale_log2) {
  __shared__ float scratch[kSoftmaxThreads / 32];
  const int row = blockIdx.x, head = blockIdx.y;
  const long long off = (static_cast<long long>(head) * q_tokens + row) * kv_tokens;
  const float* s = scores + off;
  T* p = probs + off;
  const int visible = diagonal ? min(row + 1, kv_tokens) : kv_tokens;  // causal == zigzag
  float mx = -__builtin_huge_valf();
  for (int j = threadIdx.x; j < visible; j += kSoftmaxThreads) mx = fmaxf(mx, s[j]);
  mx = block_reduce(mx, true, scratch);
  const float sub = visible > 0 ? mx * scale_log2 : 0.f;
  float sum = 0.f;
  for (int j = threadIdx.x; j < visible; j += kSoftmaxThreads) sum += exp2f(s[j] * scale_log2 - sub);
  sum = block_reduce(sum, false, scratch);
  const float inv = sum > 0.f ? 1.f / sum : 0.f;
  for (int j = threadIdx.x; j < kv_tokens; j += kSoftmaxThreads)
    p[j] = static_cast<T>(j < visible ? exp2f(s[j] * scale_log2 - sub) * inv : 0.f);
  if (threadIdx.x == 0)
    lse[head * lse_head_stride + row] =
        sum > 0.f ? (sub + log2f(sum)) * kLn2 : -__builtin_huge_valf();
}

Status cublas_status(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return {};
  return Status{StatusCode::kCublasError, static_cast<int>(st), what};
}
#define RINGSIM_TRY_CUBLAS(call) RINGSIM_TRY(cublas_status((call), #call))

}  // namespace

Status launch_cublas_attention(const ChunkAttentionArgs& a, void* workspace,
                               std::size_t workspace_bytes, cublasContext* cublas,
                               cudaStream_t stream) {
  if (cublas == nullptr) return invalid("cublas handle is null (needed by the cuBLAS variant)");
  if (workspace_bytes < chunk_attention_workspace_bytes(a, AttentionVariant::kCublas))
    return Status{StatusCode::kWorkspaceTooSmall, 0, "cuBLAS path workspace"};
  const long long q = a.q_tokens, kv = a.kv_tokens, d = a.head_dim;
  const int group = a.q_heads / a.kv_heads;
  const long long score_elems = static_cast<long long>(a.q_heads) * q * kv;
  float* scores = static_cast<float*>(workspace);
  void* probs = scores + score_elems;
  const cudaDataType_t in_type = a.dtype == Dtype::kBf16 ? CUDA_R_16BF : CUDA_R_16F;
  const int in_bytes = 2;
  const float one = 1.f, zero = 0.f;
  RINGSIM_TRY_CUBLAS(cublasSetStream(cublas, stream));
  for (int member = 0; member < group; ++member) {
    // Column-major view: S_h^T (kv x q) = K_h (kv x d) . Q_h^T (d x q).
    const char* q_ptr = static_cast<const char*>(a.q) + member * d * in_bytes;
    RINGSIM_TRY_CUBLAS(cublasGemmStridedBatchedEx(
        cublas, CUBLAS_OP_T, CUBLAS_OP_N, int(kv), int(q), int(d), &one, a.k, in_type,
        int(a.kv_token_stride), d, q_ptr, in_type, int(a.q_token_stride), group * d, &zero,
        scores + member * q * kv, CUDA_R_32F, int(kv), group * q * kv, a.kv_heads,
        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  const dim3 grid(static_cast<unsigned>(q), static_cast<unsigned>(a.q_heads));
  const float scale_log2 = a.softmax_scale * kLog2e;
  const bool diagonal = a.mask != Mask::kFull;
  if (a.dtype == Dtype::kBf16)
    masked_softmax_kernel<__nv_bfloat16><<<grid, kSoftmaxThreads, 0, stream>>>(
        scores, static_cast<__nv_bfloat16*>(probs), a.lse, a.lse_head_stride, int(q), int(kv),
        diagonal, scale_log2);
  else
    masked_softmax_kernel<__half><<<grid, kSoftmaxThreads, 0, stream>>>(
        scores, static_cast<__half*>(probs), a.lse, a.lse_head_stride, int(q), int(kv), diagonal,
        scale_log2);
  RINGSIM_TRY_CUDA(cudaGetLastError());
  for (int member = 0; member < group; ++member) {
    // Column-major view: O_h^T (d x q) = V_h^T (d x kv) . P_h^T (kv x q).
    const char* p_ptr = static_cast<const char*>(probs) + member * q * kv * in_bytes;
    RINGSIM_TRY_CUBLAS(cublasGemmStridedBatchedEx(
        cublas, CUBLAS_OP_N, CUBLAS_OP_N, int(d), int(q), int(kv), &one, a.v, in_type,
        int(a.kv_token_stride), d, p_ptr, in_type, int(kv), group * q * kv, &zero,
        a.o + member * d, CUDA_R_32F, int(a.o_token_stride), group * d, a.kv_heads,
        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  return {};
}

}  // namespace ringsim::kernels
