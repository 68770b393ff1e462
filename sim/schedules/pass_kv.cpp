// pass-kv: ring attention that passes key/value blocks (Liu et al. 2023;
// Meta's CP inference "pass-KV"). P devices in a ring; device d sends to d+1
// and receives from d-1. At step s (0..P-1) device d holds the K/V block of
// part j = (d - s) mod P and computes its queries against it
// (sim/geometry.hpp plans the blocks for the layout, cached prefix and
// documents); for s < P-1 it forwards that block to d+1 while receiving the
// next from d-1, double-buffered (recv_kv0 / recv_kv1). The first block of a
// device writes the accumulator, every later one merges into it.
//
// Program of a device, per step: [allocs at step 0] [alloc recv_kv(s) at
// s <= 1] SEND RECV COMPUTE WAIT_ALL; after step P-1, FREE everything.
// next() is on the event engine's hot path: later steps resume at their SEND.
// Lowering: the ring recurrence (exact when the ring's routes are
// link-disjoint), unless documents make every block's cost its own; the
// same lowering and the stated peak buffers (both O(1)) run the periodic
// paths (mode walk, rings above 262,144 devices: sim/ring_periodic.hpp).
#include <fmt/format.h>

#include "sim/schedules/common.hpp"
#include "sim/schedules/ring_backward.hpp"

namespace ringsim::schedules {
namespace {

enum class Phase { kAllocPass, kAllocRecv, kSend, kRecv, kCompute, kWait, kFree, kDone };

class PassKvPlan final : public Plan, public ScheduleProgram {
 public:
  explicit PassKvPlan(const PlanInput& in)
      : in_(in), p_(in.point.ring_size),
        geo_(in.attention.layout, in.point.tokens, p_, in.attention.cached_tokens) {
    const AttentionShape& m = in.scenario.shape;
    const long long q = geo_.part_tokens();
    bytes_ = kv_bytes(m, geo_.kv_rows(), m.kv_heads);
    // Allocated at step 0 in this order, freed at the end (recv buffers too).
    q_ = table_.add("q_chunk", q_bytes(m, q, m.q_heads), BufferFormat::kQueries);
    own_ = table_.add("own_kv", bytes_, BufferFormat::kKeysValues);
    acc_ = table_.add("out_acc", acc_bytes(q, m.q_heads, m.head_dim), BufferFormat::kAccumulator);
    stats_ = table_.add("softmax_stats", stats_bytes(q, m.q_heads));
    workspace_ = table_.add("workspace", workspace_bytes(q, m.q_heads, m.head_dim));
    recv_[0] = table_.add("recv_kv0", bytes_, BufferFormat::kKeysValues);
    recv_[1] = table_.add("recv_kv1", bytes_, BufferFormat::kKeysValues);
    steps_.build(in, p_, bytes_, [this](long long qp, long long kp, long long s) { return part_work(qp, s, kp); });
  }

  const ScheduleProgram& program() const override { return *this; }
  const SequenceLayout& sequence() const override { return geo_; }
  const BufferTable* buffer_table() const override { return &table_; }
  std::uint64_t waits() const override { return static_cast<std::uint64_t>(p_) * static_cast<std::uint64_t>(p_); }

  ComputeWork work(long long d, const ProgramCursor& after) const override { return step_work(d, after.step); }
  std::vector<Placement> inputs(long long d) const override {
    return {part_rows(in_, geo_, Placement::kQueries, q_, d), part_rows(in_, geo_, Placement::kKeysValues, own_, d)};
  }
  std::vector<Placement> outputs(long long d) const override { return {part_rows(in_, geo_, Placement::kOutput, acc_, d)}; }

