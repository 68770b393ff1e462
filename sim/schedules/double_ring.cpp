// double-ring: LoongTrain's double-ring attention (Gu et al. 2024). The P
// devices form O = P / I inner rings of I consecutive devices (one node by
// default: attention.inner_ring, default gpus_per_node) and an outer ring
// across them (device (o, i) = o * I + i talks to (o +- 1, i)). Outer round
// k (0..O-1): the group holds the K/V blocks of group o - k and rotates them
// around the inner ring for I steps, exactly like pass-kv inside the node;
// meanwhile each device forwards the block it started the round with to its
// outer successor and receives the next round's block from its outer
// predecessor, so inter-node traffic hides behind I inner steps.
//
// The outer transfer is modelled as I pieces of 1/I of the block, one per
// inner step (the engine's WAIT_ALL waits for every posted transfer, so one
// message posted at the round's start would stall the first inner step).
// Pieces pipeline the same bytes through the same link; the round's last
// piece lands by its last inner step, as the whole message must.
//
// Program of a device, step s = k * I + j: [ALLOCs at s = 0] SEND inner,
// RECV inner (j < I-1), SEND outer piece, RECV outer piece (k < O-1),
// COMPUTE, WAIT_ALL; FREE at the end. No exact fast path (two rings with
// step-dependent peers): the event engine runs it. I = P is pass-kv; I = 1 is
// pass-kv over the outer ring.
#include <fmt/format.h>

#include <algorithm>

#include "sim/schedules/common.hpp"
#include "sim/schedules/double_ring_backward.hpp"

namespace ringsim::schedules {
namespace {

enum class Phase { kAlloc, kInnerSend, kInnerRecv, kOuterSend, kOuterRecv, kCompute, kWait, kFree, kDone };

class DoubleRingPlan final : public Plan, public ScheduleProgram {
 public:
  DoubleRingPlan(const PlanInput& in, long long inner)
      : in_(in), p_(in.point.ring_size), inner_(inner), outer_(p_ / inner),
        geo_(in.attention.layout, in.point.tokens, p_, in.attention.cached_tokens) {
    const AttentionShape& m = in.scenario.shape;
    const long long q = geo_.part_tokens();
    bytes_ = kv_bytes(m, geo_.kv_rows(), m.kv_heads);
    q_ = table_.add("q_chunk", q_bytes(m, q, m.q_heads), BufferFormat::kQueries);
    own_ = table_.add("own_kv", bytes_, BufferFormat::kKeysValues);
    acc_ = table_.add("out_acc", acc_bytes(q, m.q_heads, m.head_dim), BufferFormat::kAccumulator);
    table_.add("softmax_stats", stats_bytes(q, m.q_heads));
    table_.add("workspace", workspace_bytes(q, m.q_heads, m.head_dim));
    const BufferFormat kv = BufferFormat::kKeysValues;
    if (inner_ > 1) inner_buf_[0] = table_.add("inner_kv0", bytes_, kv), inner_buf_[1] = table_.add("inner_kv1", bytes_, kv);
    if (outer_ > 1) outer_buf_[0] = table_.add("outer_kv0", bytes_, kv), outer_buf_[1] = table_.add("outer_kv1", bytes_, kv);
    steps_.build(in, p_, bytes_, [this](long long qp, long long kp, long long s) { return part_work(qp, s, kp); });
  }

  const ScheduleProgram& program() const override { return *this; }
  const SequenceLayout& sequence() const override { return geo_; }
  const BufferTable* buffer_table() const override { return &table_; }
  std::uint64_t waits() const override { return static_cast<std::uint64_t>(p_) * static_cast<std::uint64_t>(p_); }
  std::string detail() const override { return fmt::format("inner {} x outer {}", inner_, outer_); }

  ComputeWork work(long long d, const ProgramCursor& after) const override { return step_work(d, after.step); }
  std::vector<Placement> inputs(long long d) const override {
    return {part_rows(in_, geo_, Placement::kQueries, q_, d), part_rows(in_, geo_, Placement::kKeysValues, own_, d)};
  }
  std::vector<Placement> outputs(long long d) const override { return {part_rows(in_, geo_, Placement::kOutput, acc_, d)}; }

