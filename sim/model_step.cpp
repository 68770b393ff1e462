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
  if (times == 0) return;  // a pass that does not run them: neither time nor label
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

namespace {

// Forward GEMMs (and their recompute), backward GEMMs, and passes over the
// layer's collectives, by the point's pass (model_step.hpp).
struct PassWork {
  int forward_gemms = 0, backward_gemms = 0, collective_passes = 0;
  bool recompute_attention = false;
};

PassWork pass_work(Pass pass, bool checkpointing) {
  switch (pass) {
    case Pass::kForward: return {1, 0, 1, false};
    case Pass::kBackward: return {0, 1, 1, false};
    case Pass::kTraining: return {checkpointing ? 2 : 1, 1, checkpointing ? 3 : 2, checkpointing};
  }
  return {};
}

void set_gemms(const Scenario& s, long long tokens, const PassWork& w, ModelStep& m) {
  const int t = s.parallel.tensor;
  const GemmModel gemm(s.profile, s.shape.dtype);
  const std::vector<LayerGemm> fwd = layer_gemms(s.shape, s.size, t, tokens);
  GemmTotal total;
  add_gemms(gemm, fwd, w.forward_gemms, total);
  add_gemms(gemm, backward_gemms(fwd), w.backward_gemms, total);
  if (m.training && s.size.vocab > 0) {  // the LM head, once per step
    const std::vector<LayerGemm> head = {{"lm_head", {tokens, s.size.vocab / t, s.size.hidden}}};
    GemmTotal h;
    add_gemms(gemm, head, w.forward_gemms > 0 ? 1 : 0, h);
    add_gemms(gemm, backward_gemms(head), 1, h);
    m.head_seconds = h.seconds;
    total.calibrated = total.calibrated && h.calibrated;
    if (total.reason.empty()) total.reason = h.reason;
  }
  m.gemm_seconds = total.seconds;
  m.gemm_calibrated = total.calibrated;
  m.gemm_reason = total.reason;
}

}  // namespace

ModelStep model_step(const Scenario& s, const Point& p, const PointResult& att) {
  ModelStep m;
  const long long tokens = p.chunk_tokens();
  const PassWork w = pass_work(att.pass, s.parallel.activation_checkpointing);
  m.layers = s.size.layers;
  m.tensor = s.parallel.tensor;
  m.gpus = p.ring_size / ranks_per_gpu(s, p) * m.tensor;
  m.training = att.pass != Pass::kForward;  // gradients and optimizer state are held
  m.attention_seconds = to_seconds(att.makespan_ns + (w.recompute_attention ? att.forward_ns : 0));
  m.attention_exposed_seconds = to_seconds(att.slowest_exposed_comm_ns);
  set_gemms(s, tokens, w, m);
  m.tp_comm_seconds = tp_seconds(s, tokens, w.collective_passes);
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
  in.training = m.training;
  m.memory = model_memory(s.shape, s.size, s.parallel, in);
  return m;
}

PointResult simulate_model_point(const Scenario& s, const Point& p, const SimOptions& opt) {
  if (!s.size.whole()) return simulate_point(s, p, opt);
  const Scenario view = tensor_view(s);
  PointResult r = simulate_point(view, p, opt);
  r.model = model_step(s, p, r);
  r.memory = breakdown_verdict(r.model->memory, s.profile.memory_bytes);
  return r;
}

}  // namespace ringsim
