// fp64 CPU reference for the ring checks: full attention of single query rows
// over the whole sequence, built from the hashed inputs of ring_random.hpp
// (so the sequence is never stored on the GPU side). CPU only.
#pragma once
#include <cstdint>
#include <vector>

namespace ringsim::ring {

struct ReferenceInputs {
  std::uint64_t seed = 0;
  long long tokens = 0;  // whole sequence
  int q_heads = 0, kv_heads = 0, head_dim = 0;
  bool causal = false;   // key j visible to query t iff j <= t (global positions)
};

// K and V of one kv head for every token, in fp64; then any query row of a
// head of that group: o[head_dim] and lse (natural log), scale 1/sqrt(head_dim).
class ReferenceKv {
 public:
  ReferenceKv(const ReferenceInputs& in, int kv_head);
  void row(long long token, int q_head, double* o, double* lse) const;

 private:
  ReferenceInputs in_;
  std::vector<double> k_, v_;  // [tokens, head_dim]
};

}  // namespace ringsim::ring