  Op next(long long d, ProgramCursor& c) const override {
    const long long o = d / inner_, i = d % inner_;
    for (;;) {
      const long long s = c.step, k = s / inner_, j = s % inner_;
      const bool inner_moves = j < inner_ - 1, outer_moves = k < outer_ - 1;
      const double piece = bytes_ / static_cast<double>(inner_);
      switch (phase_of<Phase>(c)) {
        case Phase::kAlloc: {
          Op op;
          if (s == 0 && next_buffer(c, Phase::kAlloc, table_.size(), false, every_buffer, op)) return op;
          go(c, Phase::kInnerSend);
          continue;
        }
        case Phase::kInnerSend:
          go(c, Phase::kInnerRecv);
          if (inner_moves) return send_op(o * inner_ + (i + 1) % inner_, tag_of(s, 0), bytes_, held(k, j), 0, s);
          continue;
        case Phase::kInnerRecv:
          go(c, Phase::kOuterSend);
          if (inner_moves)
            return recv_op(o * inner_ + (i - 1 + inner_) % inner_, tag_of(s, 0), bytes_, inner_buf_[j % 2], 0, s);
          continue;
        case Phase::kOuterSend:
          go(c, Phase::kOuterRecv);
          if (outer_moves)
            return send_op(((o + 1) % outer_) * inner_ + i, tag_of(s, 1), piece, round_block(k), piece * j, s);
          continue;
        case Phase::kOuterRecv:
          go(c, Phase::kCompute);
          if (outer_moves)
            return recv_op(((o - 1 + outer_) % outer_) * inner_ + i, tag_of(s, 1), piece, outer_buf_[k % 2],
                           piece * j, s);
          continue;
        case Phase::kCompute: {
          go(c, Phase::kWait);
          if (const CachedStep* cs = steps_.get(d, source(d, s))) {
            Op op;
            if (cached_compute(in_, *cs, s, op)) return op;
            continue;
          }
          const ComputeWork w = step_work(d, s);
          if (w.count == 0 && !keeps_empty_slots(in_)) continue;
          return compute_op(in_, w, d, s, bytes_);
        }
        case Phase::kWait:
          c.step = s + 1;
          go(c, c.step == p_ ? Phase::kFree : Phase::kAlloc);
          return wait_op(s);
        case Phase::kFree: {
          Op op;
          if (next_buffer(c, Phase::kFree, table_.size(), true, every_buffer, op)) return op;
          go(c, Phase::kDone);
          continue;
        }
        case Phase::kDone:
          return Op{};
      }
    }
  }

 private:
  // The block a device starts outer round k with, and the one it holds at inner step j.
  BufferId round_block(long long k) const { return k == 0 ? own_ : outer_buf_[(k - 1) % 2]; }
  BufferId held(long long k, long long j) const { return j == 0 ? round_block(k) : inner_buf_[(j - 1) % 2]; }

  long long source(long long d, long long s) const {
    const long long o = d / inner_, i = d % inner_, k = s / inner_, j = s % inner_;
    return ((o - k) % outer_ + outer_) % outer_ * inner_ + ((i - j) % inner_ + inner_) % inner_;
  }
  ComputeWork step_work(long long d, long long s) const { return part_work(d, s, source(d, s)); }
  ComputeWork part_work(long long d, long long s, long long src) const {
    const long long k = s / inner_, j = s % inner_;
    const BlockPlan plan = plan_blocks(geo_, in_.attention.causal, d, src, in_.documents);
    const ComputeSpec c = ring_spec(in_, d, s, plan, geo_, d, src, q_, held(k, j), acc_, bytes_);
    return make_work(in_, c);
  }

  PlanInput in_;
  long long p_, inner_, outer_;
  SequenceLayout geo_;
  double bytes_ = 0;
  BufferTable table_;
  BufferId q_, own_, acc_, inner_buf_[2] = {kNoBuffer, kNoBuffer}, outer_buf_[2] = {kNoBuffer, kNoBuffer};
  StepCache steps_;
};

long long inner_of(const Scenario& s, const Point& p, const PointAttention& a) {
  return a.inner_ring > 0 ? a.inner_ring : std::min<long long>(s.gpus_per_node, p.ring_size);
}

class DoubleRing final : public Schedule {
 public:
  void check(const Scenario& s, const Point& p, const PointAttention& a) const override {
    reject_point_degrees(s, a, false, true, "double-ring");
    const long long inner = inner_of(s, p, a);
    if (p.ring_size % inner != 0)
      fail(s, a.inner_ring > 0 ? a.inner_at : a.ring_at,
           fmt::format("the inner ring of {} devices{} does not divide ring_size {}", inner,
                       a.inner_ring > 0 ? "" : " (default: gpus_per_node, at most ring_size)", p.ring_size));
    check_cache(s, p, a, p.ring_size, "");
  }
  std::unique_ptr<Plan> plan(const PlanInput& in) const override {
    const long long inner = inner_of(in.scenario, in.point, in.attention);
    if (in.pass == Pass::kBackward) return make_double_ring_backward(in, inner);
    return std::make_unique<DoubleRingPlan>(in, inner);
  }
};

}  // namespace

RINGSIM_REGISTER_SCHEDULE(DoubleRing, "double-ring",
                          "inner pass-kv ring inside a node, outer ring across nodes overlapped with it (LoongTrain)");

}  // namespace ringsim::schedules
