// Scenario keys of the model around attention (model.layers, hidden,
// ffn_hidden, vocab) and of its parallelism (parallel.*); format in
// models/model_spec.hpp. Errors name file, line and key like the rest of
// the scenario.
#include "models/scenario_points.hpp"

namespace ringsim {

using namespace yaml;

namespace {

constexpr long long kMaxLayers = 1 << 20;
constexpr long long kMaxWidth = 1LL << 24;

}  // namespace

void read_model_size(const Map& model, Scenario& s) {
  ModelSize& m = s.size;
  if (model.find("layers")) m.layers = read_int(model, "layers", kMaxLayers);
  for (const char* key : {"hidden", "ffn_hidden", "vocab"}) {
    if (!model.find(key)) continue;
    if (!m.whole())
      throw InputError(model.file(), model.line(key), model.sub(key),
                       "needs model.layers (without it a point is one attention layer, nothing around it)");
    const long long v = read_int(model, key, kMaxWidth);
    (key[0] == 'h' ? m.hidden : key[0] == 'f' ? m.ffn_hidden : m.vocab) = v;
  }
  if (!m.whole()) return;
  for (const char* key : {"hidden", "ffn_hidden"})
    if (!model.find(key))
      throw InputError(model.file(), model.line("layers"), model.sub(key), "missing (required with model.layers)");
}

void read_parallel(const Map& root, Scenario& s) {
  if (!root.find("parallel")) return;
  Map par(root.need("parallel"), "parallel", root.file(), root.line("parallel"),
          {"tensor", "zero", "activation_checkpointing"});
  if (!s.size.whole())
    throw InputError(par.file(), par.line(), "parallel",
                     "needs model.layers (parallelism is about the whole model; without layers a point is one "
                     "attention layer)");
  Parallelism& p = s.parallel;
  if (par.find("tensor")) {
    p.tensor = static_cast<int>(read_int(par, "tensor", kMaxGpusPerNode));
    const auto fail = [&](const std::string& why) {
      return InputError(par.file(), par.line("tensor"), "parallel.tensor", why);
    };
    if (s.gpus_per_node % p.tensor != 0)
      throw fail(fmt::format("{} does not divide cluster.gpus_per_node {} (tensor parallelism stays inside a node)",
                             p.tensor, s.gpus_per_node));
    if (s.shape.q_heads % p.tensor != 0 || s.shape.kv_heads % p.tensor != 0)
      throw fail(fmt::format("{} does not divide model.q_heads {} and model.kv_heads {} (heads are split over it)",
                             p.tensor, s.shape.q_heads, s.shape.kv_heads));
    if (p.tensor > 1 && s.ranks_per_gpu > 1)
      throw fail(fmt::format("tensor parallelism with cluster.ranks_per_gpu {} is not modelled", s.ranks_per_gpu));
  }
  if (par.find("zero")) p.zero = static_cast<int>(read_int(par, "zero", 3, 0));
  if (par.find("activation_checkpointing")) p.activation_checkpointing = read_bool(par, "activation_checkpointing");
  for (const char* key : {"tensor", "zero", "activation_checkpointing"})
    if (par.find(key)) s.key_lines[par.sub(key)] = par.line(key);
}

}  // namespace ringsim
