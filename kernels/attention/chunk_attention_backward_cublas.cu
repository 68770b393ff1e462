// cuBLAS path of the chunk attention backward: the same block as five batched
// GEMMs around two elementwise kernels. A second implementation (cross-check
// of the fused kernel) and a speed baseline; it materialises fp32 scores/dP
// and dtype P/dS, q_heads * q * kv * 6 bytes of workspace.
//
//   S_h  = Q_h K_g^T              GEMM, fp32 out           (q, kv) per q head h
//   P_h  = exp(scale S_h - LSE)   backward_probs_kernel    (q, kv) dtype, masked
//   dV_g (+)= P_h^T dO_h          GEMM, fp32 out, beta 1 after the first member
//   dP_h = dO_h V_g^T             GEMM, fp32 out, over S
//   dS_h = P_h (dP_h - D)         backward_ds_kernel       (q, kv) dtype, over P
//   dQ_h (+)= scale dS_h K_g      GEMM
//   dK_g (+)= scale dS_h^T Q_h    GEMM, beta 1 after the first member
// GQA: one batched call per member of a head group (batch = kv_heads; q head
// h = g * group + member), as in the forward; dK/dV sum the members through beta.
// Column-major views of the row-major [tokens, heads, head_dim] tensors: a
// row-major (r x c) matrix with row stride ld is a column-major (c x r) one.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/attention/chunk_attention_backward_internal.hpp"
#include "kernels/common/cuda_check.cuh"

