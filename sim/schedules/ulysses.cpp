// ulysses: DeepSpeed-Ulysses sequence parallelism (Jacobs et al. 2023). The
// whole group of ring_size devices is one Ulysses group: an all-to-all turns
// sequence shards (all heads) into head shards (all tokens), each device
// attends over the full sequence for q_heads / P heads, and an all-to-all
// turns the output back. With more devices than kv heads, kv heads are
// replicated (each device gets the kv head its q heads use), as DeepSpeed
// does. It is USP with one ring part; the program is in usp.cpp.
#include <fmt/format.h>

#include "sim/schedules/usp.hpp"

namespace ringsim::schedules {
namespace {

class Ulysses final : public Schedule {
 public:
  void check(const Scenario& s, const Point& p, const PointAttention& a) const override {
    reject_point_degrees(s, a, true, false, "ulysses");
    if (a.ulysses_on_point && a.ulysses_degree != p.ring_size)
      fail(s, a.ulysses_at, fmt::format("ulysses uses the whole group of ring_size {} devices as its Ulysses degree, "
                                        "not {} (usp combines Ulysses with a ring)", p.ring_size, a.ulysses_degree));
    if (a.causal && a.layout != Layout::kContiguous)
      fail(s, a.layout_at, fmt::format("ulysses cannot use the {} layout: every device attends over the whole "
                                       "sequence, so there is no ring to balance; use contiguous",
                                       layout_name(a.layout)));
    check_usp(s, p, a, p.ring_size);
  }
  std::unique_ptr<Plan> plan(const PlanInput& in) const override { return make_usp_plan(in, in.point.ring_size); }
};

}  // namespace

RINGSIM_REGISTER_SCHEDULE(Ulysses, "ulysses",
                          "all-to-all from sequence to head shards, attention over the whole sequence, all-to-all back");

}  // namespace ringsim::schedules
