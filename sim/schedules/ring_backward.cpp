// The backward of the pass-kv and pass-q rings; see ring_backward.hpp.
#include "sim/schedules/ring_backward.hpp"

#include <optional>

#include "sim/schedules/grad_ring.hpp"

namespace ringsim::schedules {
namespace {

enum class Phase { kAlloc, kPrologue, kPrologueWait, kRing, kFree, kDone };

class RingBackwardPlan final : public Plan, public ScheduleProgram, private GradRingHost {
 public:
  RingBackwardPlan(const PlanInput& in, TravellingSide side)
      : in_(in), p_(in.point.ring_size), kv_(side == TravellingSide::kKv),
        geo_(in.attention.layout, in.point.tokens, p_, in.attention.cached_tokens) {
    using F = BufferFormat;
    const AttentionShape& m = in.scenario.shape;
    const long long q = geo_.part_tokens(), kv = geo_.kv_rows();
    saved_ = add_saved(table_, m, q, kv, m.q_heads, m.kv_heads);
    q_row_ = q_bytes(m, 1, m.q_heads);
    lse_row_ = lse_bytes(1, m.q_heads);
    GradRingSpec r;
    r.ring = p_;
    r.first_step = 1;
    r.phase = static_cast<int>(Phase::kRing);
    r.travelling_kv = kv_;
    if (kv_) {
      delta_ = table_.add("delta", lse_bytes(q, m.q_heads), F::kRowStats);
      stay_acc_ = table_.add("dq_acc", fp32_q_bytes(q, m.q_heads, m.head_dim), F::kGradQueriesFp32);
      r.own = saved_.kv;
      r.inputs_bytes = kv_bytes(m, kv, m.kv_heads);
      r.acc_bytes = grad_kv_bytes(in, kv, m.kv_heads);
      r.acc_row_bytes = grad_kv_bytes(in, 1, m.kv_heads);
      r.block_row_bytes = fp32_kv_bytes(1, m.kv_heads, m.head_dim);
    } else {
      r.own = table_.add("q_bundle", bundle_bytes(q), F::kBundle);
      stay_acc_ = table_.add("dkv_acc", fp32_kv_bytes(kv, m.kv_heads, m.head_dim), F::kGradKeysValuesFp32);
      r.inputs_bytes = bundle_bytes(q);
      r.acc_bytes = grad_q_bytes(in, q, m.q_heads);
      r.acc_row_bytes = grad_q_bytes(in, 1, m.q_heads);
      r.block_row_bytes = fp32_q_bytes(1, m.q_heads, m.head_dim);
    }
    if (p_ > 1) {
      const std::string slot = kv_ ? "recv_kv_grad" : "recv_q_grad";
      r.slot[0] = table_.add(slot + "0", r.inputs_bytes + r.acc_bytes, F::kBundle);
      r.slot[1] = table_.add(slot + "1", r.inputs_bytes + r.acc_bytes, F::kBundle);
      r.block = table_.add(kv_ ? "dkv_block" : "dq_block", r.block_row_bytes * static_cast<double>(kv_ ? kv : q),
                           kv_ ? F::kGradKeysValuesFp32 : F::kGradQueriesFp32);
    }
    r.home = table_.add(kv_ ? "grad_kv" : "grad_q", r.acc_bytes, kv_ ? F::kGradKeysValues : F::kGradQueries);
    ring_.emplace(in_, r, static_cast<const GradRingHost&>(*this));
  }

  const ScheduleProgram& program() const override { return *this; }
  const SequenceLayout& sequence() const override { return geo_; }
  const BufferTable* buffer_table() const override { return &table_; }
  std::uint64_t waits() const override { return static_cast<std::uint64_t>(p_) * (1 + ring_->waits()); }

  std::vector<Placement> inputs(long long d) const override { return saved_inputs(in_, geo_, saved_, d); }
  // The staying side's gradient in its fp32 accumulator; the travelling
  // side's home in grad_dtype.
  std::vector<Placement> outputs(long long d) const override {
    const BufferId dq = kv_ ? stay_acc_ : ring_->spec().home, dkv = kv_ ? ring_->spec().home : stay_acc_;
    return {part_rows(in_, geo_, Placement::kGradQueries, dq, d), part_rows(in_, geo_, Placement::kGradKeysValues, dkv, d)};
  }

  ComputeWork work(long long d, const ProgramCursor& after) const override {
    return phase_of<Phase>(after) == Phase::kPrologueWait ? prologue() : ring_->work(d, after);
  }

