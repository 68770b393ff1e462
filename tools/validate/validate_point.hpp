// One validation point: calibrate its block shapes, run the real ring, check
// its output, simulate it with the calibrated profile and measured links.
// Plain C++: the CUDA work happens in kernels/ring.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/ring/block_timing.hpp"
#include "kernels/ring/interference.hpp"
#include "kernels/ring/link_bench.hpp"
#include "kernels/ring/ring_executor.hpp"
#include "models/scenario.hpp"

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
};

// The measured links: d2d always, the cross-card figures with 2 cards.
struct Links {
  ring::LinkFit d2d;
  std::optional<ring::LinkFit> nccl_both, nccl_one, peer_both, peer_one;
  // Compute lost to transfers in flight, beside an 8K block and 32 MiB
  // transfers (reported for reference; points use PointShares).
  std::optional<ring::ShareMeasurement> copy_share, link_share;
};
Links measure_links(const ring::RingContext*, const Options&);

// Interference at each of a point's computed block shapes (diagonal, full,
// zigzag halves) and its K/V message size: the profile's interference samples
// for that point (the loss per byte depends on the kernel's length,
// kernels/ring/interference.hpp). A share is measured only where the point
// has such transfers (copy: ranks sharing a card; link: two cards); kept
// across points by (shape, bytes, kind).
struct ShapeShare {
  ring::BlockTimingShape shape;
  double bytes = 0;
  TransferKind kind = TransferKind::kLink;
  ring::ShareMeasurement m;
};
struct PointShares {
  std::vector<ShapeShare> shares;  // in the order of first occurrence over (step, rank)
};
class InterferenceCalibration {
 public:
  PointShares ensure(const ring::RingConfig&, const ring::RingContext&, const Links&, const Options&);

 private:
  using Key = std::tuple<int, long long, long long, int, int, int, double, bool>;  // shape, bytes, copy?
  std::map<Key, ring::ShareMeasurement> measured_;
};

MaskKind mask_kind(kernels::Mask);

// Ranks per card of a point (cluster.ranks_per_gpu, or the point's override).
int point_ranks_per_gpu(const Scenario&, const Point&);
ring::RingConfig ring_config(const Scenario&, const Point&);

// Block timings at exact shapes, kept across points; becomes the profile.
class Calibration {
 public:
  explicit Calibration(int device) : device_(device) {}
  void ensure(const ring::RingConfig&, int repeats);  // times the shapes not yet timed
  DeviceProfile profile(const DeviceProfile& base, const std::string& card, const Links&,
                        const PointShares&) const;

 private:
  using Key = std::tuple<int, long long, long long, int, int, int>;  // mask, q, kv, heads, dim
  int device_;
  std::map<Key, ring::BlockTiming> blocks_;
};

struct Outcome {
  std::string scenario, layout;
  Point point;
  int ranks_per_gpu = 1, gpus = 1;
  long long chunk_tokens = 0;
  double measured_s = 0, measured_min_s = 0, measured_max_s = 0;  // median, spread
  double simulated_s = 0;
  double error_pct = 0;        // (simulated - measured) / measured
  ring::RingCheck check;
  bool passed = false;         // output within tolerance
  std::string trace_path;      // written trace, if any
};

inline constexpr double kCheckTolerance = 1e-2;  // bf16 inputs, fp32 accumulation

Outcome validate_point(const Scenario&, const Point&, const ring::RingContext&,
                       const DeviceProfile& profile, const Links&, const std::string& card,
                       const Options&, std::uint64_t seed);

}  // namespace ringsim::validate