  Op next(long long d, ProgramCursor& c) const override {
    const long long s = c.step;
    for (;;) {
      switch (phase_of<Phase>(c)) {
        case Phase::kAllocPass: {
          Op op;
          if (s == 0 && next_buffer(c, Phase::kAllocPass, kPassBuffers, false, every_buffer, op)) return op;
          go(c, Phase::kAllocRecv);
          continue;
        }
        case Phase::kAllocRecv:
          go(c, Phase::kSend);
          if (p_ > 1 && s <= 1) return alloc_op(recv_[s]);
          continue;
        case Phase::kSend:
          go(c, Phase::kRecv);
          if (s < p_ - 1) return send_op(d + 1 == p_ ? 0 : d + 1, tag_of(s, 0), bytes_, held(s), 0, s);
          continue;
        case Phase::kRecv:
          go(c, Phase::kCompute);
          if (s < p_ - 1) return recv_op(d == 0 ? p_ - 1 : d - 1, tag_of(s, 0), bytes_, recv_[s % 2], 0, s);
          continue;
        case Phase::kCompute: {
          go(c, Phase::kWait);
          if (const CachedStep* cs = steps_.get(d, source(d, s))) {
            Op op;
            if (cached_compute(in_, *cs, s, op)) return op;
            continue;
          }
          const ComputeWork w = step_work(d, s);
          if (w.count == 0 && !keeps_empty_slots(in_)) continue;  // masked block: nothing to run
          return compute_op(in_, w, d, s, bytes_);
        }
        case Phase::kWait:  // allocations come at steps 0 and 1 only: later steps start at their SEND
          c.step = s + 1;
          go(c, c.step == p_ ? Phase::kFree : c.step == 1 ? Phase::kAllocRecv : Phase::kSend);
          return wait_op(s);
        case Phase::kFree: {
          Op op;
          if (next_buffer(c, Phase::kFree, table_.size(), true, [&](BufferId b) { return allocated(b); }, op)) return op;
          go(c, Phase::kDone);
          continue;
        }
        case Phase::kDone:
          return Op{};
      }
    }
  }

  // Every buffer is allocated before any is freed (recv_kv0/1 only when P > 1).
  std::optional<std::vector<int>> peak_counts() const override {
    std::vector<int> n(static_cast<std::size_t>(table_.size()), 1);
    if (p_ == 1) n[static_cast<std::size_t>(recv_[0])] = n[static_cast<std::size_t>(recv_[1])] = 0;
    return n;
  }

  std::optional<RingLowering> lower() const override {
    if (in_.documents || !in_.costs.uniform()) return std::nullopt;  // costs differ per block
    return lower_ring(in_, p_, bytes_, [this](long long d, long long s) { return step_work(d, s); });
  }

 private:
  static constexpr int kPassBuffers = 5;  // q_chunk .. workspace: ids 0..4
  bool allocated(BufferId b) const { return p_ > 1 || b < kPassBuffers; }  // a ring of one receives nothing
  BufferId held(long long s) const { return s == 0 ? own_ : recv_[(s - 1) % 2]; }

  // 0 <= d, s < P: no division (next() calls it every step)
  long long source(long long d, long long s) const { return d >= s ? d - s : d - s + p_; }
  ComputeWork step_work(long long d, long long s) const { return part_work(d, s, source(d, s)); }
  ComputeWork part_work(long long d, long long s, long long j) const {
    const BlockPlan plan = plan_blocks(geo_, in_.attention.causal, d, j, in_.documents);
    const ComputeSpec c = ring_spec(in_, d, s, plan, geo_, d, j, q_, held(s), acc_, bytes_);  // step 0: the diagonal
    return make_work(in_, c);
  }

  PlanInput in_;
  long long p_;
  SequenceLayout geo_;
  double bytes_ = 0;
  BufferTable table_;
  BufferId q_, own_, acc_, stats_, workspace_, recv_[2];
  StepCache steps_;
};

class PassKv final : public Schedule {
 public:
  void check(const Scenario& s, const Point& p, const PointAttention& a) const override { check_plain(s, p, a, "pass-kv"); }
  // Lowers whole to the ring (no tail) and states its peak buffers, unless
  // documents give every block its own cost.
  void check_periodic(const Scenario& s, const Point&, const PointAttention& a, const std::string& asked) const override {
    if (a.pass != Pass::kForward)
      fail(s, a.pass_at, fmt::format("{}: those modes run the forward ring only; pass {} runs in modes auto, event, "
                                     "recurrence and folded, up to {} devices", asked, pass_name(a.pass),
                                     kMaxFullRing));
    if (a.documents)
      fail(s, a.documents_at, fmt::format("{}: those modes need every ring step of a class to cost the same, and "
                                          "packed documents give each block its own cost", asked));
  }
  std::unique_ptr<Plan> plan(const PlanInput& in) const override {
    if (in.pass == Pass::kBackward) return make_ring_backward(in, TravellingSide::kKv);
    return std::make_unique<PassKvPlan>(in);
  }
};

}  // namespace

RINGSIM_REGISTER_SCHEDULE(PassKv, "pass-kv",
                          "ring attention passing K/V blocks to the next device, overlapped with compute");

}  // namespace ringsim::schedules
