// The model around attention in run/plan output; see output_model.hpp.
#include "tools/ringsim/output_model.hpp"

#include <fmt/format.h>

#include "tools/ringsim/output.hpp"

namespace ringsim::cli {

namespace {

// Memory items, in the CSV's column order (models/layer_model.hpp names them).
constexpr const char* kMemoryItems[] = {"weights", "gradients", "optimizer", "activations", "kv_cache",
                                        "logits", "attention", "reserved"};

}  // namespace

std::string scope_line(const Scenario& s) {
  if (!s.size.whole()) return "per layer (one attention layer; model.layers unset)";
  return fmt::format("per step ({} layers: attention, QKV/output projections, MLP, tensor-parallel collectives)",
                     s.size.layers);
}

long long gpus_of(const Scenario& s, const PointResult& r) {
  return r.model ? r.model->gpus : r.point.ring_size / ranks_per_gpu(s, r.point);
}

std::string model_table_line(const PointResult& r) {
  const ModelStep& m = *r.model;
  std::string line = fmt::format("per layer {} = attention {} (exposed ring comm {}) + GEMMs {}{} + TP comm {}; memory/GPU:",
                                 format_seconds(m.layer_seconds), format_seconds(m.attention_seconds),
                                 format_seconds(m.attention_exposed_seconds), format_seconds(m.gemm_seconds),
                                 m.gemm_calibrated ? "" : " [estimated: " + m.gemm_reason + "]",
                                 format_seconds(m.tp_comm_seconds));
  for (const MemoryItem& i : m.memory.items) line += fmt::format(" {} {}", i.name, format_bytes(i.bytes));
  return line;
}

const char* const kModelCsvColumns =
    ",scope,layers,tensor_parallel,layer_seconds,attention_seconds_per_layer,gemm_seconds_per_layer,"
    "tp_comm_seconds_per_layer,gemm_label,weights_bytes,gradients_bytes,optimizer_bytes,activations_bytes,"
    "kv_cache_bytes,logits_bytes,attention_bytes,reserved_bytes";

std::string model_csv_cells(const PointResult& r) {
  if (!r.model) return ",layer" + std::string(15, ',');  // scope, then the 15 other columns empty
  const ModelStep& m = *r.model;
  std::string cells = fmt::format(",step,{},{},{},{},{},{},{}", m.layers, m.tensor, m.layer_seconds, m.attention_seconds,
                                  m.gemm_seconds, m.tp_comm_seconds, m.gemm_calibrated ? "simulated" : "estimated");
  for (const char* item : kMemoryItems) cells += fmt::format(",{}", m.memory.of(item));
  return cells;
}

std::string model_json(const PointResult& r) {
  if (!r.model) return ", \"scope\": \"layer\", \"model\": null";
  const ModelStep& m = *r.model;
  std::string memory;
  for (const char* item : kMemoryItems)
    memory += fmt::format("{}{}: {}", memory.empty() ? "" : ", ", json_string(item), json_number(m.memory.of(item)));
  return fmt::format(", \"scope\": \"step\", \"model\": {{\"layers\": {}, \"tensor_parallel\": {}, \"layer_seconds\": {}, "
                     "\"attention_seconds_per_layer\": {}, \"attention_exposed_seconds_per_layer\": {}, "
                     "\"gemm_seconds_per_layer\": {}, \"tp_comm_seconds_per_layer\": {}, \"gemm_label\": {}, "
                     "\"gemm_note\": {}, \"memory_bytes\": {{{}}}}}",
                     m.layers, m.tensor, json_number(m.layer_seconds), json_number(m.attention_seconds),
                     json_number(m.attention_exposed_seconds), json_number(m.gemm_seconds),
                     json_number(m.tp_comm_seconds), json_string(m.gemm_calibrated ? "simulated" : "estimated"),
                     json_string(m.gemm_reason), memory);
}

}  // namespace ringsim::cli
