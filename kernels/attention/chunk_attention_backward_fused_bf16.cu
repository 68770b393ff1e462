// bf16 instantiations of the fused backward kernel (see chunk_attention_backward_fused.cuh).
#include "kernels/attention/chunk_attention_backward_fused_launch.cuh"

namespace ringsim::kernels {
Status launch_fused_attention_backward_bf16(const ChunkAttentionBackwardArgs& a, BwdTile tile, cudaStream_t s) {
  return fused_bwd::launch_typed<__nv_bfloat16>(a, tile, s);
}
}  // namespace ringsim::kernels
