// pass-q: ring attention that passes queries (Meta's CP inference "pass-Q",
// Yang et al. 2024): K/V stay, query blocks rotate. At step s (0..P-1)
// device d holds the queries of part i = (d - s) mod P and computes them
// against its own K/V (and its slice of the cached prefix: pass-q's use case,
// since queries are smaller than K/V when the cache is long). Its own block
// (s = 0) writes its accumulator; the block for another part is a partial
// output (output in the model's dtype and fp32 log-sum-exp) kept in a slot.
// After the ring, an all-to-all sends every partial home (all P-1 transfers
// posted at once, sharing links in the flow model, as NCCL's grouped
// send/recv runs them), and each device merges what it received into its
// accumulator. Blocks the mask empties are neither sent nor merged.
//
// Program of a device: ring steps 0..P-1 as in pass-kv (ALLOCs at step 0,
// SEND q, RECV q, COMPUTE, WAIT_ALL); step P: SEND partials, RECV partials,
// WAIT_ALL (receive slots allocated then); step P+1: COMPUTE the merges, WAIT_ALL, FREE everything.
// Memory: P-1 partial slots and P-1 receive slots (slot k of the receive
// buffer: from device d+k+1) (the static all-to-all
// buffers an implementation allocates for the worst case).
// Lowering: the ring phase is the pass-kv recurrence with the query message;
// the tail (steps P, P+1) runs in the event engine from each device's ring
// finish. That composition is exact: a tail transfer d -> e starts once both
// have finished the ring, and every link of a route belongs to its source or
// destination GPU, so no ring transfer can still be using it.
#include <fmt/format.h>

#include <functional>

#include "sim/schedules/common.hpp"
#include "sim/schedules/ring_backward.hpp"

namespace ringsim::schedules {
namespace {

enum class Phase { kAllocPass, kAllocRecv, kSend, kRecv, kCompute, kWait, kTailAlloc, kTailSend, kTailRecv, kTailWait,
                   kMerge, kMergeWait, kFree, kDone };

class PassQPlan final : public Plan, public ScheduleProgram {
 public:
  explicit PassQPlan(const PlanInput& in)
      : in_(in), p_(in.point.ring_size), geo_(in.attention.layout, in.point.tokens, p_, in.attention.cached_tokens) {
    const AttentionShape& m = in.scenario.shape;
    const long long q = geo_.part_tokens(), slots = p_ - 1;
    q_message_ = q_bytes(m, q, m.q_heads);
    partial_message_ = partial_bytes(m, q, m.q_heads);
    q_ = table_.add("q_chunk", q_message_, BufferFormat::kQueries);
    own_ = table_.add("own_kv", kv_bytes(m, geo_.kv_rows(), m.kv_heads), BufferFormat::kKeysValues);
    acc_ = table_.add("out_acc", acc_bytes(q, m.q_heads, m.head_dim), BufferFormat::kAccumulator);
    stats_ = table_.add("softmax_stats", stats_bytes(q, m.q_heads));
    partials_ = table_.add("partials", partial_message_ * static_cast<double>(slots), BufferFormat::kPartials);
    recv_[0] = table_.add("recv_q0", q_message_, BufferFormat::kQueries);
    recv_[1] = table_.add("recv_q1", q_message_, BufferFormat::kQueries);
    recv_partials_ = table_.add("recv_partials", partial_message_ * static_cast<double>(slots), BufferFormat::kPartials);
    steps_.build(in, p_, q_message_, [this](long long qp, long long kp, long long s) { return part_work(kp, s, qp); });
  }

  const ScheduleProgram& program() const override { return *this; }
  const SequenceLayout& sequence() const override { return geo_; }
  const BufferTable* buffer_table() const override { return &table_; }
  std::uint64_t waits() const override { return static_cast<std::uint64_t>(p_) * static_cast<std::uint64_t>(p_ + 2); }

