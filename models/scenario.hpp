// A scenario: the attention shape, how it is sharded (schedule, layout,
// degrees), the workload, the cluster and the points to simulate. Loaded from
// YAML by models/scenario_yaml.cpp and models/scenario_points.cpp (yaml-cpp);
// every error names file, line and key.
//
//   name: example
//   model: {q_heads: 32, kv_heads: 8, head_dim: 128, dtype: bf16}
//     # optional: layers, hidden, ffn_hidden, vocab (models/model_spec.hpp)
//   parallel: {tensor: 8, zero: 1, activation_checkpointing: false}   # optional
//   attention:
//     causal: true
//     layout: zigzag            # contiguous | zigzag | striped
//     schedule: pass-kv         # optional; a registered schedule (ringsim schedules lists them)
//     ulysses_degree: 8         # optional; usp (default gpus_per_node) and ulysses (= ring_size)
//     ulysses_placement: inside-node   # optional; usp: inside-node (default) | across-nodes
//     inner_ring: 8             # optional; double-ring (default gpus_per_node)
//     pass: training            # optional: forward (default) | backward | training
//     grad_dtype: fp32          # optional: gradients that travel or are reduced, fp32 (default) | bf16
//   sequence:
//     tokens: 1048576
//     ring_size: 128            # devices in the context-parallel group; or chunk_tokens
//     cached_tokens: 0          # optional: a cached K/V prefix the new tokens attend to
//     documents: [524288, 524288]   # optional: packed documents (lengths summing to tokens), or
//     # documents: {count: 64, distribution: lognormal, sigma: 1, seed: 7}
//   cluster:
//     device: h100-sxm     # shipped profile name, a path, or an inline map
//     gpus_per_node: 8
//     ranks_per_gpu: 1     # optional: ranks sharing one GPU (default 1)
//     intra_node: {bandwidth: "450 GB/s", latency: "2 us"}
//     inter_node: {bandwidth: "50 GB/s", latency: "5 us"}
//   faults: {...}          # optional: stragglers, jitter, links (models/faults.hpp)
//   sweep:                 # optional; each point overrides sequence (and may set its own faults)
//     - {tokens: 8192, ring_size: 1}       # may also set ranks_per_gpu, schedule, layout,
//                                          # ulysses_degree, inner_ring, cached_tokens, pass
//
// The loader checks what it can alone (types, ranges, divisibility by the
// layout's parts); what depends on the schedule (heads divisible by the
// Ulysses degree, degrees dividing the ring, ...) is checked by the schedule
// (sim/schedule.hpp check_schedules), which names the key the same way.
//
// Ranks sharing a GPU (ranks_per_gpu > 1; rank d on GPU d / ranks_per_gpu):
// their computes queue on the GPU's one compute stream in (step, rank) order,
// and a transfer between two of them takes the GPU's copy link (the profile's
// copy_bandwidth / 2 of payload, since a copy reads and writes; copy_latency).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "models/compute_model.hpp"
#include "models/documents.hpp"
#include "models/faults.hpp"
#include "models/input_error.hpp"
#include "models/model_spec.hpp"
#include "models/overrides.hpp"
#include "models/profile.hpp"
#include "models/topology.hpp"