  Op next(long long d, ProgramCursor& c) const override {
    for (;;) {
      Op op;
      switch (phase_of<Phase>(c)) {
        case Phase::kAlloc:
          if (next_buffer(c, Phase::kAlloc, table_.size(), false, every_buffer, op)) return op;
          go(c, Phase::kPrologue);
          continue;
        case Phase::kPrologue:
          go(c, Phase::kPrologueWait);
          return compute_op(in_, prologue(), d, 0, 0);
        case Phase::kPrologueWait:
          ring_->enter(c);
          return wait_op(0);
        case Phase::kRing:
          if (ring_->next(d, c, op)) return op;
          go(c, Phase::kFree);
          continue;
        case Phase::kFree:
          if (next_buffer(c, Phase::kFree, table_.size(), true, every_buffer, op)) return op;
          go(c, Phase::kDone);
          continue;
        case Phase::kDone:
          return Op{};
      }
    }
  }

  std::optional<std::vector<int>> peak_counts() const override { return all_live(table_); }

  std::optional<RingLowering> lower() const override {
    if (in_.documents || !in_.costs.uniform()) return std::nullopt;
    return ring_->lower(compute_op(in_, prologue(), 0, 0, 0).duration_ns);
  }

 private:
  double bundle_bytes(long long rows) const { return static_cast<double>(rows) * (2 * q_row_ + 2 * lse_row_); }
  // Where Q, dO, LSE and D start in a query bundle of `rows` rows.
  Slice bundle(BufferId b, int tensor, long long rows) const {
    const double r = static_cast<double>(rows);
    const double base[] = {0, r * q_row_, 2 * r * q_row_, 2 * r * q_row_ + r * lse_row_};
    return Slice{b, 0, rows, base[tensor]};
  }

  // The D pass; pass-q also packs Q, dO and LSE beside D into its own bundle.
  ComputeWork prologue() const {
    const long long q = geo_.part_tokens();
    const int h = in_.scenario.shape.q_heads;
    const Slice dout{saved_.dout, 0, q}, out{saved_.out, 0, q};
    ComputeWork w;
    if (kv_) {
      w.add(delta_block(in_, dout, out, Slice{delta_, 0, q}, h));
      return w;
    }
    const BufferId own = ring_->spec().own;
    w.add(delta_block(in_, dout, out, bundle(own, 3, q), h));
    w.add(copy_block(Slice{saved_.q, 0, q}, bundle(own, 0, q), {Tensor::kQ, h}, q_row_ * static_cast<double>(q)));
    w.add(copy_block(dout, bundle(own, 1, q), {Tensor::kDO, h}, q_row_ * static_cast<double>(q)));
    w.add(copy_block(Slice{saved_.lse, 0, q}, bundle(own, 2, q), {Tensor::kLse, h}, lse_row_ * static_cast<double>(q)));
    return w;
  }

  long long ring_peer(long long d, int direction) const override { return (d + direction + p_) % p_; }

  ComputeWork ring_blocks(long long d, long long s, const Slice& inputs, const Slice& acc) const override {
    const long long j = ((d - s) % p_ + p_) % p_;  // the travelling part
    const long long q_part = kv_ ? d : j, kv_part = kv_ ? j : d;
    const BlockPlan plan = plan_blocks(geo_, in_.attention.causal, q_part, kv_part, in_.documents);
    BackwardSpec c = backward_spec(in_, q_part, kv_part, ring_->spec().inputs_bytes);
    const long long q = geo_.part_tokens();
    if (kv_) {
      c.q = Slice{saved_.q}, c.dout = Slice{saved_.dout}, c.lse = Slice{saved_.lse}, c.delta = Slice{delta_};
      c.kv = inputs;
      c.grad_q = Slice{stay_acc_}, c.grad_q_fresh = s == 0;  // every query sees its own part
      c.grad_kv = acc, c.grad_kv_fresh = true;
    } else {
      c.q = bundle(inputs.buffer, 0, q), c.dout = bundle(inputs.buffer, 1, q);
      c.lse = bundle(inputs.buffer, 2, q), c.delta = bundle(inputs.buffer, 3, q);
      c.kv = Slice{saved_.kv};
      c.grad_kv = Slice{stay_acc_}, c.grad_kv_fresh = s == 0;  // every key is seen by its own part
      c.grad_q = acc, c.grad_q_fresh = true;
    }
    return make_backward_work(in_, plan, c);
  }

  PlanInput in_;
  long long p_;
  bool kv_;  // K/V travel (pass-kv); otherwise queries (pass-q)
  SequenceLayout geo_;
  BufferTable table_;
  SavedBuffers saved_;
  BufferId delta_ = kNoBuffer, stay_acc_ = kNoBuffer;
  double q_row_ = 0, lse_row_ = 0;
  std::optional<GradRing> ring_;
};

}  // namespace

std::unique_ptr<Plan> make_ring_backward(const PlanInput& in, TravellingSide side) {
  return std::make_unique<RingBackwardPlan>(in, side);
}

}  // namespace ringsim::schedules
