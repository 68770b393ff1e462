// fp64 CPU reference for the ring checks: full attention of single query rows
// over the whole sequence, built from the hashed inputs of ring_random.hpp
// (so the sequence is never stored on the GPU side). CPU only.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace ringsim::ring {

struct ReferenceInputs {
  std::uint64_t seed = 0;
  long long tokens = 0;  // whole sequence
  int q_heads = 0, kv_heads = 0, head_dim = 0;
  bool causal = false;   // key j visible to query t iff j <= t (global positions)
  long long first_query = 0;  // ReferenceGrad: tokens before it are keys only (a cached prefix)
};

// K and V of one kv head for every token, in fp64; then any query row of a
// head of that group: o[head_dim] and lse (natural log), scale 1/sqrt(head_dim).
class ReferenceKv {
 public:
  ReferenceKv(const ReferenceInputs& in, int kv_head);
  void row(long long token, int q_head, double* o, double* lse) const;
  const double* k(long long token) const { return &k_[static_cast<std::size_t>(token * in_.head_dim)]; }
  const double* v(long long token) const { return &v_[static_cast<std::size_t>(token * in_.head_dim)]; }

 private:
  ReferenceInputs in_;
  std::vector<double> k_, v_;  // [tokens, head_dim]
};

// The gradients of full attention over the whole sequence, fp64, for the
// q heads of one kv head's group: dO is hashed (Tensor::kDO) for every
// query token (tokens >= first_query); O, LSE and D = rowsum(dO * O) of
// every such row are computed once (O(tokens^2 head_dim) per q head), then
//   dq_row   dQ of one query row: sum_j scale P_tj (dO_t . V_j - D_t) K_j
//   dkv_row  dK, dV of one key row, summed over the group's q heads:
//            dK_j = sum_t scale P_tj (dO_t . V_j - D_t) Q_t, dV_j = sum_t P_tj dO_t
// The forward's O and LSE of a row are out() and lse() (a backward's inputs).
//
// Sampled form (a real run's check, where O(tokens^2) is too slow): the
// per-query LSE and D of the group's heads come from the caller ([query -
// first_query][group head]; e.g. the run's forward LSE, and D from its saved
// O), O is not kept (out() and lse() are not to be called); dkv_row is then
// O(tokens head_dim) per row and exact given them. own_dq_row recomputes
// its row's O, LSE and D in fp64 (ReferenceKv::row), so a dQ row checked by
// it owes the caller nothing.
class ReferenceGrad {
 public:
  ReferenceGrad(const ReferenceInputs& in, int kv_head);
  ReferenceGrad(const ReferenceInputs& in, int kv_head, std::vector<double> lse, std::vector<double> delta);
  void own_dq_row(long long token, int q_head, double* dq) const;
  const double* out(long long token, int q_head) const { return &o_[index(token, q_head)]; }
  double lse(long long token, int q_head) const { return lse_[index(token, q_head) / static_cast<std::size_t>(in_.head_dim)]; }
  void dq_row(long long token, int q_head, double* dq) const;
  void dkv_row(long long token, double* dk, double* dv) const;

 private:
  std::size_t index(long long token, int q_head) const;  // into q_, o_, do_ ([query][group head][head_dim])
  double ds(long long t, int g, long long j, double* p) const;  // dS_tj of group head g; P_tj in *p
  void hash_rows();  // q_ and do_ of every query row of the group
  void dq_sum(const double* q, const double* d_o, double lse, double delta, long long token, double* dq) const;
  ReferenceInputs in_;
  ReferenceKv kv_;
  int group_ = 1, first_head_ = 0;
  std::vector<double> q_, o_, do_, lse_, d_;  // per query row and group head
};

// Positions the ring checks sample: both ends, every run boundary of every
// part (rows of `run` tokens), random ones; at most `count` (sorted).
std::vector<long long> sample_positions(long long tokens, long long run, int count, std::mt19937_64& rng);

}  // namespace ringsim::ring
