// Building blocks the schedules in sim/schedules/ share: input checks that
// name keys, buffer sizes, operation constructors, phase cursors, and the
// one function that turns planned blocks into a compute operation (its work
// and its cost). Not a schedule itself.
#pragma once
#include <cstdint>
#include <string>

#include "sim/schedule.hpp"

namespace ringsim::schedules {

// --- checks ---------------------------------------------------------------
[[noreturn]] void fail(const Scenario&, const KeyPlace&, const std::string& message);
// A schedule with no degrees of its own that holds a cached prefix cut over the ring.
void check_plain(const Scenario&, const Point&, const PointAttention&, const char* schedule);
// Cached tokens need an even cut over `parts` (and no documents); `why` says
// why a schedule cannot hold them at all (empty: it can).
void check_cache(const Scenario&, const Point&, const PointAttention&, long long parts, const std::string& why);
// A degree given on the point itself must be one the schedule uses.
void reject_point_degrees(const Scenario&, const PointAttention&, bool uses_ulysses, bool uses_inner,
                          const char* schedule);
// Heads split over `degree` devices (Ulysses): q heads divisible; kv heads
// divisible, or replicated when degree > kv heads (DeepSpeed) and divides it.
void check_head_split(const Scenario&, const KeyPlace& degree_at, long long degree);
// kv heads one device holds after a Ulysses split of the heads over `degree`.
int kv_heads_per_device(const AttentionShape&, long long degree);

// --- sizes (bytes) --------------------------------------------------------
double q_bytes(const AttentionShape&, long long rows, int q_heads);
double kv_bytes(const AttentionShape&, long long rows, int kv_heads);  // keys and values
double acc_bytes(long long rows, int q_heads, int head_dim);           // fp32 output
double stats_bytes(long long rows, int q_heads);                       // fp32 running max and sum
double workspace_bytes(long long rows, int q_heads, int head_dim);     // fp32 block output + lse
double partial_bytes(const AttentionShape&, long long rows, int q_heads);  // output in dtype + fp32 lse

// --- placements (sim/work.hpp) ----------------------------------------------
// All of `part`'s rows of a tensor, from `offset_bytes`: its query-side rows
// (Q, O, LSE, dO, dQ: the model's heads) or its key/value rows (K/V, dK/dV:
// the model's kv heads, cached rows first).
Placement part_rows(const PlanInput&, const SequenceLayout&, Placement::Tensor, BufferId, long long part,
                    double offset_bytes = 0);

// --- operations -----------------------------------------------------------
// Inline: every program's next() builds one per call, on the event engine's
// hot path (out of line they were a tenth of a ring's instructions).
inline Op alloc_op(BufferId b) {
  Op op;
  op.kind = Op::kAlloc;
  op.buffer = b;
  return op;
}
inline Op free_op(BufferId b) {
  Op op;
  op.kind = Op::kFree;
  op.buffer = b;
  return op;
}
inline Op send_op(long long peer, std::uint64_t tag, double bytes, BufferId buffer, double offset_bytes,
                  long long label) {
  Op op;
  op.kind = Op::kSend;
  op.peer = peer;
  op.tag = tag;
  op.bytes = bytes;
  op.buffer = buffer;
  op.offset_bytes = offset_bytes;
  op.label = label;
  return op;
}
inline Op recv_op(long long peer, std::uint64_t tag, double bytes, BufferId buffer, double offset_bytes,
                  long long label) {
  Op op = send_op(peer, tag, bytes, buffer, offset_bytes, label);
  op.kind = Op::kRecv;
  return op;
}
inline Op wait_op(long long label) {
  Op op;
  op.kind = Op::kWaitAll;
  op.label = label;
  return op;
}
inline std::uint64_t tag_of(long long step, int kind) { return (static_cast<std::uint64_t>(step) << 8) | kind; }

// Named phases in ProgramCursor::phase: phase * kPhaseStride + an index (a
// buffer, a peer) below kPhaseStride.
inline constexpr int kPhaseStride = 1 << 20;  // > 262,144 devices
template <typename Phase>
Phase phase_of(const ProgramCursor& c) { return static_cast<Phase>(c.phase / kPhaseStride); }
inline long long index_of(const ProgramCursor& c) { return c.phase % kPhaseStride; }
template <typename Phase>
void go(ProgramCursor& c, Phase p, long long index = 0) { c.phase = static_cast<int>(p) * kPhaseStride + static_cast<int>(index); }
// In phase `p`, walks buffer ids index_of(c) .. count-1, returning the
// ALLOC (or FREE) of the next one `keep` accepts; false once past the last.
template <typename Phase, typename Keep>
bool next_buffer(ProgramCursor& c, Phase p, BufferId count, bool free, Keep keep, Op& op) {
  for (long long i = index_of(c); i < count; ++i) {
    if (!keep(static_cast<BufferId>(i))) continue;
    go(c, p, i + 1);
    op = free ? free_op(static_cast<BufferId>(i)) : alloc_op(static_cast<BufferId>(i));
    return true;
  }
  return false;
}
inline bool every_buffer(BufferId) { return true; }

// --- compute --------------------------------------------------------------
// How planned blocks become one compute operation (ring_spec fills the
// common case: the model's heads, first block of step 0 writing).
struct ComputeSpec {
  long long device = 0, step = 0;
  const BlockPlan* plan = nullptr;
  const SequenceLayout* layout = nullptr;  // for q_part / kv_part positions
  long long q_part = 0, kv_part = 0;       // kv_part -1: the gathered sequence
  BufferId q_buffer = kNoBuffer, kv_buffer = kNoBuffer, out_buffer = kNoBuffer;
  long long out_row = 0;                   // row of `out` that q row 0 lands on
  bool first_writes = false;               // blocks write the `out` rows no earlier block of the op wrote
  bool all_write = false;                  // every block writes (a partial buffer per block)
  int head_first = 0, q_heads = 0, kv_heads = 0;  // this device's heads
  double message_bytes = 0;                // transfer the interference shares are looked up at
  bool documents = false;
};
ComputeWork make_work(const PlanInput&, const ComputeSpec&);
ComputeSpec ring_spec(const PlanInput&, long long device, long long step, const BlockPlan&, const SequenceLayout&,
                      long long q_part, long long kv_part, BufferId q, BufferId kv, BufferId out, double message_bytes);
// The three step classes of a ring (sim/ring_lowering.hpp), each costed from
// the work `work(device, step)` of a representative (device, step).
template <typename WorkFn>
RingLowering lower_ring(const PlanInput& in, long long ring, double bytes, WorkFn work);
// Merges of the partial outputs in `slots` slots of `rows` rows of `from`
// (`merges` of them hold one; the others were empty) into `into`.
Block merge_block(BufferId from, long long slots, long long merges, BufferId into, long long rows, int q_heads);
// The compute Op of `work` on (device, step): its duration through the
// CostContext and its interference shares (duration-weighted over blocks).
// masked_slot: an empty work still posts a 0 ns compute (ranks sharing a GPU).
// ring_step: a step of a ring of more than one rank whose message of
// message_bytes moves beside it: charged the profile's step overhead
// (CostContext::step_charges, one message, NCCL when the ring spans GPUs,
// else a copy; divided among the ranks sharing a card) and, where the profile
// has such samples, no interference share (the overhead, measured beside the
// transfer, holds the slowdown). Every compute with a block carries the rate
// factors of transfers beside its largest block.
Op compute_op(const PlanInput&, const ComputeWork&, long long device, long long step, double message_bytes,
              bool ring_step = true);
inline bool keeps_empty_slots(const PlanInput& in) { return in.ranks_per_gpu > 1; }

// Ring steps cost the same whenever the key part comes before, is, or
// follows the query part (every layout; without documents, with uniform
// costs): their compute Ops are built once per class and reused, so the event
// engine does not re-plan blocks at every (device, step).
struct CachedStep {
  Op op;
  bool empty = false;  // no block: skipped unless ranks share a GPU
};
class StepCache {
 public:
  // make(q_part, kv_part, step) -> the work of a step of that class; step 0
  // for the same-part class (a device's first step), 1 otherwise.
  template <typename Make>
  void build(const PlanInput& in, long long parts, double message_bytes, Make make, bool ring_step = true) {
    enabled_ = !in.documents && in.costs.uniform();
    if (!enabled_) return;
    const long long reps[3][2] = {{1, 0}, {0, 0}, {0, 1}};  // (q part, kv part): before, same, after
    for (int k = 0; k < 3; ++k) {
      if (k != 1 && parts < 2) continue;
      const long long step = k == 1 ? 0 : 1;
      const ComputeWork w = make(reps[k][0], reps[k][1], step);
      steps_[k].op = compute_op(in, w, reps[k][0], step, message_bytes, ring_step);
      steps_[k].empty = w.count == 0;
    }
  }
  const CachedStep* get(long long q_part, long long kv_part) const {
    if (!enabled_) return nullptr;
    return &steps_[q_part == kv_part ? 1 : (kv_part < q_part ? 0 : 2)];
  }

