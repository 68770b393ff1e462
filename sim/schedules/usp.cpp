// usp: Unified Sequence Parallelism (Fang & Zhao 2024), Ulysses degree U x
// ring degree R = P / U. Devices form R Ulysses groups of U; by default a
// group is U consecutive devices (inside a node, where all-to-all traffic
// stays on NVLink); attention.ulysses_placement: across-nodes strides them.
// The sequence is cut over the R ring parts by the layout; each part's rows
// are split evenly over its group's U devices.
//   1. all-to-all inside the group: device (g, u) sends member v its rows of
//      q for v's q_heads / U heads and of K/V for v's kv heads, and gets the
//      whole part g for its own heads (kv heads replicated past kv_heads, as
//      DeepSpeed-Ulysses does). Two concurrent messages per peer (q; K and V):
//      the DeepSpeed code issues three back-to-back all-to-alls (q, k, v),
//      which move the same bytes with latencies in series. Messages are
//      contiguous: q_chunk, kv_chunk and out_chunk are head-group major
//      ([group][rows][heads of the group], as DeepSpeed's reshape before
//      all_to_all_single packs them; the executor permutes to and from row
//      major), so a send names member v's group and a receive the sender's
//      rows of the part (member v: rows v * rows_per_member). The member's own
//      slice is copied locally (not a transfer).
//   2. pass-kv ring over the R devices holding the same heads (same u), on
//      part-sized blocks (sim/geometry.hpp, the layout over R parts).
//   3. all-to-all back: each member gets its rows of the output for all heads
//      (in the model's dtype): a send names member v's rows of out_heads, a
//      receive the sender's head group of out_chunk.
// Each all-to-all posts all U-1 sends and receives before one WAIT_ALL, so the
// flow model shares the ports among them (NCCL's grouped send/recv, which is
// how all_to_all runs on NCCL). ulysses is U = P (no ring); U = 1 is pass-kv.
// No exact fast path (the all-to-alls contend): the event engine runs it.
#include <fmt/format.h>

#include <algorithm>

#include "sim/schedules/usp.hpp"

namespace ringsim::schedules {
namespace {

enum class Phase { kAlloc, kInSend, kInRecv, kInWait, kSend, kRecv, kCompute, kWait, kOutSend, kOutRecv, kOutWait,
                   kFree, kDone };

class UspPlan final : public Plan, public ScheduleProgram {
 public:
  UspPlan(const PlanInput& in, long long ulysses_degree)
      : in_(in), p_(in.point.ring_size), u_(ulysses_degree), r_(p_ / u_), at_(usp_placement(in, ulysses_degree)),
        geo_(in.attention.layout, in.point.tokens, r_, 0) {
    const AttentionShape& m = in.scenario.shape;
    heads_ = static_cast<int>(m.q_heads / u_);
    kv_heads_ = kv_heads_per_device(m, u_);
    const long long part = geo_.part_tokens(), rows = part / u_;
    ring_bytes_ = kv_bytes(m, part, kv_heads_);
    q_in_ = q_bytes(m, rows, heads_);
    kv_in_ = kv_bytes(m, rows, kv_heads_);
    out_bytes_ = q_bytes(m, rows, heads_);
    using F = BufferFormat;
    table_.add("q_chunk", q_bytes(m, rows, m.q_heads), F::kQueries);
    table_.add("kv_chunk", kv_bytes(m, rows, m.kv_heads), F::kKeysValues);
    q_heads_buf_ = table_.add("q_heads", q_bytes(m, part, heads_), F::kQueries);
    kv_heads_buf_ = table_.add("kv_heads", ring_bytes_, F::kKeysValues);
    acc_ = table_.add("out_acc", acc_bytes(part, heads_, m.head_dim), F::kAccumulator);
    table_.add("softmax_stats", stats_bytes(part, heads_));
    table_.add("workspace", workspace_bytes(part, heads_, m.head_dim));
    out_heads_ = table_.add("out_heads", q_bytes(m, part, heads_), F::kOutput);  // the accumulator, cast
    out_chunk_ = table_.add("out_chunk", q_bytes(m, rows, m.q_heads), F::kOutput);
    if (r_ > 1) {
      recv_[0] = table_.add("recv_kv0", ring_bytes_, F::kKeysValues);
      recv_[1] = table_.add("recv_kv1", ring_bytes_, F::kKeysValues);
    }
    steps_.build(in, r_, ring_bytes_, [this](long long qp, long long kp, long long k) {
      return part_work(device(qp, 0), k, kp);
    }, r_ > 1);  // Ulysses alone (one ring part) has no ring steps
  }

