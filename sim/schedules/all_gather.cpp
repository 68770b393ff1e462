// all-gather: gather every device's K/V, then attend locally (Llama 3's
// context parallelism). Each device ends up holding the full K/V (and the
// whole cached prefix), so memory grows with the sequence, not the ring.
//
// The gather is NCCL's ring all-gather algorithm (what NCCL runs for
// all-gather with NVLS off): P-1 steps; at step s device d forwards the block
// of part (d - s) mod P to d+1 and receives part (d - 1 - s) mod P from d-1.
// Each step is one flow per link end, so on a node-major cluster every block
// crosses each node boundary once, as NCCL's ring does; a direct all-pairs
// gather would put P-1 flows on every port at once for the same bytes. The
// gathered parts are used in position order (a real executor permutes them,
// as Llama 3's does; the model charges nothing for that copy). As in Llama 3,
// attention starts after the gather: nothing overlaps it.
//
// Then one compute: the device's queries against the gathered sequence
// (sim/geometry.hpp plan_gathered: per query run a full block up to the run
// and a causal diagonal), the first block writing the accumulator.
// Program: ALLOCs, then per gather step SEND RECV WAIT_ALL, then COMPUTE
// WAIT_ALL, FREE everything. No exact fast path: it runs in the event engine.
#include "sim/schedules/all_gather_backward.hpp"
#include "sim/schedules/common.hpp"

namespace ringsim::schedules {
namespace {

enum class Phase { kAlloc, kSend, kRecv, kWait, kCompute, kComputeWait, kFree, kDone };

class AllGatherPlan final : public Plan, public ScheduleProgram {
 public:
  explicit AllGatherPlan(const PlanInput& in)
      : in_(in), p_(in.point.ring_size), geo_(in.attention.layout, in.point.tokens, p_, in.attention.cached_tokens) {
    const AttentionShape& m = in.scenario.shape;
    const long long q = geo_.part_tokens();
    block_bytes_ = kv_bytes(m, geo_.kv_rows(), m.kv_heads);
    q_ = table_.add("q_chunk", q_bytes(m, q, m.q_heads), BufferFormat::kQueries);
    // Own block included; slot j holds part j's K/V rows (cached slice first).
    gathered_ = table_.add("gathered_kv", block_bytes_ * static_cast<double>(p_), BufferFormat::kKeysValues);
    acc_ = table_.add("out_acc", acc_bytes(q, m.q_heads, m.head_dim), BufferFormat::kAccumulator);
    stats_ = table_.add("softmax_stats", stats_bytes(q, m.q_heads));
    workspace_ = table_.add("workspace", workspace_bytes(q, m.q_heads, m.head_dim));
  }

  const ScheduleProgram& program() const override { return *this; }
  const SequenceLayout& sequence() const override { return geo_; }
  const BufferTable* buffer_table() const override { return &table_; }
  std::uint64_t waits() const override { return static_cast<std::uint64_t>(p_) * static_cast<std::uint64_t>(p_); }

  ComputeWork work(long long d, const ProgramCursor&) const override {
    const BlockPlan plan = plan_gathered(geo_, in_.attention.causal, d, in_.documents);
    // kv_part -1: the gathered sequence, in position order.
    ComputeSpec c = ring_spec(in_, d, p_ - 1, plan, geo_, d, -1, q_, gathered_, acc_, block_bytes_);
    c.first_writes = true;
    return make_work(in_, c);
  }

  std::vector<Placement> inputs(long long d) const override {
    return {part_rows(in_, geo_, Placement::kQueries, q_, d),
            part_rows(in_, geo_, Placement::kKeysValues, gathered_, d, slot(d))};
  }
  std::vector<Placement> outputs(long long d) const override { return {part_rows(in_, geo_, Placement::kOutput, acc_, d)}; }

  Op next(long long d, ProgramCursor& c) const override {
    for (;;) {
      const long long s = c.step;
      switch (phase_of<Phase>(c)) {
        case Phase::kAlloc: {
          Op op;
          if (next_buffer(c, Phase::kAlloc, table_.size(), false, every_buffer, op)) return op;
          go(c, s < p_ - 1 ? Phase::kSend : Phase::kCompute);
          continue;
        }
        case Phase::kSend:
          go(c, Phase::kRecv);
          return send_op((d + 1) % p_, tag_of(s, 0), block_bytes_, gathered_, slot(d - s), s);
        case Phase::kRecv:
          go(c, Phase::kWait);
          return recv_op((d - 1 + p_) % p_, tag_of(s, 0), block_bytes_, gathered_, slot(d - 1 - s), s);
        case Phase::kWait:
          c.step = s + 1;
          go(c, c.step < p_ - 1 ? Phase::kSend : Phase::kCompute);
          return wait_op(s);
        case Phase::kCompute: {
          go(c, Phase::kComputeWait);
          const ComputeWork w = work(d, c);
          // never empty: every query sees itself; after the gather, not a ring step
          return compute_op(in_, w, d, s, block_bytes_, false);
        }
        case Phase::kComputeWait:
          c.step = s + 1;
          go(c, Phase::kFree);
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
  double slot(long long part) const { return block_bytes_ * static_cast<double>((part % p_ + p_) % p_); }

  PlanInput in_;
  long long p_;
  SequenceLayout geo_;
  double block_bytes_ = 0;
  BufferTable table_;
  BufferId q_, gathered_, acc_, stats_, workspace_;
};

class AllGather final : public Schedule {
 public:
  void check(const Scenario& s, const Point& p, const PointAttention& a) const override {
    check_plain(s, p, a, "all-gather");
  }
  std::unique_ptr<Plan> plan(const PlanInput& in) const override {
    if (in.pass == Pass::kBackward) return make_all_gather_backward(in);
    return std::make_unique<AllGatherPlan>(in);
  }
};

}  // namespace

RINGSIM_REGISTER_SCHEDULE(AllGather, "all-gather",
                          "all-gather K/V with NCCL's ring algorithm, then local attention (Llama 3)");

}  // namespace ringsim::schedules