  ComputeWork work(long long d, const ProgramCursor& after) const override {
    return after.step < p_ ? step_work(d, after.step) : merge_work(d);
  }
  std::vector<Placement> inputs(long long d) const override {
    return {part_rows(in_, geo_, Placement::kQueries, q_, d), part_rows(in_, geo_, Placement::kKeysValues, own_, d)};
  }
  std::vector<Placement> outputs(long long d) const override { return {part_rows(in_, geo_, Placement::kOutput, acc_, d)}; }

  Op next(long long d, ProgramCursor& c) const override {
    for (;;) {
      const long long s = c.step, i = index_of(c);
      switch (phase_of<Phase>(c)) {
        case Phase::kAllocPass: {
          Op op;
          if (s == 0 && next_buffer(c, Phase::kAllocPass, kPassBuffers, false, allocated(), op)) return op;
          go(c, Phase::kAllocRecv);
          continue;
        }
        case Phase::kAllocRecv:
          go(c, Phase::kSend);
          if (p_ > 1 && s <= 1) return alloc_op(recv_[s]);
          continue;
        case Phase::kSend:
          go(c, Phase::kRecv);
          if (s < p_ - 1) return send_op((d + 1) % p_, tag_of(s, 0), q_message_, held(s), 0, s);
          continue;
        case Phase::kRecv:
          go(c, Phase::kCompute);
          if (s < p_ - 1) return recv_op((d - 1 + p_) % p_, tag_of(s, 0), q_message_, recv_[s % 2], 0, s);
          continue;
        case Phase::kCompute: {
          go(c, Phase::kWait);
          if (const CachedStep* cs = steps_.get(query_part(d, s), d)) {
            Op op;
            if (cached_compute(in_, *cs, s, op)) return op;
            continue;
          }
          const ComputeWork w = step_work(d, s);
          if (w.count == 0 && !keeps_empty_slots(in_)) continue;
          return compute_op(in_, w, d, s, q_message_);
        }
        case Phase::kWait:
          c.step = s + 1;
          go(c, c.step == p_ ? Phase::kTailAlloc : Phase::kAllocPass);
          return wait_op(s);
        case Phase::kTailAlloc:
          go(c, Phase::kTailSend);
          if (p_ > 1) return alloc_op(recv_partials_);
          continue;
        case Phase::kTailSend:  // index k: the partial of step k + 1, for part d - k - 1
          if (i >= p_ - 1) { go(c, Phase::kTailRecv); continue; }
          go(c, Phase::kTailSend, i + 1);
          if (!nonempty((d - i - 1 + p_) % p_, d)) continue;
          {  // the partials go back as one all-to-all (the executor groups them on one communicator)
            Op op = send_op((d - i - 1 + p_) % p_, tag_of(p_, 1), partial_message_, partials_,
                            partial_message_ * static_cast<double>(i), s);
            op.all_to_all_peers = static_cast<std::uint16_t>(std::min<long long>(p_ - 1, 0xffff));
            return op;
          }
        case Phase::kTailRecv:  // index k: from device d + k + 1, which computed our part at its step k + 1
          if (i >= p_ - 1) { go(c, Phase::kTailWait); continue; }
          go(c, Phase::kTailRecv, i + 1);
          if (!nonempty(d, (d + i + 1) % p_)) continue;
          return recv_op((d + i + 1) % p_, tag_of(p_, 1), partial_message_, recv_partials_,
                         partial_message_ * static_cast<double>(i), s);
        case Phase::kTailWait:
          c.step = s + 1;
          go(c, Phase::kMerge);
          return wait_op(s);
        case Phase::kMerge: {
          go(c, Phase::kMergeWait);
          const ComputeWork w = merge_work(d);
          if (w.count == 0 && !keeps_empty_slots(in_)) continue;
          return compute_op(in_, w, d, s, partial_message_);
        }
        case Phase::kMergeWait:
          c.step = s + 1;
          go(c, Phase::kFree);
          return wait_op(s);
        case Phase::kFree: {
          Op op;
          if (next_buffer(c, Phase::kFree, table_.size(), true, allocated(), op)) return op;
          go(c, Phase::kDone);
          continue;
        }
        case Phase::kDone:
          return Op{};
      }
    }
  }

