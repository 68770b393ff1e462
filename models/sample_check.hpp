// The calibration's sanity check on attention samples: along every line of
// a sample family (same dtype, head_dim, heads and mask; a row of equal q, a
// column of equal kv, and the q == kv diagonal), FLOPs rise and so must time,
// while the achieved rate of a kernel saturates rather than falls. A sample
// is flagged `suspect` (with the reason) when
//   - its time falls by more than `tolerance` as FLOPs rise (it or its
//     neighbour is wrong: the one whose rate is further from the line's
//     median rate is flagged; smaller falls are noise between blocks of one
//     wave, e.g. 8 heads d64 q512 and q1024 both run a partial wave), or
//   - its rate is more than `tolerance` below both neighbours' rates (a dip),
//     or, at the large end of a line, below the previous sample's rate.
// Example (h100-sxm, 2026-11-26): bf16 d128 32 heads q16384 x kv8192 read
// 315.5 TFLOP/s between 352.5 (kv 4096) and 342.7 (kv 16384); the same shape
// on the H200 (same SMs and clocks) gave 354. The compute model ignores
// flagged samples (models/compute_model.hpp), so one noisy sample cannot move
// a scenario. ringsim calibrate runs the check before it writes a profile.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "models/profile.hpp"

namespace ringsim {

// Above the calibrations' own noise: on h100-sxm/h200-sxm (2026-11-26) the
// next largest break is a 4.1% time fall between two one-wave blocks.
inline constexpr double kSuspectTolerance = 0.05;

struct SuspectFinding {
  std::size_t index;   // into the sample list
  std::string reason;  // every line it fails, joined by "; "
};

// Findings in index order; a sample appears once.
std::vector<SuspectFinding> find_suspect_samples(const std::vector<AttentionSample>& samples,
                                                 double tolerance = kSuspectTolerance);
// Sets `suspect` and `reason` on the findings (clears neither on the others).
// Returns how many were flagged.
std::size_t flag_suspect_samples(std::vector<AttentionSample>& samples, double tolerance = kSuspectTolerance);

}  // namespace ringsim
