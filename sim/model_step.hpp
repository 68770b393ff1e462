// A point with the model around attention (model.layers, parallel.*:
// models/model_spec.hpp): the schedule's attention simulated for one GPU of a
// tensor group (its share of the heads, gpus_per_node / tensor ring ranks per
// node: each GPU of the group runs its own ring over its own links), then the
// layer's GEMMs (models/gemm_model.hpp), its tensor-parallel collectives as
// flows on a node (models/collectives.hpp) and the memory per GPU
// (models/layer_model.hpp), put together as one step of `layers` layers:
//   layer = attention (makespan of the slowest device) + GEMMs + collectives
//   step  = layers x layer (+ the LM head in training)
// by attention.pass: forward (prefill) runs the forward GEMMs and one pass of
// collectives; backward the backward GEMMs (two per forward one) and one pass;
// training both, and with activation checkpointing the forward once more
// (GEMMs, collectives and the attention forward) before each layer's
// backward. backward and training hold gradients and optimizer state.
// The model runs layer after layer: nothing of one layer overlaps the next.
// Without model.layers this is simulate_point, unchanged.
#pragma once
#include "sim/simulate.hpp"

namespace ringsim {

// The scenario one GPU of a tensor group sees: q_heads, kv_heads and
// gpus_per_node divided by parallel.tensor.
Scenario tensor_view(const Scenario&);

// simulate_point, plus PointResult::model and the model's memory verdict when
// the scenario has model.layers.
PointResult simulate_model_point(const Scenario&, const Point&, const SimOptions&);

// The step around an attention result already simulated on tensor_view(s).
ModelStep model_step(const Scenario& s, const Point& p, const PointResult& attention);

}  // namespace ringsim
