// The model around attention: layer GEMMs, parameters, memory per GPU.
// Formulas in layer_model.hpp; tests in tests/models/test_layer_model.cpp
// (a small model's breakdown computed by hand).
#include "models/layer_model.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "models/units.hpp"

namespace ringsim {

std::vector<LayerGemm> layer_gemms(const AttentionShape& a, const ModelSize& m, int tensor, long long tokens) {
  const long long t = tensor, d = a.head_dim;
  return {
      {"qkv", {tokens, (a.q_heads + 2LL * a.kv_heads) * d / t, m.hidden}},
      {"out", {tokens, m.hidden, a.q_heads * d / t}},
      {"up", {tokens, 2 * m.ffn_hidden / t, m.hidden}},
      {"down", {tokens, m.hidden, m.ffn_hidden / t}},
  };
}

std::vector<LayerGemm> backward_gemms(const std::vector<LayerGemm>& forward) {
  std::vector<LayerGemm> out;
  for (const LayerGemm& g : forward) {
    out.push_back({g.name + " dgrad", {g.shape.m, g.shape.k, g.shape.n}});
    out.push_back({g.name + " wgrad", {g.shape.k, g.shape.n, g.shape.m}});
  }
  return out;
}

double layer_params(const AttentionShape& a, const ModelSize& m) {
  const double h = double(m.hidden), d = a.head_dim;
  return h * (a.q_heads + 2.0 * a.kv_heads) * d + a.q_heads * d * h + 3.0 * h * double(m.ffn_hidden) + 2.0 * h;
}

double model_params(const AttentionShape& a, const ModelSize& m) {
  return double(m.layers) * layer_params(a, m) + 2.0 * double(m.vocab) * double(m.hidden) + double(m.hidden);
}

double MemoryBreakdown::total() const {
  double sum = 0;
  for (const MemoryItem& i : items) sum += i.bytes;
  return sum;
}

double MemoryBreakdown::of(const std::string& name) const {
  for (const MemoryItem& i : items)
    if (i.name == name) return i.bytes;
  return 0;
}

namespace {

// Bytes one layer keeps per token for its backward, on one GPU (formula in the header).
double activation_bytes_per_token(const AttentionShape& a, const ModelSize& m, int tensor) {
  const double b = dtype_bytes(a.dtype);
  const double elements = 4.0 * double(m.hidden) + (2.0 * a.q_heads + 2.0 * a.kv_heads) * a.head_dim +
                          3.0 * double(m.ffn_hidden);
  return (elements * b + 4.0 * a.q_heads) / tensor;
}

double activations(const AttentionShape& a, const ModelSize& m, const Parallelism& p, const MemoryInputs& in) {
  const double per_layer = double(in.tokens) * activation_bytes_per_token(a, m, p.tensor);
  if (!in.training) return per_layer;
  if (!p.activation_checkpointing) return double(m.layers) * per_layer;
  const double inputs = double(m.layers) * double(in.tokens) * double(m.hidden) * dtype_bytes(a.dtype) / p.tensor;
  return inputs + per_layer;
}

}  // namespace

MemoryBreakdown model_memory(const AttentionShape& a, const ModelSize& m, const Parallelism& p, const MemoryInputs& in) {
  const double n = model_params(a, m) / p.tensor, z = double(in.sharding_group), b = dtype_bytes(a.dtype);
  MemoryBreakdown out;
  const auto add = [&](const char* name, double bytes) {
    if (bytes > 0) out.items.push_back({name, bytes});
  };
  add("weights", b * n / (p.zero >= 3 ? z : 1));
  if (in.training) {
    add("gradients", 2 * n / (p.zero >= 2 ? z : 1));
    add("optimizer", 12 * n / (p.zero >= 1 ? z : 1));
  }
  add("activations", activations(a, m, p, in));
  if (!in.training) {
    const double rows = double(in.tokens) + double(in.cached_tokens);
    add("kv_cache", double(m.layers) * rows * 2.0 * a.kv_heads * a.head_dim * b / p.tensor);
  }
  if (in.training) add("logits", double(in.tokens) * double(m.vocab) / p.tensor * 4.0);
  add("attention", in.attention_bytes);
  add("reserved", in.reserved_bytes);
  return out;
}

MemoryVerdict breakdown_verdict(const MemoryBreakdown& mem, double capacity_bytes) {
  MemoryVerdict v;
  v.peak_bytes = mem.total();
  v.capacity_bytes = capacity_bytes;
  v.fits = v.peak_bytes <= capacity_bytes;
  if (v.fits) return v;
  std::vector<MemoryItem> items = mem.items;
  std::stable_sort(items.begin(), items.end(), [](const MemoryItem& x, const MemoryItem& y) { return x.bytes > y.bytes; });
  v.reason = fmt::format("needs {} of {} (over by {}):", format_bytes(v.peak_bytes), format_bytes(capacity_bytes),
                         format_bytes(v.peak_bytes - capacity_bytes));
  for (std::size_t i = 0; i < items.size(); ++i)
    v.reason += fmt::format("{} {} {}", i == 0 ? "" : ",", items[i].name, format_bytes(items[i].bytes));
  return v;
}

}  // namespace ringsim
