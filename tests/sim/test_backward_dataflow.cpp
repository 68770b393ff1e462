// sim/schedules: what every backward program computes and moves, walked
// symbolically (tests/sim/backward_walk.hpp): every block reads the Q, dO,
// LSE, D and K/V rows of the parts it names, nothing is read while it is
// still arriving or written while it is being sent, and at the end each
// rank's dQ rows hold every visible (query, key, head) pair of its queries
// exactly once and its dK/dV rows every pair of its keys exactly once -- so
// each pair's gradient was accumulated once and arrived home. The programs'
// own placements agree: inputs() name exactly the rows the walk starts from,
// outputs() rows hold their pairs, each (position, head) once over the
// devices. A real executor walking the same programs inherits this.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "backward_walk.hpp"

using namespace ringsim;

namespace {

struct Case {
  std::string schedule;
  long long ring;
  Layout layout;
  bool causal = true;
  long long cached = 0;
  bool documents = false;
  long long ulysses = 0, inner = 0;
  UlyssesPlacement placement = UlyssesPlacement::kInsideNode;
  DType grad = DType::kFp32;
  int q_heads = 8, kv_heads = 4;
};

void walk(const Case& c) {
  CAPTURE(c.schedule);
  CAPTURE(c.ring);
  const std::string layout = layout_name(c.layout), placement = placement_name(c.placement), grad = dtype_name(c.grad);
  CAPTURE(layout);
  CAPTURE(c.causal);
  CAPTURE(c.cached);
  CAPTURE(c.documents);
  CAPTURE(c.ulysses);
  CAPTURE(c.inner);
  CAPTURE(placement);
  CAPTURE(grad);
  CAPTURE(c.kv_heads);
  Scenario s = test::ring_scenario(4 * c.ring, c.ring, c.causal, c.layout, 4);
  s.shape = AttentionShape{c.q_heads, c.kv_heads, 16, DType::kBf16};
  s.schedule = c.schedule;
  s.pass = Pass::kBackward;
  s.grad_dtype = c.grad;
  s.cached_tokens = c.cached * c.ring;
  s.ulysses_degree = c.ulysses;
  s.inner_ring = c.inner;
  s.ulysses_placement = c.placement;
  if (c.documents) s.documents = DocumentSpec{{}, 3, LengthDistribution::kExponential, 1.0, 3};
  test::BackwardWalk w(s);
  w.check_inputs();
  w.run();
  w.check_home();
  w.check_outputs();
}

}  // namespace

TEST_CASE("sim::schedules: every backward accumulates each visible pair's gradients once and brings them home") {
  std::vector<Case> cases;
  for (const char* name : {"pass-kv", "pass-q", "all-gather", "double-ring"}) {
    for (long long ring : {1LL, 2LL, 3LL, 4LL}) {
      for (Layout layout : {Layout::kContiguous, Layout::kZigzag, Layout::kStriped}) {
        cases.push_back({name, ring, layout});
        cases.push_back({name, ring, layout, false});
        cases.push_back({name, ring, layout, true, 2});
        cases.push_back({name, ring, layout, true, 0, true});
      }
    }
  }
  cases.push_back({"pass-kv", 4, Layout::kZigzag, true, 0, false, 0, 0, UlyssesPlacement::kInsideNode, DType::kBf16});
  cases.push_back({"pass-q", 4, Layout::kStriped, true, 2, false, 0, 0, UlyssesPlacement::kInsideNode, DType::kBf16});
  for (long long inner : {1LL, 2LL})
    for (bool cached : {false, true})
      for (Layout layout : {Layout::kContiguous, Layout::kZigzag})
        cases.push_back({"double-ring", 4, layout, true, cached ? 2 : 0, false, 0, inner});
  for (long long ring : {1LL, 2LL, 4LL, 8LL}) {
    for (UlyssesPlacement at : {UlyssesPlacement::kInsideNode, UlyssesPlacement::kAcrossNodes}) {
      cases.push_back({"ulysses", ring, Layout::kContiguous, true, 0, false, 0, 0, at});
      cases.push_back({"ulysses", ring, Layout::kContiguous, true, 0, true, 0, 0, at, DType::kBf16});
      cases.push_back({"usp", ring, Layout::kZigzag, true, 0, false, ring >= 2 ? 2 : 1, 0, at});
      cases.push_back({"usp", ring, Layout::kStriped, false, 0, false, 0, 0, at, DType::kBf16});
      cases.push_back({"usp", ring, Layout::kContiguous, true, 0, true, 0, 0, at, DType::kFp32, 8, 8});
    }
  }
  for (const Case& c : cases) walk(c);
}
