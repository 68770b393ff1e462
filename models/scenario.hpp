// A scenario: the attention shape, the layout, the cluster and the points to
// simulate. Loaded from YAML by models/scenario_yaml.cpp (yaml-cpp); every
// error names file, line and key.
//
//   name: example
//   model: {q_heads: 32, kv_heads: 8, head_dim: 128, dtype: bf16}
//   attention: {causal: true, layout: zigzag}      # contiguous | zigzag
//   sequence: {tokens: 1048576, ring_size: 128}    # or chunk_tokens instead of ring_size
//   cluster:
//     device: h100-sxm     # shipped profile name, a path, or an inline map
//     gpus_per_node: 8
//     ranks_per_gpu: 1     # optional: ring ranks sharing one GPU (default 1)
//     intra_node: {bandwidth: "450 GB/s", latency: "2 us"}
//     inter_node: {bandwidth: "50 GB/s", latency: "5 us"}
//   sweep:                 # optional; each point overrides sequence
//     - {tokens: 8192, ring_size: 1}       # may also set ranks_per_gpu
//
// Ranks sharing a GPU (ranks_per_gpu > 1; rank d on GPU d / ranks_per_gpu):
// their computes queue on the GPU's one compute stream in (step, rank) order,
// and a transfer between two of them takes the GPU's copy link (the profile's
// copy_bandwidth / 2 of payload, since a copy reads and writes; copy_latency).
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "models/compute_model.hpp"
#include "models/input_error.hpp"
#include "models/profile.hpp"
#include "models/topology.hpp"

namespace ringsim {

enum class Layout { kContiguous, kZigzag };
const char* layout_name(Layout);

struct Point {
  long long tokens = 0;
  long long ring_size = 0;
  long long ranks_per_gpu = 0;   // 0: the scenario's cluster.ranks_per_gpu
  long long chunk_tokens() const { return tokens / ring_size; }  // per device
};

struct Scenario {
  std::string name;
  std::string path;              // file it was read from
  AttentionShape shape;
  bool causal = false;
  Layout layout = Layout::kContiguous;
  DeviceProfile profile;
  int gpus_per_node = 8;
  int ranks_per_gpu = 1;         // cluster.ranks_per_gpu; a point may override it
  LinkSpec intra_node, inter_node;
  std::vector<Point> points;     // sequence alone, or the sweep
};

Scenario load_scenario(const std::string& path);
// Validates one point against the scenario (divisibility, sizes); throws InputError.
void check_point(const Scenario&, const Point&, const std::string& where, int line);
// The point's ranks per GPU (its own, else the scenario's).
long long ranks_per_gpu(const Scenario&, const Point&);
// GPUs = ring_size / ranks_per_gpu; the copy link from the profile.
ClusterSpec cluster_for(const Scenario&, const Point&);

}  // namespace ringsim