namespace ringsim {

// How a sequence is cut over P parts (devices of a ring):
//   kContiguous  part p holds tokens [p c, (p+1) c)
//   kZigzag      2P chunks; part p holds chunks p and 2P-1-p (causal balance)
//   kStriped     part p holds tokens p, p+P, p+2P, ... (Striped Attention)
enum class Layout { kContiguous, kZigzag, kStriped };
const char* layout_name(Layout);
std::optional<Layout> parse_layout(std::string_view);
// Sequence chunks the layout cuts the tokens into for P parts (2P for zigzag).
long long layout_parts(Layout, long long parts);

// Which pass of one attention layer a point simulates. kTraining is the
// forward, then the backward with what the forward saved (sim/simulate.hpp:
// the rest of the model runs in between, so the backward starts on every
// device together).
enum class Pass { kForward, kBackward, kTraining };
const char* pass_name(Pass);
std::optional<Pass> parse_pass(std::string_view);

// Where Ulysses groups sit (usp): consecutive ranks (one node), or strided.
enum class UlyssesPlacement { kInsideNode, kAcrossNodes };
const char* placement_name(UlyssesPlacement);

inline constexpr const char* kDefaultSchedule = "pass-kv";

// Largest ring whose full topology and per-device arrays ringsim builds (the
// event engine, the recurrence, folded's route lookup); rings up to 2^31
// devices above it run only on the periodic paths (sim/ring_periodic.hpp).
inline constexpr long long kMaxFullRing = 262'144;

// Where a value was written: for errors raised after loading.
struct KeyPlace {
  std::string key;  // "sweep[2].schedule", "attention.schedule"
  int line = 0;
};

struct Point {
  Point() = default;
  Point(long long tokens_, long long ring_size_, long long ranks_per_gpu_ = 0)
      : tokens(tokens_), ring_size(ring_size_), ranks_per_gpu(ranks_per_gpu_) {}
  long long tokens = 0;
  long long ring_size = 0;
  long long ranks_per_gpu = 0;   // 0: the scenario's cluster.ranks_per_gpu
  // Overrides of the scenario's attention and sequence (empty / 0: the scenario's).
  std::string schedule;
  std::optional<Layout> layout;
  long long ulysses_degree = 0, inner_ring = 0;
  std::optional<long long> cached_tokens;
  std::shared_ptr<const FaultSpec> faults;  // a sweep point's own `faults`; null: the scenario's
  std::optional<Pass> pass;
  std::string where;             // "sequence" or "sweep[2]": key prefix of its fields
  int line = 0;                  // line of the point
  long long chunk_tokens() const { return tokens / ring_size; }  // per device
};

struct Scenario {
  std::string name;
  std::string path;              // file it was read from
  AttentionShape shape;
  ModelSize size;                // model.layers ...: the model around attention
  Parallelism parallel;          // parallel.*
  bool causal = false;
  Layout layout = Layout::kContiguous;
  std::string schedule = kDefaultSchedule;
  long long ulysses_degree = 0;  // 0: the schedule's default
  long long inner_ring = 0;      // 0: the schedule's default
  UlyssesPlacement ulysses_placement = UlyssesPlacement::kInsideNode;
  Pass pass = Pass::kForward;
  DType grad_dtype = DType::kFp32;  // gradients that travel or are reduced (attention.grad_dtype)
  long long cached_tokens = 0;
  DocumentSpec documents;        // empty: one document
  DeviceProfile profile;
  int gpus_per_node = 8;
  int ranks_per_gpu = 1;         // cluster.ranks_per_gpu; a point may override it
  LinkSpec intra_node, inter_node;
  std::map<std::string, int> key_lines;  // line of each attention/sequence key given
  std::vector<Point> points;     // sequence alone, or the sweep
  FaultSpec faults;              // `faults` (models/faults.hpp); empty: none
  std::vector<Override> overrides;  // --set changes applied (errors after loading: from_command_line)
};

// A point's attention and workload with the scenario's values filled in, and
// where each came from (the key an error names).
struct PointAttention {
  std::string schedule;
  KeyPlace schedule_at;
  bool causal = false;
  Layout layout = Layout::kContiguous;
  KeyPlace layout_at;
  long long ulysses_degree = 0;  // 0: not given (the schedule's default applies)
  KeyPlace ulysses_at;
  bool ulysses_on_point = false;  // given by the point itself (so it must apply)
  long long inner_ring = 0;
  KeyPlace inner_at;
  bool inner_on_point = false;
  UlyssesPlacement ulysses_placement = UlyssesPlacement::kInsideNode;
  long long cached_tokens = 0;
  KeyPlace cached_at;
  const DocumentSpec* documents = nullptr;  // null: one document
  KeyPlace documents_at;
  KeyPlace ring_at;               // the point's ring_size (or chunk_tokens)
  Pass pass = Pass::kForward;
  KeyPlace pass_at;
  DType grad_dtype = DType::kFp32;
};
PointAttention attention_of(const Scenario&, const Point&);
// The point's faults: its own (a sweep entry's `faults`), else the scenario's.
const FaultSpec& faults_of(const Scenario&, const Point&);
// Whether any point has faults (output columns).
bool any_faults(const Scenario&);

Scenario load_scenario(const std::string& path);
// With --set KEY=VALUE changes applied first (models/overrides.hpp); an error
// about an overridden key names the command line.
Scenario load_scenario(const std::string& path, const std::vector<Override>& overrides);
// Validates one point against the scenario (divisibility, sizes); throws InputError.
void check_point(const Scenario&, const Point&, const std::string& where, int line);
// The point's ranks per GPU (its own, else the scenario's).
long long ranks_per_gpu(const Scenario&, const Point&);
// GPUs = ring_size / ranks_per_gpu; the copy link from the profile.
ClusterSpec cluster_for(const Scenario&, const Point&);

}  // namespace ringsim
