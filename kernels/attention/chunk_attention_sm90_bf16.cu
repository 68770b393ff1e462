// bf16 instantiations of the Hopper kernel (see chunk_attention_sm90.cuh).
#include "kernels/attention/chunk_attention_sm90_launch.cuh"

namespace ringsim::kernels {
Status launch_sm90_attention_bf16(const ChunkAttentionArgs& a, Sm90Tile tile, cudaStream_t s) {
  return sm90::launch_typed<__nv_bfloat16>(a, tile, s);
}
}  // namespace ringsim::kernels
