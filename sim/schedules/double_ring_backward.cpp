// The backward of double-ring (LoongTrain): each outer round k is a pass-kv
// backward ring inside the group (the round's K/V blocks rotate around the
// inner ring with their dK/dV accumulators one step behind, and an inner
// return hop brings each block's accumulator back to the device that
// entered it into the group: sim/schedules/grad_ring.hpp), while the outer
// ring carries, in I pieces (one per inner step, as in the forward), the
// next round's K/V and the accumulator of the previous round's block. So
// dK/dV of a block travel the outer ring one round behind its K/V:
//   round k, device (o, i) holds block b_k = (o - k, i). At the end of the
//   round, group_dkv[k % 2] holds the group's part of b_k's gradient; from
//   round 1 on it adds the accumulator of b_k that (o - 1, i) sent during the
//   round (outer_dkv_in: groups o - k .. o - 1), and sends the sum on during
//   round k + 1. After the last round one outer hop returns each block's
//   dK/dV home (b_{O-1} = (o + 1, i)) into grad_kv.
// At the first inner step of a round k >= 1 (or every round when I = 1) the
// accumulator the block starts is zeroed first: a block of another group's
// part may not reach every key row. dQ adds up at home in fp32 (dq_acc).
//
// Program, step t = 1 + k (I + 1) + j: inner step j < I: SEND RECV inner
// (I > 1), SEND RECV outer K/V piece (k < O-1), SEND RECV outer dK/dV piece
// (k >= 1), COMPUTE, WAIT_ALL, [COMPUTE add, WAIT_ALL (j >= 1)]; j = I: the
// inner return hop (I > 1), the outer add (k >= 1); after the last round
// the outer return hop. Event engine only.
#include "sim/schedules/double_ring_backward.hpp"

#include <fmt/format.h>

#include "sim/schedules/backward.hpp"

namespace ringsim::schedules {
namespace {

enum class Phase { kAlloc, kPrologue, kPrologueWait, kInnerSend, kInnerRecv, kKvSend, kKvRecv, kAccSend, kAccRecv,
                   kCompute, kWait, kAdd, kAddWait, kRoundEnd, kReturnSend, kReturnRecv, kReturnWait, kOuterAdd,
                   kOuterAddWait, kNextRound, kHomeSend, kHomeRecv, kHomeWait, kFree, kDone };

class DoubleRingBackwardPlan final : public Plan, public ScheduleProgram {
 public:
  DoubleRingBackwardPlan(const PlanInput& in, long long inner)
      : in_(in), p_(in.point.ring_size), inner_(inner), outer_(p_ / inner),
        geo_(in.attention.layout, in.point.tokens, p_, in.attention.cached_tokens) {
    const AttentionShape& m = in.scenario.shape;
    const long long q = geo_.part_tokens(), kv = geo_.kv_rows();
    kv_ = kv_bytes(m, kv, m.kv_heads);
    acc_ = grad_kv_bytes(in, kv, m.kv_heads);
    saved_ = add_saved(table_, m, q, kv, m.q_heads, m.kv_heads);
    using F = BufferFormat;
    delta_ = table_.add("delta", lse_bytes(q, m.q_heads), F::kRowStats);
    dq_ = table_.add("dq_acc", fp32_q_bytes(q, m.q_heads, m.head_dim), F::kGradQueriesFp32);
    if (inner_ > 1) {
      slot_[0] = table_.add("inner_kv_grad0", kv_ + acc_, F::kBundle);
      slot_[1] = table_.add("inner_kv_grad1", kv_ + acc_, F::kBundle);
      block_ = table_.add("dkv_block", fp32_kv_bytes(kv, m.kv_heads, m.head_dim), F::kGradKeysValuesFp32);
    }
    if (outer_ > 1) {
      outer_kv_[0] = table_.add("outer_kv0", kv_, F::kKeysValues);
      outer_kv_[1] = table_.add("outer_kv1", kv_, F::kKeysValues);
      outer_in_ = table_.add("outer_dkv_in", acc_, F::kGradKeysValues);
      group_[0] = table_.add("group_dkv0", acc_, F::kGradKeysValues);
      group_[1] = table_.add("group_dkv1", acc_, F::kGradKeysValues);
    }
    home_ = table_.add("grad_kv", acc_, F::kGradKeysValues);
    if (outer_ == 1) group_[0] = group_[1] = home_;
  }

