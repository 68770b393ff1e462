// bf16 instantiations of the fused kernel (see chunk_attention_fused.cuh).
#include "kernels/attention/chunk_attention_fused_launch.cuh"

namespace ringsim::kernels {
Status launch_fused_attention_bf16(const ChunkAttentionArgs& a, FusedTile tile, cudaStream_t s) {
  return fused::launch_typed<__nv_bfloat16>(a, tile, s);
}
Status fused_tile_info_bf16(const ChunkAttentionArgs& a, FusedTile tile, KernelTileInfo* out) {
  return fused::tile_info_typed<__nv_bfloat16>(a, tile, out);
}
}  // namespace ringsim::kernels
