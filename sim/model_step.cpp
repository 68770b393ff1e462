// A whole-model step around a schedule's attention; see model_step.hpp.
// Tests: tests/sim/test_model_step.cpp.
#include "sim/model_step.hpp"

#include <fmt/format.h>

#include "models/collectives.hpp"

namespace ringsim {

Scenario tensor_view(const Scenario& s) {
  Scenario v = s;
  const int t = s.parallel.tensor;
  v.shape.q_heads /= t;
  v.shape.kv_heads /= t;
  v.gpus_per_node /= t;
  return v;
}

namespace {

struct GemmTotal {
  double seconds = 0;
  bool calibrated = true;
  std::string reason;
};

void add_gemms(const GemmModel& model, const std::vector<LayerGemm>& gemms, double times, GemmTotal& total) {
  for (const LayerGemm& g : gemms) {
    const GemmCost c = model.cost(g.shape);
    total.seconds += times * c.seconds;
    if (!c.calibrated && total.calibrated) total.reason = fmt::format("{}: {}", g.name, c.reason);
    if (c.calibrated && total.reason.empty() && !c.reason.empty()) total.reason = fmt::format("{}: {}", g.name, c.reason);
    total.calibrated = total.calibrated && c.calibrated;
  }
}

// Tensor-parallel collectives of one layer: an all-gather and a
// reduce-scatter around attention and around the MLP, per pass over the layer.
double tp_seconds(const Scenario& s, long long tokens, int passes) {
  ClusterSpec node;
  node.gpus_per_node = s.gpus_per_node;
  node.intra_node = s.intra_node;
  node.inter_node = s.inter_node;
  const double bytes = double(tokens) * double(s.size.hidden) * dtype_bytes(s.shape.dtype);
  const int t = s.parallel.tensor;
  const double one = collective_seconds(node, t, bytes, Collective::kAllGather) +
                     collective_seconds(node, t, bytes, Collective::kReduceScatter);
  return 2.0 * one * passes;
}

}  // namespace

ModelStep model_step(const Scenario& s, const Point& p, const PointResult& att, bool training) {
  ModelStep m;
  const int t = s.parallel.tensor;
  const long long tokens = p.chunk_tokens();
  m.layers = s.size.layers;
  m.tensor = t;
  m.gpus = p.ring_size / ranks_per_gpu(s, p) * t;
  m.training = training;
  m.attention_seconds = to_seconds(att.makespan_ns);
  m.attention_exposed_seconds = to_seconds(att.slowest_exposed_comm_ns);
  const GemmModel gemm(s.profile, s.shape.dtype);
  const std::vector<LayerGemm> fwd = layer_gemms(s.shape, s.size, t, tokens);
  GemmTotal total;
  add_gemms(gemm, fwd, training && s.parallel.activation_checkpointing ? 2 : 1, total);
  if (training) add_gemms(gemm, backward_gemms(fwd), 1, total);
  m.gemm_seconds = total.seconds;
  m.gemm_calibrated = total.calibrated;
  m.gemm_reason = total.reason;
  const int passes = training ? (s.parallel.activation_checkpointing ? 3 : 2) : 1;
  m.tp_comm_seconds = tp_seconds(s, tokens, passes);
  if (training && s.size.vocab > 0) {
    GemmTotal head;
    const std::vector<LayerGemm> lm_head = {{"lm_head", {tokens, s.size.vocab / t, s.size.hidden}}};
    add_gemms(gemm, lm_head, 1, head);
    add_gemms(gemm, backward_gemms(lm_head), 1, head);
    m.head_seconds = head.seconds;
    m.gemm_calibrated = m.gemm_calibrated && head.calibrated;
    if (m.gemm_reason.empty()) m.gemm_reason = head.reason;
  }
  m.layer_seconds = m.attention_seconds + m.gemm_seconds + m.tp_comm_seconds;
  m.step_seconds = double(m.layers) * m.layer_seconds + m.head_seconds;
  m.exposed_comm_seconds = double(m.layers) * (m.attention_exposed_seconds + m.tp_comm_seconds);
  m.compute_seconds = m.step_seconds - m.exposed_comm_seconds;
  MemoryInputs in;
  in.tokens = tokens;
  in.cached_tokens = attention_of(s, p).cached_tokens / p.ring_size;
  in.sharding_group = p.ring_size / ranks_per_gpu(s, p);
  in.reserved_bytes = s.profile.reserved_memory_bytes;
  in.attention_bytes = std::max(0.0, att.memory.peak_bytes - in.reserved_bytes);
  in.training = training;
  m.memory = model_memory(s.shape, s.size, s.parallel, in);
  return m;
}

PointResult simulate_model_point(const Scenario& s, const Point& p, const SimOptions& opt) {
  if (!s.size.whole()) return simulate_point(s, p, opt);
  const Scenario view = tensor_view(s);
  PointResult r = simulate_point(view, p, opt);
  const bool training = false;  // attention.pass (branch train) decides once merged
  r.model = model_step(s, p, r, training);
  r.memory = breakdown_verdict(r.model->memory, s.profile.memory_bytes);
  return r;
}

}  // namespace ringsim
