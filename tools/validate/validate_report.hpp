// Output of `ringsim validate`: the measured links, then one row per point:
// its schedule, measured on CARD (median, spread of the repeats), simulated
// with the profile calibrated on CARD (self-calibrated) and, with --profile,
// with the stored profile (out of sample), each with its label and error,
// and the output check against fp64. table and csv print each row as it
// comes; json prints one document at the end.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tools/validate/validate_point.hpp"
#include "tools/validate/validate_steps.hpp"

namespace ringsim::validate {

class Report {
 public:
  // stored: the out-of-sample model (--profile), or null.
  Report(std::string format, std::string card, int gpus, std::string versions, const StoredModel* stored);
  void links(const Links&);
  // A point's own interference shares (before its row; table and csv only).
  void shares(const Point&, const PointShares&);
  // A point's step-cost samples (tools/validate/validate_steps.hpp; table and csv only).
  void steps(const Point&, const PointSteps&);
  void point(const Outcome&, std::uint64_t seed);
  void failed() { ++failed_; }  // a point that could not run (counted with the failed checks)
  void finish();  // summary (table), the document (json)

 private:
  struct Tally {
    double worst_abs_pct = 0;
    int within_5 = 0, within_2 = 0;
    void add(double error_pct);
  };
  void table_row(const Outcome&, double spread_pct);
  void csv_row(const Outcome&, double spread_pct, std::uint64_t seed);
  std::string json_row(const Outcome&, std::uint64_t seed) const;
  std::string stored_name() const;

  std::string format_, card_, versions_;
  int gpus_;
  const StoredModel* stored_;
  std::vector<std::string> json_links_, json_points_;
  Tally self_, oos_;
  int points_ = 0, failed_ = 0;
  bool header_done_ = false;
};

}  // namespace ringsim::validate
