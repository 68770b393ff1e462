// sim/schedules: what every program describes is full attention. Each
// device's program is walked as an executor would (sim/work.hpp): every
// visible (query, key, head) pair -- visibility computed here from global
// positions, causality and documents -- must be computed by exactly one
// attention block; a device's first block into its accumulator (or into a
// partial slot) writes, the later ones merge; every send has a receive of
// the same bytes; every buffer allocated is freed; each compute's flops are
// its blocks'. A later real executor walking the same programs inherits this.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "sim_fixtures.hpp"

using namespace ringsim;

namespace {

struct Case {
  std::string schedule;
  long long ring, chunk;
  bool causal;
  Layout layout;
  long long cached = 0;
  bool documents = false;
  long long ulysses = 0, inner = 0;
  UlyssesPlacement placement = UlyssesPlacement::kInsideNode;
};

Scenario scenario_of(const Case& c) {
  Scenario s = test::schedule_scenario(
      {c.schedule, c.chunk * c.ring, c.ring, c.causal, c.layout, c.cached, c.ulysses, c.inner, c.placement});
  if (c.documents) s.documents = DocumentSpec{{}, 3, LengthDistribution::kExponential, 1.0, 3};
  return s;
}

long long doc_of(const std::vector<long long>& starts, long long pos) {
  return std::upper_bound(starts.begin(), starts.end(), pos) - starts.begin();
}

// Walks every program; checks the description and returns coverage counts.
void check_program(const Scenario& s) {
  const auto planned = test::plan_point(s, s.points[0]);
  const ScheduleProgram& program = planned->plan->program();
  const SequenceLayout& g = program.sequence();
  const BufferTable& table = *program.buffer_table();
  const long long cached = s.cached_tokens, tokens = s.points[0].tokens;
  std::vector<long long> starts;  // document starts
  if (!s.documents.empty()) {
    long long at = 0;
    for (long long n : document_lengths(s.documents, tokens)) starts.push_back(at += n);
  }
  const auto kv_position = [&](long long part, long long row) {
    if (part < 0) return row - cached;  // the gathered sequence
    return row < g.cached_per_part() ? -1 - part * g.cached_per_part() - row : g.position(part, row - g.cached_per_part());
  };
  const auto visible = [&](long long q, long long k) {
    if (k < 0) return true;
    if (s.causal && k > q) return false;
    return starts.empty() || doc_of(starts, q) == doc_of(starts, k);
  };
  std::map<std::tuple<long long, long long, int>, int> covered;  // (q pos, k pos, head)
  std::multiset<std::tuple<long long, long long, std::uint64_t, double>> sends, recvs;
  for (long long d = 0; d < s.points[0].ring_size; ++d) {
    CAPTURE(d);
    std::map<std::pair<BufferId, long long>, bool> written;  // (out buffer, row) holds a result
    std::map<BufferId, int> live;
    ProgramCursor c;
    for (Op op = program.next(d, c); op.kind != Op::kDone; op = program.next(d, c)) {
      if (op.kind == Op::kAlloc) ++live[op.buffer];
      if (op.kind == Op::kFree) CHECK(--live[op.buffer] == 0);
      if (op.kind == Op::kSend) sends.emplace(d, op.peer, op.tag, op.bytes);
      if (op.kind == Op::kRecv) recvs.emplace(op.peer, d, op.tag, op.bytes);
      if ((op.kind == Op::kSend || op.kind == Op::kRecv)) CHECK((op.buffer >= 0 && op.buffer < table.size()));
      if (op.kind != Op::kCompute) continue;
      const ComputeWork w = program.work(d, c);
      CHECK(op.flops == doctest::Approx(w.flops()));
      for (int i = 0; i < w.count; ++i) {
        const Block& b = w.blocks[static_cast<std::size_t>(i)];
        if (b.kind != BlockKind::kAttention) continue;
        for (long long r = b.out.offset; r < b.out.offset + b.out.count; ++r) {
          bool& started = written[{b.out.buffer, r}];
          CHECK(b.output == (started ? OutputMode::kMerge : OutputMode::kWrite));
          started = true;
        }
        for (long long r = b.q.offset; r < b.q.offset + b.q.count; ++r)
          for (long long k = b.kv.offset; k < b.kv.offset + b.kv.count; ++k) {
            const long long qp = g.position(b.q_part, r), kp = kv_position(b.kv_part, k);
            if (!visible(qp, kp)) continue;
            for (int h = b.head_first; h < b.head_first + b.heads; ++h) ++covered[{qp, kp, h}];
          }
      }
    }
    for (const auto& [buffer, n] : live) CHECK(n == 0);
  }
  CHECK(sends == recvs);
  long long expected = 0;
  for (long long q = 0; q < tokens; ++q)
    for (long long k = -cached; k < tokens; ++k) expected += visible(q, k) ? s.shape.q_heads : 0;
  CHECK(static_cast<long long>(covered.size()) == expected);
  for (const auto& [key, n] : covered) CHECK(n == 1);
}

}  // namespace

TEST_CASE("sim::schedules: every program computes each visible pair once, for every head") {
  std::vector<Case> cases;
  for (const char* name : {"pass-kv", "pass-q", "all-gather", "double-ring", "usp"}) {
    for (Layout layout : {Layout::kContiguous, Layout::kZigzag, Layout::kStriped}) {
      for (long long ring : {1LL, 3LL, 4LL, 8LL}) {
        if (std::string(name) == "usp" && ring == 3) continue;  // the default degree 4 divides 4 and 8
        cases.push_back({name, ring, 4, true, layout});
        cases.push_back({name, ring, 6, false, layout});
        cases.push_back({name, ring, 4, true, layout, 0, true});
        if (std::string(name) != "usp") cases.push_back({name, ring, 4, true, layout, 2 * ring});
      }
    }
  }
  for (long long ring : {1LL, 2LL, 4LL, 8LL}) {
    cases.push_back({"ulysses", ring, 4, true, Layout::kContiguous});
    cases.push_back({"ulysses", ring, 4, true, Layout::kContiguous, 0, true});
    cases.push_back({"usp", ring, 4, true, Layout::kZigzag, 0, false, ring >= 2 ? 2 : 1});
    cases.push_back({"usp", ring, 4, true, Layout::kStriped, 0, true, ring >= 2 ? 2 : 1, 0,
                     UlyssesPlacement::kAcrossNodes});
    cases.push_back({"double-ring", ring, 4, true, Layout::kZigzag, 0, false, 0, ring >= 2 ? 2 : 1});
  }
  for (const Case& c : cases) {
    CAPTURE(c.schedule);
    CAPTURE(c.ring);
    CAPTURE(c.chunk);
    CAPTURE(c.causal);
    CAPTURE(layout_name(c.layout));
    CAPTURE(c.cached);
    CAPTURE(c.documents);
    CAPTURE(c.ulysses);
    CAPTURE(c.inner);
    CAPTURE(placement_name(c.placement));
    check_program(scenario_of(c));
  }
}