  const ScheduleProgram& program() const override { return *this; }
  const SequenceLayout& sequence() const override { return geo_; }
  const BufferTable* buffer_table() const override { return &table_; }
  std::uint64_t waits() const override {
    const std::uint64_t in = static_cast<std::uint64_t>(inner_), out = static_cast<std::uint64_t>(outer_);
    const std::uint64_t per_round = 1 + 2 * (in - 1) + (in > 1 ? 1 : 0);
    return static_cast<std::uint64_t>(p_) * (1 + out * per_round + (out - 1) + (out > 1 ? 1 : 0));
  }
  std::string detail() const override { return fmt::format("inner {} x outer {}", inner_, outer_); }

  std::vector<Placement> inputs(long long d) const override { return saved_inputs(in_, geo_, saved_, d); }
  std::vector<Placement> outputs(long long d) const override {
    return {part_rows(in_, geo_, Placement::kGradQueries, dq_, d), part_rows(in_, geo_, Placement::kGradKeysValues, home_, d)};
  }

  ComputeWork work(long long d, const ProgramCursor& after) const override {
    const long long k = round(after), j = inner_step(after);
    switch (phase_of<Phase>(after)) {
      case Phase::kPrologueWait: return prologue();
      case Phase::kAddWait: return add_work(blocks(d, k, j), j);
      case Phase::kOuterAddWait: return outer_add(k);
      default: return blocks(d, k, j);
    }
  }

  Op next(long long d, ProgramCursor& c) const override;

  std::optional<std::vector<int>> peak_counts() const override { return all_live(table_); }

 private:
  long long round(const ProgramCursor& c) const { return (c.step - 1) / (inner_ + 1); }
  long long inner_step(const ProgramCursor& c) const { return (c.step - 1) % (inner_ + 1); }
  long long in_peer(long long d, int dir) const { return d / inner_ * inner_ + (d % inner_ + dir + inner_) % inner_; }
  long long out_peer(long long d, int dir) const { return ((d / inner_ + dir + outer_) % outer_) * inner_ + d % inner_; }
  BufferId round_block(long long k) const { return k == 0 ? saved_.kv : outer_kv_[(k - 1) % 2]; }
  BufferId held(long long k, long long j) const { return j == 0 ? round_block(k) : slot_[(j - 1) % 2]; }
  double inner_bytes(long long j) const { return j == 0 ? kv_ : j == inner_ - 1 ? acc_ : kv_ + acc_; }
  // The block's dK/dV target at (k, j): the round's group accumulator (I = 1),
  // inner slot 0's accumulator (j = 0), else the fp32 block buffer.
  Slice target(long long k, long long j) const {
    if (inner_ == 1) return Slice{group_[k % 2], 0, 0, 0};
    return j == 0 ? Slice{slot_[0], 0, 0, kv_} : Slice{block_, 0, 0, 0};
  }
  void end_inner_step(ProgramCursor& c, long long t, long long j) const {
    c.step = t + 1;
    go(c, j + 1 < inner_ ? Phase::kInnerSend : Phase::kRoundEnd);
  }
  long long source(long long d, long long k, long long j) const {
    const long long o = d / inner_, i = d % inner_;
    return ((o - k) % outer_ + outer_) % outer_ * inner_ + ((i - j) % inner_ + inner_) % inner_;
  }

  TensorRows kv_grad() const { return {Tensor::kGradKv, in_.scenario.shape.kv_heads}; }
  ComputeWork prologue() const {
    const long long q = geo_.part_tokens();
    return one_block(delta_block(in_, Slice{saved_.dout, 0, q}, Slice{saved_.out, 0, q}, Slice{delta_, 0, q},
                                 in_.scenario.shape.q_heads));
  }
  ComputeWork blocks(long long d, long long k, long long j) const;
  ComputeWork add_work(const ComputeWork& w, long long j) const;
  ComputeWork outer_add(long long k) const {
    const long long kv = geo_.kv_rows();
    const double row = grad_kv_bytes(in_, 1, in_.scenario.shape.kv_heads);
    return one_block(add_block(Slice{outer_in_, 0, kv}, Slice{group_[k % 2], 0, kv}, 1, kv_grad(), row, row));
  }

