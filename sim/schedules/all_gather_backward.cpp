// The backward of all-gather (Llama 3's context parallelism): the forward
// kept only the rank's own K/V (saved_kv), so the backward gathers K/V
// again with NCCL's ring algorithm, computes its queries' blocks against the
// gathered sequence (dQ at home in fp32; dK/dV for the whole sequence into
// gathered_dkv, zeroed first: keys none of the rank's queries see get no
// block), then reduce-scatters dK/dV with NCCL's ring algorithm: at step s
// device d sends its (partly reduced) chunk of part d - s - 1 to d + 1 and
// adds the chunk of part d - s - 2 received from d - 1 into its own copy;
// after P - 1 steps gathered_dkv's chunk of part d holds the rank's dK/dV.
// Chunks travel in attention.grad_dtype. As in the forward, the blocks read
// and write the gathered rows in position order and a real executor
// permutes them to and from per-part chunks (not charged): Slices of
// gathered_kv and gathered_dkv name rows in part order (part j's rows at
// j x kv rows) everywhere but in the attention blocks (kv_part -1).
//
// Program: ALLOCs; COMPUTE the D pass, zeroing and the copy of its own K/V
// into its gathered slot, WAIT_ALL; gather steps (SEND RECV WAIT_ALL);
// COMPUTE the blocks, WAIT_ALL; reduce-scatter steps (SEND RECV WAIT_ALL
// COMPUTE add WAIT_ALL); FREE everything. Event engine only.
#include "sim/schedules/all_gather_backward.hpp"

#include "sim/schedules/backward.hpp"

namespace ringsim::schedules {
namespace {

enum class Phase { kAlloc, kPrologue, kPrologueWait, kGatherSend, kGatherRecv, kGatherWait, kCompute, kComputeWait,
                   kReduceSend, kReduceRecv, kReduceWait, kAdd, kAddWait, kFree, kDone };

class AllGatherBackwardPlan final : public Plan, public ScheduleProgram {
 public:
  explicit AllGatherBackwardPlan(const PlanInput& in)
      : in_(in), p_(in.point.ring_size), geo_(in.attention.layout, in.point.tokens, p_, in.attention.cached_tokens) {
    const AttentionShape& m = in.scenario.shape;
    const long long q = geo_.part_tokens(), kv = geo_.kv_rows();
    block_bytes_ = kv_bytes(m, kv, m.kv_heads);
    chunk_bytes_ = grad_kv_bytes(in, kv, m.kv_heads);
    saved_ = add_saved(table_, m, q, kv, m.q_heads, m.kv_heads);
    using F = BufferFormat;
    delta_ = table_.add("delta", lse_bytes(q, m.q_heads), F::kRowStats);
    gathered_ = table_.add("gathered_kv", block_bytes_ * static_cast<double>(p_), F::kKeysValues);
    dq_ = table_.add("dq_acc", fp32_q_bytes(q, m.q_heads, m.head_dim), F::kGradQueriesFp32);
    dkv_ = table_.add("gathered_dkv", chunk_bytes_ * static_cast<double>(p_), F::kGradKeysValues);
    if (p_ > 1) recv_ = table_.add("recv_dkv", chunk_bytes_, F::kGradKeysValues);
  }

  const ScheduleProgram& program() const override { return *this; }
  const SequenceLayout& sequence() const override { return geo_; }
  const BufferTable* buffer_table() const override { return &table_; }
  std::uint64_t waits() const override { return static_cast<std::uint64_t>(p_) * (2 + 3 * (p_ - 1)); }

  std::vector<Placement> inputs(long long d) const override { return saved_inputs(in_, geo_, saved_, d); }
  // dQ in its fp32 accumulator; dK/dV in gathered_dkv's chunk of part d,
  // which the reduce-scatter leaves holding the sum over every rank.
  std::vector<Placement> outputs(long long d) const override {
    return {part_rows(in_, geo_, Placement::kGradQueries, dq_, d),
            part_rows(in_, geo_, Placement::kGradKeysValues, dkv_, d, slot(d, chunk_bytes_))};
  }

  ComputeWork work(long long d, const ProgramCursor& after) const override {
    switch (phase_of<Phase>(after)) {
      case Phase::kPrologueWait: return prologue(d);
      case Phase::kComputeWait: return blocks(d);
      default: return add_work(d, after.step);
    }
  }