  // Every buffer is allocated before any is freed (recv_q0/1 only when P > 1).
  std::optional<std::vector<int>> peak_counts() const override {
    std::vector<int> n(static_cast<std::size_t>(table_.size()));
    for (BufferId b = 0; b < table_.size(); ++b) n[static_cast<std::size_t>(b)] = allocated()(b);
    return n;
  }

  std::optional<RingLowering> lower() const override {
    if (in_.documents || !in_.costs.uniform()) return std::nullopt;
    RingLowering l = lower_ring(in_, p_, q_message_, [this](long long d, long long s) { return step_work(d, s); });
    l.has_tail = true;
    go(l.tail_start, Phase::kTailAlloc);
    l.tail_start.step = p_;
    return l;
  }

 private:
  static constexpr int kPassBuffers = 5;  // q_chunk, own_kv, out_acc, softmax_stats, partials
  BufferId held(long long s) const { return s == 0 ? q_ : recv_[(s - 1) % 2]; }
  // A ring of one sends and receives nothing: no receive buffers, no partial slots.
  bool is_allocated(BufferId b) const {
    return p_ > 1 || (b != recv_[0] && b != recv_[1] && b != partials_ && b != recv_partials_);
  }
  std::function<bool(BufferId)> allocated() const { return [this](BufferId b) { return is_allocated(b); }; }

  // Whether part q_part's queries see anything of part kv_part's keys.
  bool nonempty(long long q_part, long long kv_part) const {
    return plan_blocks(geo_, in_.attention.causal, q_part, kv_part, in_.documents).count > 0;
  }
  // Partials device d receives (slot k: from d + k + 1; empty blocks send nothing).
  long long received(long long d) const {
    long long n = 0;
    for (long long k = 0; k < p_ - 1; ++k) n += nonempty(d, (d + k + 1) % p_);
    return n;
  }

  long long query_part(long long d, long long s) const { return ((d - s) % p_ + p_) % p_; }
  ComputeWork step_work(long long d, long long s) const { return part_work(d, s, query_part(d, s)); }
  ComputeWork part_work(long long d, long long s, long long i) const {
    const BlockPlan plan = plan_blocks(geo_, in_.attention.causal, i, d, in_.documents);
    ComputeSpec c = ring_spec(in_, d, s, plan, geo_, i, d, held(s), own_, s == 0 ? acc_ : partials_, q_message_);
    c.out_row = s == 0 ? 0 : (s - 1) * geo_.part_tokens();
    c.first_writes = true;  // the own block starts the accumulator; a partial starts its slot
    return make_work(in_, c);
  }

  ComputeWork merge_work(long long d) const {
    ComputeWork w;
    const long long n = received(d);
    if (n > 0) w.add(merge_block(recv_partials_, p_ - 1, n, acc_, geo_.part_tokens(), in_.scenario.shape.q_heads));
    return w;
  }

  PlanInput in_;
  long long p_;
  SequenceLayout geo_;
  double q_message_ = 0, partial_message_ = 0;
  BufferTable table_;
  BufferId q_, own_, acc_, stats_, partials_, recv_[2], recv_partials_;
  StepCache steps_;
};

class PassQ final : public Schedule {
 public:
  void check(const Scenario& s, const Point& p, const PointAttention& a) const override { check_plain(s, p, a, "pass-q"); }
  std::unique_ptr<Plan> plan(const PlanInput& in) const override {
    if (in.pass == Pass::kBackward) return make_ring_backward(in, TravellingSide::kQ);
    return std::make_unique<PassQPlan>(in);
  }
};

}  // namespace

RINGSIM_REGISTER_SCHEDULE(PassQ, "pass-q",
                          "ring attention passing queries; partial outputs return home by all-to-all and merge");

}  // namespace ringsim::schedules
