// The model around attention and how it is parallelised, as a scenario gives
// them (models/scenario.hpp):
//
//   model:    {..., layers: 80, hidden: 8192, ffn_hidden: 28672, vocab: 128256}
//   parallel: {tensor: 8, zero: 1, activation_checkpointing: true}
//
// layers unset: a point is one attention layer (the single-layer meaning every
// result had before; hidden, ffn_hidden and vocab need layers). With layers:
// a point is one step of the whole model (models/layer_model.hpp).
// parallel.tensor: tensor-parallel degree inside a node (Megatron style with
// sequence parallelism: heads, MLP columns and the activations between them
// split over `tensor` GPUs); it divides gpus_per_node and both head counts. A
// point's GPUs are ring_size x tensor: each GPU of a tensor group runs its own
// ring over its share of the heads.
// parallel.zero: ZeRO stage 0-3 over the ring's ranks (they hold the same
// weights: the sharding group, as Megatron's distributed optimizer shards over
// data x context parallel ranks).
#pragma once

namespace ringsim {

struct ModelSize {
  long long layers = 0;      // 0: one attention layer, nothing around it
  long long hidden = 0;      // model width
  long long ffn_hidden = 0;  // MLP inner width (gated: gate and up projections, then down)
  long long vocab = 0;       // 0: no embedding or LM head
  bool whole() const { return layers > 0; }
};

struct Parallelism {
  int tensor = 1;
  int zero = 0;  // 0: none; 1: optimizer state; 2: + gradients; 3: + weights sharded
  bool activation_checkpointing = false;  // keep each layer's input only; recompute in backward
};

}  // namespace ringsim
