// The backward of usp and ulysses (ulysses: one ring part): the forward's
// all-to-alls in reverse around a pass-kv backward ring of the Ulysses
// groups (sim/schedules/grad_ring.hpp), as DeepSpeed-Ulysses' autograd runs
// it (the backward of an all-to-all is the opposite all-to-all).
//   saved      the head-sharded tensors the local attention read and wrote
//              (saved_q_heads, saved_kv_heads, saved_out_heads,
//              saved_lse_heads); the incoming dO arrives sequence-sharded
//              (grad_out: the member's rows, every head, head-group major).
//   1. all-to-all, sequence -> heads: member v gets our rows of dO for its
//      heads (grad_out_heads: the part's rows for our heads, by member).
//   2. the D pass on our heads; the backward ring over the R devices of our
//      member index: K/V and their dK/dV accumulators travel, dQ adds up
//      in dq_acc (fp32); our part's dK/dV come home in grad_kv_heads.
//   3. (grad_dtype bf16) dq_acc converted into grad_q_heads;
//      all-to-all, heads -> sequence: member v gets its rows of dQ for our
//      heads (into grad_q, head-group major) and of dK/dV for our kv heads
//      (into grad_kv; with kv heads replicated past kv_heads, into recv_dkv,
//      one slot per member as [replica][kv head][rows], then summed into
//      grad_kv: the backward of DeepSpeed's repeat). Two messages per peer.
// The member's own slices are copied locally, not transferred (as in the
// forward; not charged), but for the replica sum, which copies our own
// dK/dV rows into our recv_dkv slot as an op (charged). U = 1 (usp on one device per group) has no
// all-to-all. Event engine only (the all-to-alls contend).
#include <fmt/format.h>

#include <optional>

#include "sim/schedules/grad_ring.hpp"
#include "sim/schedules/usp.hpp"

namespace ringsim::schedules {
namespace {

enum class Phase { kAlloc, kInSend, kInRecv, kInWait, kPrologue, kPrologueWait, kRing, kConvert, kConvertWait,
                   kOutSend, kOutRecv, kOutWait, kAdd, kAddWait, kFree, kDone };

class UspBackwardPlan final : public Plan, public ScheduleProgram, private GradRingHost {
 public:
  UspBackwardPlan(const PlanInput& in, long long degree)
      : in_(in), at_(usp_placement(in, degree)), geo_(in.attention.layout, in.point.tokens, at_.r, 0) {
    const AttentionShape& m = in.scenario.shape;
    heads_ = static_cast<int>(m.q_heads / at_.u);
    kvh_ = at_.kv_heads_per_device;
    part_ = geo_.part_tokens();
    rows_ = part_ / at_.u;
    rep_ = at_.u > m.kv_heads ? at_.u / m.kv_heads : 1;
    saved_ = add_saved(table_, m, part_, part_, heads_, kvh_, "_heads");  // its grad_out_heads: dO on our heads
    using F = BufferFormat;
    grad_out_ = table_.add("grad_out", q_bytes(m, rows_, m.q_heads), F::kQueries);
    delta_ = table_.add("delta", lse_bytes(part_, heads_), F::kRowStats);
    dq_acc_ = table_.add("dq_acc", fp32_q_bytes(part_, heads_, m.head_dim), F::kGradQueriesFp32);
    GradRingSpec r;
    r.ring = at_.r;
    r.first_step = 2;
    r.phase = static_cast<int>(Phase::kRing);
    r.own = saved_.kv;
    r.inputs_bytes = kv_bytes(m, part_, kvh_);
    r.acc_bytes = grad_kv_bytes(in, part_, kvh_);
    r.acc_row_bytes = grad_kv_bytes(in, 1, kvh_);
    r.block_row_bytes = fp32_kv_bytes(1, kvh_, m.head_dim);
    if (at_.r > 1) {
      r.slot[0] = table_.add("recv_kv_grad0", r.inputs_bytes + r.acc_bytes, F::kBundle);
      r.slot[1] = table_.add("recv_kv_grad1", r.inputs_bytes + r.acc_bytes, F::kBundle);
      r.block = table_.add("dkv_block", r.block_row_bytes * static_cast<double>(part_), F::kGradKeysValuesFp32);
    }
    r.home = table_.add("grad_kv_heads", r.acc_bytes, F::kGradKeysValues);
    dq_msg_ = grad_q_bytes(in, rows_, heads_);
    dkv_msg_ = grad_kv_bytes(in, rows_, kvh_);
    if (at_.u > 1 && converts()) dq_send_ = table_.add("grad_q_heads", grad_q_bytes(in, part_, heads_), F::kGradQueries);
    grad_q_ = table_.add("grad_q", grad_q_bytes(in, rows_, m.q_heads), F::kGradQueries);
    grad_kv_ = table_.add("grad_kv", grad_kv_bytes(in, rows_, m.kv_heads), F::kGradKeysValues);
    if (at_.u > 1 && rep_ > 1)
      recv_dkv_ = table_.add("recv_dkv", dkv_msg_ * static_cast<double>(at_.u), F::kGradKeysValues);
    ring_.emplace(in_, r, static_cast<const GradRingHost&>(*this));
  }