  const ScheduleProgram& program() const override { return *this; }
  const SequenceLayout& sequence() const override { return geo_; }
  const BufferTable* buffer_table() const override { return &table_; }
  std::uint64_t waits() const override {
    return static_cast<std::uint64_t>(p_) * static_cast<std::uint64_t>(r_ + (u_ > 1 ? 2 : 0));
  }
  std::string detail() const override {
    const char* across = in_.attention.ulysses_placement == UlyssesPlacement::kAcrossNodes ? " across nodes" : "";
    if (r_ == 1) return fmt::format("degree {}", u_);
    return fmt::format("ulysses {}{} x ring {}", u_, across, r_);
  }

  ComputeWork work(long long d, const ProgramCursor& after) const override { return step_work(d, after.step - 1); }

  // Member u of group g holds rows [u r, (u+1) r) of part g (r = rows per
  // member): in q_chunk / kv_chunk for every head group (head-group major, as
  // the first all-to-all sends them), and its own slice of q_heads / kv_heads
  // (copied locally, not a transfer). With U = 1 both are the whole part.
  std::vector<Placement> inputs(long long d) const override {
    const long long g = group(d), u = member(d), rows = geo_.part_tokens() / u_;
    const auto at = [&](Placement::Tensor t, BufferId b, double offset, long long head, long long heads) {
      Placement p;
      p.tensor = t;
      p.buffer = b;
      p.offset_bytes = offset;
      p.part = g;
      p.row = u * rows;
      p.rows = rows;
      p.head_first = static_cast<std::int32_t>(head);
      p.heads = static_cast<std::int32_t>(heads);
      return p;
    };
    std::vector<Placement> out;
    for (long long v = 0; v < u_; ++v) out.push_back(at(Placement::kQueries, kQChunk, q_in_ * v, v * heads_, heads_));
    for (long long w = 0; w < in_.scenario.shape.kv_heads / kv_heads_; ++w)
      out.push_back(at(Placement::kKeysValues, kKvChunk, kv_in_ * w, w * kv_heads_, kv_heads_));
    out.push_back(at(Placement::kQueries, q_heads_buf_, q_in_ * u, u * heads_, heads_));
    out.push_back(at(Placement::kKeysValues, kv_heads_buf_, kv_in_ * u, kv_head_of(u), kv_heads_));
    return out;
  }
  // Member u ends with its rows of the output for every head group: out_chunk
  // slot v from member v, its own slot in out_heads (the local copy the
  // program leaves out). With U = 1 the accumulator is the output.
  std::vector<Placement> outputs(long long d) const override {
    const long long g = group(d), u = member(d), rows = geo_.part_tokens() / u_;
    std::vector<Placement> out;
    for (long long v = 0; v < u_; ++v) {
      Placement p;
      p.tensor = Placement::kOutput;
      p.buffer = u_ == 1 ? acc_ : v == u ? out_heads_ : out_chunk_;
      p.offset_bytes = out_bytes_ * static_cast<double>(v);
      p.part = g;
      p.row = u * rows;
      p.rows = rows;
      p.head_first = static_cast<std::int32_t>(v * heads_);
      p.heads = heads_;
      if (u_ == 1) p.offset_bytes = 0;
      out.push_back(p);
    }
    return out;
  }

