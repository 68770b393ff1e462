// Output of `ringsim validate`: the measured links, then one row per point:
// measured on CARD, simulated with the profile calibrated on CARD, their
// relative error, the spread of the measured repeats and the output check.
// table and csv print each row as it comes; json prints one document at the end.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tools/validate/validate_point.hpp"

namespace ringsim::validate {

class Report {
 public:
  Report(std::string format, std::string card, int gpus, std::string versions);
  void links(const Links&);
  // A point's own interference shares (before its row; table and csv only).
  void shares(const ring::RingConfig&, const PointShares&);
  void point(const Outcome&, std::uint64_t seed);
  void finish();  // summary (table), the document (json)

 private:
  std::string format_, card_, versions_;
  int gpus_;
  std::vector<std::string> json_links_, json_points_;
  double worst_abs_error_pct_ = 0;
  int points_ = 0, within_5_ = 0, within_2_ = 0, failed_ = 0;
  bool header_done_ = false;
};

}  // namespace ringsim::validate