  const ScheduleProgram& program() const override { return *this; }
  const SequenceLayout& sequence() const override { return geo_; }
  const BufferTable* buffer_table() const override { return &table_; }
  std::uint64_t waits() const override {
    const std::uint64_t a2a = at_.u > 1 ? 2 + (converts() ? 1 : 0) + (rep_ > 1 ? 1 : 0) : 0;
    return static_cast<std::uint64_t>(at_.p) * (1 + ring_->waits() + a2a);
  }
  std::string detail() const override {
    if (at_.r == 1) return fmt::format("degree {}", at_.u);
    return fmt::format("ulysses {}{} x ring {}", at_.u, at_.inside ? "" : " across nodes", at_.r);
  }

  std::vector<Placement> inputs(long long d) const override;
  std::vector<Placement> outputs(long long d) const override;

  ComputeWork work(long long d, const ProgramCursor& after) const override {
    switch (phase_of<Phase>(after)) {
      case Phase::kPrologueWait: return prologue();
      case Phase::kConvertWait: return convert();
      case Phase::kAddWait: return sum_replicas(d);
      default: return ring_->work(d, after);
    }
  }

  Op next(long long d, ProgramCursor& c) const override {
    const long long g = at_.group(d), u = at_.member(d), pairs = 2 * (at_.u - 1);
    for (;;) {
      const long long i = index_of(c);
      Op op;
      switch (phase_of<Phase>(c)) {
        case Phase::kAlloc:
          if (next_buffer(c, Phase::kAlloc, table_.size(), false, every_buffer, op)) return op;
          go(c, at_.u > 1 ? Phase::kInSend : Phase::kPrologue);
          continue;
        case Phase::kInSend: {  // our rows of dO for member u + 1 + i's heads
          if (i >= at_.u - 1) { go(c, Phase::kInRecv); continue; }
          go(c, Phase::kInSend, i + 1);
          const long long v = (u + 1 + i) % at_.u;
          return send_op(at_.device(g, v), tag_of(0, 2), q_in(), grad_out_, q_in() * static_cast<double>(v), 0);
        }
        case Phase::kInRecv: {  // member u - 1 - i's rows of dO for our heads
          if (i >= at_.u - 1) { go(c, Phase::kInWait); continue; }
          go(c, Phase::kInRecv, i + 1);
          const long long v = (u - 1 - i + at_.u) % at_.u;
          return recv_op(at_.device(g, v), tag_of(0, 2), q_in(), saved_.dout, q_in() * static_cast<double>(v), 0);
        }
        case Phase::kInWait:
          go(c, Phase::kPrologue);
          return wait_op(0);
        case Phase::kPrologue:
          c.step = 1;
          go(c, Phase::kPrologueWait);
          return compute_op(in_, prologue(), d, 1, 0);
        case Phase::kPrologueWait:
          ring_->enter(c);
          return wait_op(1);
        case Phase::kRing:
          if (ring_->next(d, c, op)) return op;
          go(c, at_.u == 1 ? Phase::kFree : converts() ? Phase::kConvert : Phase::kOutSend);
          continue;
        case Phase::kConvert:
          go(c, Phase::kConvertWait);
          return compute_op(in_, convert(), d, c.step, 0);
        case Phase::kConvertWait:
          go(c, Phase::kOutSend);
          return wait_op(c.step);
        case Phase::kOutSend: {  // index 2k: dQ, 2k + 1: dK/dV, of member u + 1 + k's rows
          if (i >= pairs) { go(c, Phase::kOutRecv); continue; }
          go(c, Phase::kOutSend, i + 1);
          const long long v = (u + 1 + i / 2) % at_.u;
          return i % 2 == 0 ? send_op(at_.device(g, v), tag_of(c.step, 6), dq_msg_, dq_source(), dq_msg_ * v, c.step)
                            : send_op(at_.device(g, v), tag_of(c.step, 7), dkv_msg_, ring_->spec().home,
                                      dkv_msg_ * static_cast<double>(v), c.step);
        }
        case Phase::kOutRecv: {  // our rows, member u - 1 - k's heads
          if (i >= pairs) { go(c, Phase::kOutWait); continue; }
          go(c, Phase::kOutRecv, i + 1);
          const long long v = (u - 1 - i / 2 + at_.u) % at_.u;
          return i % 2 == 0 ? recv_op(at_.device(g, v), tag_of(c.step, 6), dq_msg_, grad_q_, dq_msg_ * v, c.step)
                            : recv_op(at_.device(g, v), tag_of(c.step, 7), dkv_msg_, dkv_target(),
                                      dkv_msg_ * dkv_slot(v), c.step);
        }
        case Phase::kOutWait:
          go(c, rep_ > 1 ? Phase::kAdd : Phase::kFree);
          return wait_op(c.step);
        case Phase::kAdd:
          go(c, Phase::kAddWait);
          return compute_op(in_, sum_replicas(d), d, c.step, 0);
        case Phase::kAddWait:
          go(c, Phase::kFree);
          return wait_op(c.step);
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
  // Rows [u r, (u+1) r) of the member's part (r = rows per member), heads
  // [head, head + heads), from byte `offset` of buffer b.
  Placement member_rows(long long d, Placement::Tensor t, BufferId b, double offset, long long head, int heads) const;
  bool converts() const { return in_.attention.grad_dtype != DType::kFp32; }
  double q_in() const { return q_bytes(in_.scenario.shape, rows_, heads_); }
  BufferId dq_source() const { return converts() ? dq_send_ : dq_acc_; }
  BufferId dkv_target() const { return rep_ > 1 ? recv_dkv_ : grad_kv_; }
  // Where member v's dK/dV land: its kv head group of grad_kv, or (replicas)
  // slot [replica][kv head] of recv_dkv.
  double dkv_slot(long long v) const {
    const long long head = at_.kv_head_of(v);
    return static_cast<double>(rep_ > 1 ? (v % rep_) * at_.kv_heads + head : head / kvh_);
  }

  ComputeWork prologue() const {
    return one_block(delta_block(in_, Slice{saved_.dout, 0, part_}, Slice{saved_.out, 0, part_},
                                 Slice{delta_, 0, part_}, heads_));
  }
  ComputeWork convert() const {
    Block b = copy_block(Slice{dq_acc_, 0, part_}, Slice{dq_send_, 0, part_}, {Tensor::kGradQ, heads_}, 0);
    b.stream_bytes = fp32_q_bytes(part_, heads_, in_.scenario.shape.head_dim) + grad_q_bytes(in_, part_, heads_);
    return one_block(b);
  }
  // Our own rows of our kv head into our recv_dkv slot (the one no peer
  // sends), then the replicas summed. grad_kv is [kv head][our rows] of one
  // kv head each (the member slots' layout), so the sum runs over
  // kv_heads x rows rows of one head.
  ComputeWork sum_replicas(long long d) const {
    const double row = grad_kv_bytes(in_, 1, kvh_);
    const long long rows = rows_ * in_.scenario.shape.kv_heads, u = at_.member(d);
    ComputeWork w;
    w.add(copy_block(Slice{ring_->spec().home, u * rows_, rows_},
                     Slice{recv_dkv_, static_cast<long long>(dkv_slot(u)) * rows_, rows_}, {Tensor::kGradKv, kvh_}, dkv_msg_));
    w.add(add_block(Slice{recv_dkv_, 0, rows}, Slice{grad_kv_, 0, rows}, rep_, {Tensor::kGradKv, kvh_}, row, row,
                    OutputMode::kWrite));
    return w;
  }

  long long ring_peer(long long d, int direction) const override {
    return at_.device((at_.group(d) + direction + at_.r) % at_.r, at_.member(d));
  }
  ComputeWork ring_blocks(long long d, long long s, const Slice& inputs, const Slice& acc) const override {
    const long long g = at_.group(d), j = ((g - s) % at_.r + at_.r) % at_.r;
    const BlockPlan plan = plan_blocks(geo_, in_.attention.causal, g, j, in_.documents);
    BackwardSpec c = backward_spec(in_, g, j, ring_->spec().inputs_bytes);
    c.q = Slice{saved_.q}, c.dout = Slice{saved_.dout}, c.lse = Slice{saved_.lse}, c.delta = Slice{delta_};
    c.kv = inputs;
    c.grad_q = Slice{dq_acc_}, c.grad_q_fresh = s == 0;
    c.grad_kv = acc, c.grad_kv_fresh = true;
    c.head_first = static_cast<int>(at_.member(d) * heads_);
    c.q_heads = heads_;
    c.kv_heads = kvh_;
    return make_backward_work(in_, plan, c);
  }

  PlanInput in_;
  UspPlacement at_;
  SequenceLayout geo_;
  int heads_ = 0, kvh_ = 0;
  long long part_ = 0, rows_ = 0, rep_ = 1;
  double dq_msg_ = 0, dkv_msg_ = 0;
  BufferTable table_;
  SavedBuffers saved_;
  BufferId grad_out_, delta_, dq_acc_, dq_send_ = kNoBuffer, grad_q_, grad_kv_, recv_dkv_ = kNoBuffer;
  std::optional<GradRing> ring_;
};

Placement UspBackwardPlan::member_rows(long long d, Placement::Tensor t, BufferId b, double offset, long long head,
                                       int heads) const {
  Placement p;
  p.tensor = t;
  p.buffer = b;
  p.offset_bytes = offset;
  p.part = at_.group(d);
  p.row = at_.member(d) * rows_;
  p.rows = rows_;
  p.head_first = static_cast<std::int32_t>(head);
  p.heads = heads;
  return p;
}

// The saved head-sharded tensors: the whole part, our heads. dO arrives
// sequence-sharded in grad_out (slot v: our rows of member v's heads),
// and our own slot sits in grad_out_heads (the local copy the program
// leaves out, as in the forward). U = 1: all of it in grad_out_heads.
std::vector<Placement> UspBackwardPlan::inputs(long long d) const {
  const long long u = at_.member(d);
  std::vector<Placement> out = saved_inputs(in_, geo_, saved_, at_.group(d));
  for (Placement& p : out) {
    p.head_first = static_cast<std::int32_t>(Placement::kv_rows(p.tensor) ? at_.kv_head_of(u) : u * heads_);
    p.heads = Placement::kv_rows(p.tensor) ? kvh_ : heads_;
  }
  if (at_.u == 1) return out;
  out.pop_back();  // dO: by member slots below
  for (long long v = 0; v < at_.u; ++v)
    out.push_back(member_rows(d, Placement::kGradOutput, grad_out_, q_in() * static_cast<double>(v), v * heads_, heads_));
  out.push_back(member_rows(d, Placement::kGradOutput, saved_.dout, q_in() * static_cast<double>(u), u * heads_, heads_));
  return out;
}

// Our rows of dQ and dK/dV for every head: slot v of grad_q and member v's
// kv head group of grad_kv from member v; our own slots where our ring left
// them (dq_acc or its grad_dtype copy, grad_kv_heads). U = 1: the ring's
// own buffers, the whole part. With kv heads replicated (U > kv_heads),
// grad_kv is the sum over recv_dkv's slots, our own slot copied in by the
// same compute (charged: a copy of our rows).
std::vector<Placement> UspBackwardPlan::outputs(long long d) const {
  const long long g = at_.group(d), u = at_.member(d);
  const BufferId home = ring_->spec().home;
  if (at_.u == 1)
    return {part_rows(in_, geo_, Placement::kGradQueries, dq_acc_, g), part_rows(in_, geo_, Placement::kGradKeysValues, home, g)};
  std::vector<Placement> out;
  for (long long v = 0; v < at_.u; ++v)
    out.push_back(member_rows(d, Placement::kGradQueries, v == u ? dq_source() : grad_q_, dq_msg_ * static_cast<double>(v),
                              v * heads_, heads_));
  if (rep_ > 1) {  // one kv head per member: grad_kv is [kv head][our rows]
    for (long long k = 0; k < in_.scenario.shape.kv_heads; ++k)
      out.push_back(member_rows(d, Placement::kGradKeysValues, grad_kv_, dkv_msg_ * static_cast<double>(k), k, kvh_));
    return out;
  }
  for (long long v = 0; v < at_.u; ++v) {
    const double offset = dkv_msg_ * (v == u ? static_cast<double>(u) : dkv_slot(v));
    out.push_back(member_rows(d, Placement::kGradKeysValues, v == u ? home : grad_kv_, offset, at_.kv_head_of(v), kvh_));
  }
  return out;
}

}  // namespace

std::unique_ptr<Plan> make_usp_backward(const PlanInput& in, long long ulysses_degree) {
  return std::make_unique<UspBackwardPlan>(in, ulysses_degree);
}

}  // namespace ringsim::schedules