  PlanInput in_;
  long long p_, inner_, outer_;
  SequenceLayout geo_;
  double kv_ = 0, acc_ = 0;
  BufferTable table_;
  SavedBuffers saved_;
  BufferId delta_, dq_, slot_[2] = {kNoBuffer, kNoBuffer}, block_ = kNoBuffer;
  BufferId outer_kv_[2] = {kNoBuffer, kNoBuffer}, outer_in_ = kNoBuffer, group_[2] = {kNoBuffer, kNoBuffer}, home_;
};

ComputeWork DoubleRingBackwardPlan::blocks(long long d, long long k, long long j) const {
  const long long src = source(d, k, j);
  const BlockPlan plan = plan_blocks(geo_, in_.attention.causal, d, src, in_.documents);
  BackwardSpec c = backward_spec(in_, d, src, inner_bytes(j));
  c.q = Slice{saved_.q}, c.dout = Slice{saved_.dout}, c.lse = Slice{saved_.lse}, c.delta = Slice{delta_};
  c.kv = Slice{held(k, j)};
  c.grad_q = Slice{dq_}, c.grad_q_fresh = k == 0 && j == 0;  // every query sees its own part
  c.grad_kv = target(k, j);
  // A round's first accumulator starts from zero unless it is the own part's
  // diagonal, which covers every key -- also when the mask leaves the step no
  // block (a later part of a contiguous causal ring): later steps add into it.
  const bool zeroed = j == 0 && k > 0;
  c.grad_kv_fresh = !zeroed;
  ComputeWork w;
  if (zeroed) w.add(zero_block(Slice{c.grad_kv.buffer, 0, geo_.kv_rows(), c.grad_kv.base_bytes}, kv_grad(), acc_));
  const ComputeWork b = make_backward_work(in_, plan, c);
  for (int n = 0; n < b.count; ++n) w.add(b.blocks[static_cast<std::size_t>(n)]);
  return w;
}

// The rows the blocks wrote into the block buffer, added into the
// accumulator received at inner step j (slot j % 2, after the K/V).
ComputeWork DoubleRingBackwardPlan::add_work(const ComputeWork& w, long long j) const {
  ComputeWork out;
  const AttentionShape& m = in_.scenario.shape;
  for (int n = 0; n < w.count; ++n) {
    const Block& b = w.blocks[static_cast<std::size_t>(n)];
    if (b.kind != BlockKind::kAttentionBackward || b.grad_kv_mode != OutputMode::kWrite) continue;
    out.add(add_block(b.grad_kv, Slice{slot_[j % 2], b.grad_kv.offset, b.grad_kv.count, kv_}, 1, kv_grad(),
                      fp32_kv_bytes(1, m.kv_heads, m.head_dim), grad_kv_bytes(in_, 1, m.kv_heads)));
  }
  return out;
}

Op DoubleRingBackwardPlan::next(long long d, ProgramCursor& c) const {
  for (;;) {
    const long long k = round(c), j = inner_step(c), t = c.step;
    const double kv_piece = kv_ / static_cast<double>(inner_), acc_piece = acc_ / static_cast<double>(inner_);
    const bool inner_moves = inner_ > 1, kv_moves = k < outer_ - 1, acc_moves = k > 0;
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
        c.step = 1;
        go(c, Phase::kInnerSend);
        return wait_op(0);
      case Phase::kInnerSend:
        go(c, Phase::kInnerRecv);
        if (!inner_moves) continue;
        return send_op(in_peer(d, 1), tag_of(t, 0), inner_bytes(j), held(k, j), j == inner_ - 1 ? kv_ : 0, t);
      case Phase::kInnerRecv:
        go(c, Phase::kKvSend);
        if (!inner_moves) continue;
        return recv_op(in_peer(d, -1), tag_of(t, 0), inner_bytes(j), slot_[j % 2], j == inner_ - 1 && j > 0 ? kv_ : 0, t);
      case Phase::kKvSend:
        go(c, Phase::kKvRecv);
        if (!kv_moves) continue;
        return send_op(out_peer(d, 1), tag_of(t, 1), kv_piece, round_block(k), kv_piece * j, t);
      case Phase::kKvRecv:
        go(c, Phase::kAccSend);
        if (!kv_moves) continue;
        return recv_op(out_peer(d, -1), tag_of(t, 1), kv_piece, outer_kv_[k % 2], kv_piece * j, t);
      case Phase::kAccSend:
        go(c, Phase::kAccRecv);
        if (!acc_moves) continue;
        return send_op(out_peer(d, 1), tag_of(t, 2), acc_piece, group_[(k - 1) % 2], acc_piece * j, t);
      case Phase::kAccRecv:
        go(c, Phase::kCompute);
        if (!acc_moves) continue;
        return recv_op(out_peer(d, -1), tag_of(t, 2), acc_piece, outer_in_, acc_piece * j, t);
      case Phase::kCompute: {
        go(c, Phase::kWait);
        const ComputeWork w = blocks(d, k, j);
        if (w.count == 0 && !keeps_empty_slots(in_)) continue;
        return compute_op(in_, w, d, t, inner_bytes(j));
      }
      case Phase::kWait:
        if (j > 0) go(c, Phase::kAdd);
        else end_inner_step(c, t, j);  // nothing to add at a round's first step
        return wait_op(t);
      case Phase::kAdd: {
        go(c, Phase::kAddWait);
        const ComputeWork w = add_work(blocks(d, k, j), j);
        if (w.count == 0 && !keeps_empty_slots(in_)) continue;
        return compute_op(in_, w, d, t, inner_bytes(j));
      }
      case Phase::kAddWait:
        end_inner_step(c, t, j);
        return wait_op(t);
      case Phase::kRoundEnd:  // step j == I
        go(c, inner_moves ? Phase::kReturnSend : acc_moves ? Phase::kOuterAdd : Phase::kNextRound);
        continue;
      case Phase::kReturnSend:  // the inner return hop: each block's accumulator to the device that entered it
        go(c, Phase::kReturnRecv);
        return send_op(in_peer(d, 1), tag_of(t, 0), acc_, slot_[(inner_ - 1) % 2], kv_, t);
      case Phase::kReturnRecv:
        go(c, Phase::kReturnWait);
        return recv_op(in_peer(d, -1), tag_of(t, 0), acc_, group_[k % 2], 0, t);
      case Phase::kReturnWait:
        go(c, acc_moves ? Phase::kOuterAdd : Phase::kNextRound);
        return wait_op(t);
      case Phase::kOuterAdd:
        go(c, Phase::kOuterAddWait);
        return compute_op(in_, outer_add(k), d, t, acc_);
      case Phase::kOuterAddWait:
        go(c, Phase::kNextRound);
        return wait_op(t);
      case Phase::kNextRound:
        c.step = t + 1;
        go(c, k + 1 < outer_ ? Phase::kInnerSend : outer_ > 1 ? Phase::kHomeSend : Phase::kFree);
        continue;
      case Phase::kHomeSend:
        go(c, Phase::kHomeRecv);
        return send_op(out_peer(d, 1), tag_of(t, 3), acc_, group_[(outer_ - 1) % 2], 0, t);
      case Phase::kHomeRecv:
        go(c, Phase::kHomeWait);
        return recv_op(out_peer(d, -1), tag_of(t, 3), acc_, home_, 0, t);
      case Phase::kHomeWait:
        go(c, Phase::kFree);
        return wait_op(t);
      case Phase::kFree:
        if (next_buffer(c, Phase::kFree, table_.size(), true, every_buffer, op)) return op;
        go(c, Phase::kDone);
        continue;
      case Phase::kDone:
        return Op{};
    }
  }
}

}  // namespace

std::unique_ptr<Plan> make_double_ring_backward(const PlanInput& in, long long inner_ring) {
  return std::make_unique<DoubleRingBackwardPlan>(in, inner_ring);
}

}  // namespace ringsim::schedules