 private:
  bool enabled_ = false;
  CachedStep steps_[3];
};
// The compute of a ring step from the cache when it has it: false to skip
// (an empty step, ranks not sharing a GPU); op labelled with `step`.
inline bool cached_compute(const PlanInput& in, const CachedStep& cs, long long step, Op& op) {
  if (cs.empty && !keeps_empty_slots(in)) return false;
  op = cs.op;
  op.label = step;
  return true;
}

template <typename WorkFn>
RingLowering lower_ring(const PlanInput& in, long long ring, double bytes, WorkFn work) {
  RingLowering l;
  l.ring_size = ring;
  l.bytes = bytes;
  const auto cls = [&](long long d, long long s, TimeNs& ns, BlockShares& share, double& flops) {
    const ComputeWork w = work(d, s);
    const Op op = compute_op(in, w, d, s, bytes);
    ns = op.duration_ns;
    share = BlockShares{op.copy_share, op.link_share};
    flops = w.flops();
  };
  cls(0, 0, l.costs.diagonal_ns, l.costs.diagonal_share, l.flops_diagonal);
  if (ring > 1) {
    cls(1, 1, l.costs.lower_ns, l.costs.lower_share, l.flops_lower);  // 1 <= s <= d
    cls(0, 1, l.costs.upper_ns, l.costs.upper_share, l.flops_upper);  // s > d
  }
  l.costs.source = in.costs.source();
  return l;
}

}  // namespace ringsim::schedules
