// BlockGrid: measured attention-block times on the plane (CTAs, keys), how a
// block's time is read from them, and how a block off the samples is priced.
//
// Why this plane: the fused attention kernels launch ceil(q / block_m) * H
// CTAs for a q x kv block with H query heads, each CTA walks ceil(kv /
// block_n) key tiles, and sm_count * ctas_per_sm CTAs run at once (a wave).
// Two blocks with the same CTA count and keys run the same kernel launch, so
// they take the same time whatever their heads: on h100-sxm (2026-11-26) bf16
// d128 8 heads q2048 x kv4096 took 138.7 us and 32 heads q512 x kv4096 138.5 us
// (both 128 CTAs); 8 vs 32 heads at 512 x 512 d64 is 15.4 vs 16.2 us, not 1:4,
// since both fit in one wave.
//
// Inside the samples (rows of equal keys that contain the CTA count on both
// sides of the block's keys): linear in CTAs along each row, then linear in
// keys between the two nearest such rows. A
// block's time is close to a + b * CTAs * keys once it fills the card, which
// this reproduces exactly on a full grid.
//
// Outside (more or fewer CTAs or keys than any bracketing samples): from the
// nearest sample (in log CTAs + log keys), scaled
//   by waves:      W(c) = max(1, ceil(c / (sm_count * ctas_per_sm))), time * W(c) / W(c_s)
//                  (no SM count: proportional above, flat below);
//   by key tiles:  above, proportional to ceil(kv / block_n); below, down the
//                  line a + b * tiles through the sample and the next sample of
//                  its column, its fixed part a kept within [floor, sample]
//                  (a kernel's prologue and epilogue do not shrink with keys);
// never below `floor` (the launch overhead). The value says it is outside and why.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ringsim {

struct GridSample {
  double ctas = 0, keys = 0, seconds = 0;
};

struct WaveShape {
  double slots = 0;     // CTAs per wave: sm_count * ctas_per_sm; 0 unknown
  double block_n = 0;   // keys per CTA step; 0 unknown (keys count one by one)
};

struct GridValue {
  double seconds = 0;
  bool inside = false;   // bracketed by samples
  std::string reason;    // when outside: which range it leaves and how it was scaled
};

class BlockGrid {
 public:
  // samples: at least one; equal (ctas, keys) are averaged.
  BlockGrid(const std::vector<GridSample>& samples, WaveShape waves, double floor_s);
  GridValue at(double ctas, double keys) const;

 private:
  using Line = std::vector<std::pair<double, double>>;  // (position, seconds), sorted
  std::map<double, Line> rows_;  // keys -> (ctas, seconds)
  std::map<double, Line> cols_;  // ctas -> (keys, seconds): a sample's neighbours in keys
  WaveShape waves_;
  double floor_s_ = 0;

  double wave_ratio(double ctas, double sample_ctas) const;
  double scale_keys(double ctas_s, double keys_s, double seconds_s, double keys) const;
};

// Merge times in elements (q_tokens * q_heads * head_dim): linear between
// samples; below them down the line through the two smallest, its fixed part
// kept within [floor, smallest]; above, proportional to the largest (the
// merge streams memory). `samples` (elements, seconds) non-empty.
GridValue merge_time(const std::vector<std::pair<double, double>>& samples, double elements, double floor_s);

}  // namespace ringsim
