// What `run` and `plan` print about the model around attention (model.layers,
// sim/model_step.hpp): the scope of a row's time (one attention layer, or a
// step of N layers), the per-layer parts and the memory breakdown per GPU, as
// table lines, CSV cells (empty without model.layers, so every file has the
// same columns) and a JSON object. Internal to tools/ringsim.
#pragma once
#include <string>

#include "sim/simulate.hpp"

namespace ringsim::cli {

// "per layer (one attention layer; model.layers unset)" or
// "per step (80 layers: attention, projections, MLP, tensor-parallel collectives; forward)".
std::string scope_line(const Scenario& s);
long long gpus_of(const Scenario& s, const PointResult& r);  // ring_size / ranks_per_gpu x tensor
// The table's line under a row with a model: per-layer parts and memory.
std::string model_table_line(const PointResult& r);
extern const char* const kModelCsvColumns;            // ",scope,layers,tensor_parallel,..." (leading comma)
std::string model_csv_cells(const PointResult& r);    // matching cells, leading comma
std::string model_json(const PointResult& r);         // ", \"scope\": ..., \"model\": {...} | null"

}  // namespace ringsim::cli