namespace ringsim::kernels {
namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr int kRowThreads = 256;

// One block per (head, query row): P = exp2(S scale log2e - LSE log2e) on
// visible keys, 0 elsewhere and on rows whose LSE is -inf.
template <typename T>
__global__ void __launch_bounds__(kRowThreads) backward_probs_kernel(
    const float* scores, T* probs, const float* lse, long long lse_head_stride, int q_tokens, int kv_tokens,
    bool diagonal, float scale_log2) {
  const int head = blockIdx.x / q_tokens, row = blockIdx.x % q_tokens;
  const long long off = static_cast<long long>(blockIdx.x) * kv_tokens;
  const float l = lse[head * lse_head_stride + row];
  const int visible = l == -__builtin_huge_valf() ? 0 : diagonal ? min(row + 1, kv_tokens) : kv_tokens;
  for (int j = threadIdx.x; j < kv_tokens; j += kRowThreads)
    probs[off + j] = static_cast<T>(j < visible ? exp2f(scores[off + j] * scale_log2 - l * kLog2e) : 0.f);
}

// dS = P (dP - D) in place of P.
template <typename T>
__global__ void __launch_bounds__(kRowThreads) backward_ds_kernel(
    const float* dp, T* probs, const float* delta, long long delta_head_stride, int q_tokens, int kv_tokens) {
  const int head = blockIdx.x / q_tokens, row = blockIdx.x % q_tokens;
  const long long off = static_cast<long long>(blockIdx.x) * kv_tokens;
  const float d = delta[head * delta_head_stride + row];
  for (int j = threadIdx.x; j < kv_tokens; j += kRowThreads)
    probs[off + j] = static_cast<T>(static_cast<float>(probs[off + j]) * (dp[off + j] - d));
}

Status cublas_status(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return {};
  return Status{StatusCode::kCublasError, static_cast<int>(st), what};
}
#define RINGSIM_TRY_CUBLAS(call) RINGSIM_TRY(cublas_status((call), #call))

// C = alpha op(A) op(B) + beta C, batched over kv heads (column-major, fp32 out).
struct Gemm {
  cublasHandle_t h;
  cudaDataType_t in;
  Status operator()(cublasOperation_t ta, cublasOperation_t tb, long long m, long long n, long long k,
                    float alpha, const void* a, long long lda, long long stride_a, const void* b, long long ldb,
                    long long stride_b, float beta, float* c, long long ldc, long long stride_c, int batch) const {
    return cublas_status(
        cublasGemmStridedBatchedEx(h, ta, tb, int(m), int(n), int(k), &alpha, a, in, int(lda), stride_a, b, in,
                                   int(ldb), stride_b, &beta, c, CUDA_R_32F, int(ldc), stride_c, batch,
                                   CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmStridedBatchedEx (backward)");
  }
};

template <typename T>
Status elementwise(const ChunkAttentionBackwardArgs& a, float* scores, void* probs, bool ds, cudaStream_t stream) {
  const unsigned rows = static_cast<unsigned>(a.q_heads * a.q_tokens);
  const int q = static_cast<int>(a.q_tokens), kv = static_cast<int>(a.kv_tokens);
  if (ds)
    backward_ds_kernel<T><<<rows, kRowThreads, 0, stream>>>(scores, static_cast<T*>(probs), a.delta,
                                                            a.delta_head_stride, q, kv);
  else
    backward_probs_kernel<T><<<rows, kRowThreads, 0, stream>>>(scores, static_cast<T*>(probs), a.lse,
                                                               a.lse_head_stride, q, kv, a.mask != Mask::kFull,
                                                               a.softmax_scale * kLog2e);
  return cuda_status(cudaGetLastError(), ds ? "backward_ds_kernel launch" : "backward_probs_kernel launch");
}

}  // namespace

Status launch_cublas_attention_backward(const ChunkAttentionBackwardArgs& a, void* workspace,
                                        std::size_t workspace_bytes, cublasContext* cublas, cudaStream_t stream) {
  if (cublas == nullptr) return invalid("cublas handle is null (needed by the cuBLAS variant)");
  const long long q = a.q_tokens, kv = a.kv_tokens, d = a.head_dim, group = a.q_heads / a.kv_heads;
  const long long score_elems = a.q_heads * q * kv;
  if (workspace_bytes < static_cast<std::size_t>(score_elems) * 6)
    return Status{StatusCode::kWorkspaceTooSmall, 0, "cuBLAS backward workspace"};
  if (a.q_heads * q > 0x7fffffffLL) return invalid("cuBLAS backward: q_heads * q_tokens too large");
  float* scores = static_cast<float*>(workspace);  // S, then dP: [q_heads, q, kv] fp32
  char* probs = reinterpret_cast<char*>(scores + score_elems);  // P, then dS: [q_heads, q, kv] dtype
  const Gemm gemm{cublas, a.dtype == Dtype::kBf16 ? CUDA_R_16BF : CUDA_R_16F};
  const auto* q_ptr = static_cast<const char*>(a.q);
  const auto* do_ptr = static_cast<const char*>(a.d_o);
  const float scale = a.softmax_scale, kv_beta = a.accumulate ? 1.f : 0.f;
  const long long qkv = q * kv, kBytes = 2;
  auto elementwise_typed = [&](bool ds) {
    return a.dtype == Dtype::kBf16 ? elementwise<__nv_bfloat16>(a, scores, probs, ds, stream)
                                   : elementwise<__half>(a, scores, probs, ds, stream);
  };
  RINGSIM_TRY_CUBLAS(cublasSetStream(cublas, stream));
  for (long long m = 0; m < group; ++m)  // S^T (kv x q) = K (kv x d) . Q^T (d x q)
    RINGSIM_TRY(gemm(CUBLAS_OP_T, CUBLAS_OP_N, kv, q, d, 1.f, a.k, a.kv_token_stride, d, q_ptr + m * d * kBytes,
                     a.q_token_stride, group * d, 0.f, scores + m * qkv, kv, group * qkv, a.kv_heads));
  RINGSIM_TRY(elementwise_typed(false));
  for (long long m = 0; m < group; ++m)  // dV^T (d x kv) += dO^T (d x q) . P (q x kv)
    RINGSIM_TRY(gemm(CUBLAS_OP_N, CUBLAS_OP_T, d, kv, q, 1.f, do_ptr + m * d * kBytes, a.do_token_stride, group * d,
                     probs + m * qkv * kBytes, kv, group * qkv, m == 0 ? kv_beta : 1.f, a.d_v, a.dkv_token_stride, d,
                     a.kv_heads));
  for (long long m = 0; m < group; ++m)  // dP^T (kv x q) = V (kv x d) . dO^T (d x q)
    RINGSIM_TRY(gemm(CUBLAS_OP_T, CUBLAS_OP_N, kv, q, d, 1.f, a.v, a.kv_token_stride, d, do_ptr + m * d * kBytes,
                     a.do_token_stride, group * d, 0.f, scores + m * qkv, kv, group * qkv, a.kv_heads));
  RINGSIM_TRY(elementwise_typed(true));
  for (long long m = 0; m < group; ++m)  // dQ^T (d x q) = scale K^T (d x kv) . dS^T (kv x q)
    RINGSIM_TRY(gemm(CUBLAS_OP_N, CUBLAS_OP_N, d, q, kv, scale, a.k, a.kv_token_stride, d,
                     probs + m * qkv * kBytes, kv, group * qkv, a.accumulate ? 1.f : 0.f, a.d_q + m * d,
                     a.dq_token_stride, group * d, a.kv_heads));
  for (long long m = 0; m < group; ++m)  // dK^T (d x kv) += scale Q^T (d x q) . dS (q x kv)
    RINGSIM_TRY(gemm(CUBLAS_OP_N, CUBLAS_OP_T, d, kv, q, scale, q_ptr + m * d * kBytes, a.q_token_stride, group * d,
                     probs + m * qkv * kBytes, kv, group * qkv, m == 0 ? kv_beta : 1.f, a.d_k, a.dkv_token_stride, d,
                     a.kv_heads));
  return {};
}

}  // namespace ringsim::kernels