  Op next(long long d, ProgramCursor& c) const override {
    for (;;) {
      const long long s = c.step;
      Op op;
      switch (phase_of<Phase>(c)) {
        case Phase::kAlloc:
          if (next_buffer(c, Phase::kAlloc, table_.size(), false, every_buffer, op)) return op;
          go(c, Phase::kPrologue);
          continue;
        case Phase::kPrologue:
          go(c, Phase::kPrologueWait);
          return compute_op(in_, prologue(d), d, 0, 0);
        case Phase::kPrologueWait:
          go(c, p_ > 1 ? Phase::kGatherSend : Phase::kCompute);
          return wait_op(0);
        case Phase::kGatherSend:  // gather step s: part d - s to d + 1
          go(c, Phase::kGatherRecv);
          return send_op(peer(d, 1), tag_of(s, 0), block_bytes_, gathered_, slot(d - s, block_bytes_), s);
        case Phase::kGatherRecv:
          go(c, Phase::kGatherWait);
          return recv_op(peer(d, -1), tag_of(s, 0), block_bytes_, gathered_, slot(d - 1 - s, block_bytes_), s);
        case Phase::kGatherWait:
          c.step = s + 1;
          go(c, c.step < p_ - 1 ? Phase::kGatherSend : Phase::kCompute);
          return wait_op(s);
        case Phase::kCompute:
          go(c, Phase::kComputeWait);
          return compute_op(in_, blocks(d), d, s, block_bytes_);  // never empty: every query sees itself
        case Phase::kComputeWait:
          c.step = 0;
          go(c, p_ > 1 ? Phase::kReduceSend : Phase::kFree);
          return wait_op(s);
        case Phase::kReduceSend:  // reduce-scatter step s: part d - s - 1 to d + 1
          go(c, Phase::kReduceRecv);
          return send_op(peer(d, 1), tag_of(p_ + s, 1), chunk_bytes_, dkv_, slot(d - s - 1, chunk_bytes_), p_ + s);
        case Phase::kReduceRecv:
          go(c, Phase::kReduceWait);
          return recv_op(peer(d, -1), tag_of(p_ + s, 1), chunk_bytes_, recv_, 0, p_ + s);
        case Phase::kReduceWait:
          go(c, Phase::kAdd);
          return wait_op(p_ + s);
        case Phase::kAdd:
          go(c, Phase::kAddWait);
          return compute_op(in_, add_work(d, s), d, p_ + s, chunk_bytes_);
        case Phase::kAddWait:
          c.step = s + 1;
          go(c, c.step < p_ - 1 ? Phase::kReduceSend : Phase::kFree);
          return wait_op(p_ + s);
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

 private:
  long long peer(long long d, int direction) const { return (d + direction + p_) % p_; }
  double slot(long long part, double bytes) const { return bytes * static_cast<double>((part % p_ + p_) % p_); }
  long long all_rows() const { return geo_.kv_rows() * p_; }
  TensorRows kv_grad() const { return {Tensor::kGradKv, in_.scenario.shape.kv_heads}; }

  // The D pass, dK/dV zeroed, its own K/V into its gathered slot.
  ComputeWork prologue(long long d) const {
    const long long q = geo_.part_tokens(), kv = geo_.kv_rows();
    ComputeWork w;
    w.add(delta_block(in_, Slice{saved_.dout, 0, q}, Slice{saved_.out, 0, q}, Slice{delta_, 0, q},
                      in_.scenario.shape.q_heads));
    w.add(zero_block(Slice{dkv_, 0, all_rows()}, kv_grad(), chunk_bytes_ * static_cast<double>(p_)));
    w.add(copy_block(Slice{saved_.kv, 0, kv}, Slice{gathered_, kv * d, kv}, {Tensor::kKv, in_.scenario.shape.kv_heads}, block_bytes_));
    return w;
  }

  ComputeWork blocks(long long d) const {
    const BlockPlan plan = plan_gathered(geo_, in_.attention.causal, d, in_.documents);
    BackwardSpec c = backward_spec(in_, d, -1, block_bytes_);  // kv_part -1: the gathered sequence
    c.q = Slice{saved_.q}, c.dout = Slice{saved_.dout}, c.lse = Slice{saved_.lse}, c.delta = Slice{delta_};
    c.kv = Slice{gathered_};
    c.grad_q = Slice{dq_}, c.grad_q_fresh = true;
    c.grad_kv = Slice{dkv_};  // zeroed: every block adds
    return make_backward_work(in_, plan, c);
  }

  // Reduce-scatter step s: the chunk of part d - s - 2 received, added into ours.
  ComputeWork add_work(long long d, long long s) const {
    const long long kv = geo_.kv_rows(), part = ((d - s - 2) % p_ + p_) % p_;
    const double row = grad_kv_bytes(in_, 1, in_.scenario.shape.kv_heads);
    return one_block(add_block(Slice{recv_, 0, kv}, Slice{dkv_, part * kv, kv}, 1, kv_grad(), row, row));
  }

  PlanInput in_;
  long long p_;
  SequenceLayout geo_;
  double block_bytes_ = 0, chunk_bytes_ = 0;
  BufferTable table_;
  SavedBuffers saved_;
  BufferId delta_, gathered_, dq_, dkv_, recv_ = kNoBuffer;
};

}  // namespace

std::unique_ptr<Plan> make_all_gather_backward(const PlanInput& in) {
  return std::make_unique<AllGatherBackwardPlan>(in);
}

}  // namespace ringsim::schedules