  Op next(long long d, ProgramCursor& c) const override {
    const long long g = group(d), u = member(d);
    for (;;) {
      const long long s = c.step, i = index_of(c);
      switch (phase_of<Phase>(c)) {
        case Phase::kAlloc: {
          Op op;
          if (next_buffer(c, Phase::kAlloc, table_.size(), false, every_buffer, op)) return op;
          c.step = 1;
          go(c, u_ > 1 ? Phase::kInSend : Phase::kSend);
          continue;
        }
        case Phase::kInSend: {  // index 2k: q, 2k + 1: K/V, for member u + 1 + k
          if (i >= 2 * (u_ - 1)) { go(c, Phase::kInRecv); continue; }
          go(c, Phase::kInSend, i + 1);
          const long long v = (u + 1 + i / 2) % u_;
          return all_to_all(i % 2 == 0 ? send_op(device(g, v), tag_of(0, 2), q_in_, kQChunk, q_in_ * static_cast<double>(v), 0)
                                       : send_op(device(g, v), tag_of(0, 4), kv_in_, kKvChunk,
                                                 kv_in_ * static_cast<double>(kv_head_of(v) / kv_heads_), 0));
        }
        case Phase::kInRecv: {  // from member u - 1 - k: its rows of the part, our heads
          if (i >= 2 * (u_ - 1)) { go(c, Phase::kInWait); continue; }
          go(c, Phase::kInRecv, i + 1);
          const long long v = (u - 1 - i / 2 + u_) % u_;
          return i % 2 == 0 ? recv_op(device(g, v), tag_of(0, 2), q_in_, q_heads_buf_, q_in_ * static_cast<double>(v), 0)
                            : recv_op(device(g, v), tag_of(0, 4), kv_in_, kv_heads_buf_, kv_in_ * static_cast<double>(v), 0);
        }
        case Phase::kInWait:
          go(c, Phase::kSend);
          return wait_op(0);
        case Phase::kSend:  // ring step k = s - 1
          go(c, Phase::kRecv);
          if (s - 1 < r_ - 1) return send_op(device((g + 1) % r_, u), tag_of(s, 0), ring_bytes_, held(s - 1), 0, s);
          continue;
        case Phase::kRecv:
          go(c, Phase::kCompute);
          if (s - 1 < r_ - 1) return recv_op(device((g - 1 + r_) % r_, u), tag_of(s, 0), ring_bytes_, recv_[(s - 1) % 2], 0, s);
          continue;
        case Phase::kCompute: {
          go(c, Phase::kWait);
          if (const CachedStep* cs = steps_.get(g, source(d, s - 1))) {
            Op op;
            if (cached_compute(in_, *cs, s, op)) return op;
            continue;
          }
          const ComputeWork w = step_work(d, s - 1);
          if (w.count == 0 && !keeps_empty_slots(in_)) continue;
          return compute_op(in_, w, d, s, ring_bytes_, r_ > 1);
        }
        case Phase::kWait:
          c.step = s + 1;
          go(c, s < r_ ? Phase::kSend : u_ > 1 ? Phase::kOutSend : Phase::kFree);
          return wait_op(s);
        case Phase::kOutSend: {  // member v's rows of the output, our heads
          if (i >= u_ - 1) { go(c, Phase::kOutRecv); continue; }
          go(c, Phase::kOutSend, i + 1);
          const long long v = (u + 1 + i) % u_;
          return all_to_all(send_op(device(g, v), tag_of(s, 3), out_bytes_, out_heads_, out_bytes_ * static_cast<double>(v), s));
        }
        case Phase::kOutRecv: {  // our rows, member v's heads
          if (i >= u_ - 1) { go(c, Phase::kOutWait); continue; }
          go(c, Phase::kOutRecv, i + 1);
          const long long v = (u - 1 - i + u_) % u_;
          return recv_op(device(g, v), tag_of(s, 3), out_bytes_, out_chunk_, out_bytes_ * static_cast<double>(v), s);
        }
        case Phase::kOutWait:
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
  static constexpr BufferId kQChunk = 0, kKvChunk = 1;  // what the first all-to-all sends
  long long group(long long d) const { return at_.group(d); }
  long long member(long long d) const { return at_.member(d); }
  long long device(long long g, long long u) const { return at_.device(g, u); }
  long long kv_head_of(long long v) const { return at_.kv_head_of(v); }
  // A message of one of the group's all-to-alls (u_ - 1 peers each).
  Op all_to_all(Op op) const {
    op.all_to_all_peers = static_cast<std::uint16_t>(std::min<long long>(u_ - 1, 0xffff));
    return op;
  }
  BufferId held(long long k) const { return k == 0 ? kv_heads_buf_ : recv_[(k - 1) % 2]; }

  // Ring step k of device d: its part's queries (its heads) against part g - k.
  long long source(long long d, long long k) const { return ((group(d) - k) % r_ + r_) % r_; }
  ComputeWork step_work(long long d, long long k) const { return part_work(d, k, source(d, k)); }
  ComputeWork part_work(long long d, long long k, long long j) const {
    const long long g = group(d);
    const BlockPlan plan = plan_blocks(geo_, in_.attention.causal, g, j, in_.documents);
    ComputeSpec c = ring_spec(in_, d, k, plan, geo_, g, j, q_heads_buf_, held(k), acc_, ring_bytes_);
    c.head_first = static_cast<int>(member(d) * heads_);
    c.q_heads = heads_;
    c.kv_heads = kv_heads_;
    return make_work(in_, c);
  }

  PlanInput in_;
  long long p_, u_, r_;
  UspPlacement at_;
  SequenceLayout geo_;
  int heads_ = 0, kv_heads_ = 0;
  double ring_bytes_ = 0, q_in_ = 0, kv_in_ = 0, out_bytes_ = 0;
  BufferTable table_;
  BufferId q_heads_buf_, kv_heads_buf_, acc_, out_heads_, out_chunk_, recv_[2] = {kNoBuffer, kNoBuffer};
  StepCache steps_;
};

long long default_degree(const Scenario& s, const Point& p, const PointAttention& a) {
  return a.ulysses_degree > 0 ? a.ulysses_degree : std::min<long long>(s.gpus_per_node, p.ring_size);
}

class Usp final : public Schedule {
 public:
  void check(const Scenario& s, const Point& p, const PointAttention& a) const override {
    reject_point_degrees(s, a, true, false, "usp");
    check_usp(s, p, a, default_degree(s, p, a));
  }
  std::unique_ptr<Plan> plan(const PlanInput& in) const override {
    return make_usp_plan(in, default_degree(in.scenario, in.point, in.attention));
  }
};

}  // namespace

UspPlacement usp_placement(const PlanInput& in, long long ulysses_degree) {
  UspPlacement at;
  at.p = in.point.ring_size;
  at.u = ulysses_degree;
  at.r = at.p / at.u;
  at.inside = in.attention.ulysses_placement == UlyssesPlacement::kInsideNode;
  at.kv_heads = in.scenario.shape.kv_heads;
  at.kv_heads_per_device = kv_heads_per_device(in.scenario.shape, ulysses_degree);
  return at;
}

std::unique_ptr<Plan> make_usp_plan(const PlanInput& in, long long ulysses_degree) {
  if (in.pass == Pass::kBackward) return make_usp_backward(in, ulysses_degree);
  return std::make_unique<UspPlan>(in, ulysses_degree);
}

void check_usp(const Scenario& s, const Point& p, const PointAttention& a, long long degree) {
  const bool given = a.ulysses_degree > 0;
  const KeyPlace& at = given ? a.ulysses_at : a.ring_at;
  if (p.ring_size % degree != 0)
    fail(s, at, fmt::format("the Ulysses degree {}{} does not divide ring_size {}", degree,
                            given ? "" : " (default: gpus_per_node, at most ring_size)", p.ring_size));
  check_head_split(s, at, degree);
  check_cache(s, p, a, p.ring_size,
              "its all-to-all re-shards the new tokens by heads; a cache sharded by sequence would have to be "
              "re-sharded too (not modelled)");
}

RINGSIM_REGISTER_SCHEDULE(Usp, "usp", "Ulysses all-to-all inside groups x pass-kv ring across them (USP)");

}  // namespace ringsim::schedules
