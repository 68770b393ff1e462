// One validation point: calibrate its block shapes, run the real executor on
// the point's schedule program, check its output, simulate it with the
// calibrated profile and measured links (self-calibrated) and, when asked,
// with a stored profile (out of sample). Plain C++: the CUDA work happens in
// kernels/ring.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/ring/block_timing.hpp"
#include "kernels/ring/exec_plan.hpp"
#include "kernels/ring/interference.hpp"
#include "kernels/ring/link_bench.hpp"
#include "kernels/ring/ring_executor.hpp"
#include "models/scenario.hpp"
#include "models/transport.hpp"

namespace ringsim::validate {

struct Options {
  int repeats = 5;             // timed ring runs per point (after one warm-up)
  int block_repeats = 10;      // timed repeats per calibrated block shape
  int link_repeats = 10;
  int check_tokens = 16;       // sampled query tokens per point (fp64 reference)
  int check_heads = 4;         // sampled heads per point
  std::string trace_prefix;    // empty: no traces
  std::string format = "table";
  bool interference = true;    // measure and model transfers slowing compute
  bool step_costs = true;      // measure and model per-step overhead and links beside compute
  std::string save_profile;    // write the run's self-calibrated profile here (YAML), for later --profile
  // Out-of-sample mode: simulate each point also with this stored profile (a
  // shipped name or a path), never recalibrated; links from the scenario's
  // cluster figures, or from this stored transport profile when given.
  std::string profile, transport;
  std::string all_to_all;  // with --profile: the stored all-to-all transport (intra_node.all_to_all)
};

// The measured links: d2d always, the cross-card figures with 2+ cards.
struct Links {
  ring::LinkFit d2d;
  std::optional<ring::LinkFit> nccl_both, nccl_one, peer_both, peer_one;
  // Compute lost to transfers in flight, beside an 8K block and 32 MiB
  // transfers (reported for reference; points use PointShares).
  std::optional<ring::ShareMeasurement> copy_share, link_share;
  // NCCL all-to-all over the run's cards (2+), as a transport of pattern
  // all-to-all (bus bandwidth per rank; models/topology.hpp says how it caps
  // a message): the self-calibrated intra_node.all_to_all.
  std::shared_ptr<const TransportProfile> all_to_all;
};
Links measure_links(const ring::RingContext*, const Options&);

// Interference at each block shape a point computes while its transfers are
// in flight (a compute posted in a round that also posts transfers), at the
// point's most common message size there: the profile's interference samples
// for that point (the loss per byte depends on the kernel's length,
// kernels/ring/interference.hpp). Copy shares where such transfers stay on a
// card, link shares where they cross cards; kept across points by (shape,
// bytes, kind).
struct ShapeShare {
  ring::BlockTimingShape shape;
  double bytes = 0;
  TransferKind kind = TransferKind::kLink;
  ring::ShareMeasurement m;
};
struct PointShares {
  std::vector<ShapeShare> shares;  // in the order of first occurrence over the program
};
class InterferenceCalibration {
 public:
  PointShares ensure(const ring::ExecPlan&, const ring::RingContext&, const Links&, const Options&);

 private:
  using Key = std::tuple<int, long long, long long, int, int, int, double, bool>;  // shape, bytes, copy?
  std::map<Key, ring::ShareMeasurement> measured_;
};

MaskKind mask_kind(kernels::Mask);
ring::BlockTimingShape shape_of(const Block&, int head_dim);  // the kernel's shape of an attention block

// The point's program as the executor runs it; ring::Unsupported becomes an
// InputError naming the scenario key. A training point (attention.pass:
// training) is a forward plan (exec_plan) and a backward plan
// (backward_plan; null for a forward point); a backward-only point is
// refused (its saved O and LSE come from a forward run).
std::unique_ptr<ring::ExecPlan> exec_plan(const Scenario&, const Point&);
std::unique_ptr<ring::ExecPlan> backward_plan(const Scenario&, const Point&);
// "non-causal" or "causal zigzag" (the layout only matters with a mask).
std::string layout_label(const ring::ExecPlan&);

// Block timings at exact shapes, kept across points; becomes the profile.
class Calibration {
 public:
  explicit Calibration(int device) : device_(device) {}
  void ensure(const ring::ExecPlan&, int repeats);  // times the shapes not yet timed (forward or backward blocks)
  DeviceProfile profile(const DeviceProfile& base, const std::string& card, const Links&,
                        const PointShares&) const;

 private:
  using Key = std::tuple<int, long long, long long, int, int, int>;  // mask, q, kv, heads, kv heads, dim
  int device_;
  std::map<Key, ring::BlockTiming> blocks_;
  std::map<Key, double> backward_;  // seconds of a block's backward (ring::time_block_backward)
};

// The out-of-sample mode's inputs, loaded once per run.
struct StoredModel {
  DeviceProfile profile;
  std::shared_ptr<const TransportProfile> transport;  // null: the scenario's cluster figures
  std::shared_ptr<const TransportProfile> all_to_all;  // null: the scenario's (or none)
  std::string links;  // what the links came from, for the report
};
StoredModel load_stored(const Options&);

struct Simulated {
  double seconds = 0, error_pct = 0;  // error: (simulated - measured) / measured
  std::string label;                  // simulated | estimated (a block off the profile's grid)
  double forward_s = 0, backward_s = 0;  // each pass's makespan (training points)
};

// A training point's backward: measured apart from the forward (each its own
// timed run; the total is their sum, as the simulator runs them back to back).
struct TrainingOutcome {
  double forward_s = 0, backward_s = 0;  // medians
  double backward_min_s = 0, backward_max_s = 0;
  ring::GradCheck grad;
};

struct Outcome {
  std::string scenario, schedule, detail, layout;
  Point point;
  int ranks_per_gpu = 1, gpus = 1;
  long long chunk_tokens = 0;
  double measured_s = 0, measured_min_s = 0, measured_max_s = 0;  // median, spread
  Simulated self;                   // profile calibrated here, measured links
  std::optional<Simulated> stored;  // --profile
  ring::RingCheck check;
  std::optional<TrainingOutcome> training;  // attention.pass: training
  bool passed = false;              // output (and gradients) within tolerance
  std::string trace_path;           // written trace, if any
};

inline constexpr double kCheckTolerance = 1e-2;  // bf16 inputs, fp32 accumulation (bf16 outputs)

// `backward`: the point's backward plan (training), or null.
Outcome validate_point(const Scenario&, const Point&, const ring::ExecPlan&, const ring::ExecPlan* backward,
                       const ring::RingContext&,
                       const DeviceProfile& profile, const Links&, const StoredModel*, const std::string& card,
                       const Options&, std::uint64_t seed);

}  // namespace ringsim::validate
