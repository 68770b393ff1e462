// The model around attention, per GPU (models/model_spec.hpp has the keys):
// the GEMMs of a transformer layer, its tensor-parallel collectives, and what
// one GPU holds in memory. sim/model_step.hpp adds the schedule's attention
// and puts a step together.
//
// A layer (Llama style: pre-norm, grouped-query attention, gated MLP), for
// the `tokens` rows one GPU of a tensor group of t computes (its ring chunk):
//   qkv   [tokens x hidden] x [hidden x (q_heads + 2 kv_heads) head_dim / t]
//   out   [tokens x q_heads head_dim / t] x [.. x hidden]
//   up    [tokens x hidden] x [hidden x 2 ffn_hidden / t]   (gate and up together)
//   down  [tokens x ffn_hidden / t] x [.. x hidden]
// A backward runs two GEMMs per forward one (input gradient m x k = m x n . n x k,
// weight gradient k x n = k x m . m x n). With t > 1 (sequence parallel) each of
// attention and MLP all-gathers its input and reduce-scatters its output,
// tokens x hidden in the model dtype: 4 collectives forward, 4 backward,
// on the critical path (Megatron does not overlap them).
//
// Parameters: per layer hidden (q_heads + 2 kv_heads) head_dim + q_heads
// head_dim hidden + 3 hidden ffn_hidden + 2 hidden (norms); embedding and an
// untied LM head vocab x hidden each, plus the final norm; split over t.
// Memory per GPU (bytes; b = the model dtype's bytes; Z = the ring's ranks,
// ZeRO's sharding group; N = per-GPU params; ZeRO's own accounting):
//   weights       b N                 (/ Z at zero 3)
//   gradients     2 N, training only  (/ Z at zero >= 2)
//   optimizer     12 N, training only (/ Z at zero >= 1): fp32 master, Adam m and v
//   activations   what the backward keeps, per token per layer
//                 A = ((4 hidden + (2 q_heads + 2 kv_heads) head_dim + 3 ffn_hidden) b + 4 q_heads) / t
//                 (two norm inputs and outputs; Q, K, V, attention output, its
//                 fp32 log-sum-exp; gate, up and their product); training:
//                 layers x tokens x A, or with activation checkpointing
//                 layers x tokens x hidden b / t (layer inputs) + tokens x A
//                 (the layer being recomputed); forward: tokens x A (one layer live)
//   kv_cache      forward (prefill): layers x (tokens + cached / ring) x 2 kv_heads
//                 head_dim b / t
//   logits        training with a vocab: tokens x vocab / t x 4 (fp32)
//   attention     the schedule's buffers at their peak (receive buffers,
//                 accumulators, ...; its own Q/K/V too: counted twice, on the safe side)
//   reserved      the profile's reserved memory (context, framework)
#pragma once
#include <string>
#include <vector>

#include "models/compute_model.hpp"
#include "models/gemm_model.hpp"
#include "models/memory_model.hpp"
#include "models/model_spec.hpp"

namespace ringsim {

struct LayerGemm {
  std::string name;  // "qkv", "out", "up", "down"
  GemmShape shape;
};

// The forward GEMMs of one layer on one GPU of a tensor group of `tensor`.
std::vector<LayerGemm> layer_gemms(const AttentionShape&, const ModelSize&, int tensor, long long tokens);
// The two backward GEMMs of each forward one.
std::vector<LayerGemm> backward_gemms(const std::vector<LayerGemm>& forward);

double layer_params(const AttentionShape&, const ModelSize&);  // one layer, whole (not split)
double model_params(const AttentionShape&, const ModelSize&);  // all layers, embedding, head, final norm

struct MemoryItem {
  std::string name;
  double bytes = 0;
};

struct MemoryBreakdown {
  std::vector<MemoryItem> items;  // in the order above; zero items left out
  double total() const;
  double of(const std::string& name) const;  // 0 if absent
};

struct MemoryInputs {
  long long tokens = 0;         // rows per GPU (the ring chunk)
  long long cached_tokens = 0;  // per GPU
  long long sharding_group = 1; // ZeRO's: the ring's ranks
  double attention_bytes = 0;   // the schedule's peak buffers
  double reserved_bytes = 0;
  bool training = false;
};
MemoryBreakdown model_memory(const AttentionShape&, const ModelSize&, const Parallelism&, const MemoryInputs&);

// "needs 93.1 GiB of 80 GiB (over by 13.1 GiB): activations 60 GiB, weights 17.5 GiB, ..." (largest first).
MemoryVerdict breakdown_verdict(const MemoryBreakdown&, double capacity_bytes);

// One point's step beyond attention's own result (sim/model_step.hpp fills it).
struct ModelStep {
  long long layers = 0;
  int tensor = 1;
  long long gpus = 0;                   // ring_size x tensor
  bool training = false;
  double attention_seconds = 0;         // per layer: the schedule's attention (slowest device)
  double attention_exposed_seconds = 0; // per layer: of it, exposed ring communication
  double gemm_seconds = 0;              // per layer: projections and MLP (backward and recompute included)
  double tp_comm_seconds = 0;           // per layer: tensor-parallel collectives (all exposed)
  double head_seconds = 0;              // per step: LM head (training with a vocab)
  double layer_seconds = 0, step_seconds = 0;
  double compute_seconds = 0, exposed_comm_seconds = 0;  // per step
  bool gemm_calibrated = true;
  std::string gemm_reason;              // why estimated (first), or how split
  MemoryBreakdown memory;
};

}  // namespace ringsim
