// Shared building blocks of the schedules; see sim/schedules/common.hpp.
#include "sim/schedules/common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace ringsim::schedules {

void fail(const Scenario& s, const KeyPlace& at, const std::string& message) {
  throw InputError(s.path, at.line, at.key, message);
}

void check_cache(const Scenario& s, const Point& p, const PointAttention& a, long long parts, const std::string& why) {
  if (a.cached_tokens == 0) return;
  if (!why.empty()) fail(s, a.cached_at, fmt::format("schedule {} cannot hold cached tokens: {}", a.schedule, why));
  if (a.documents) fail(s, a.documents_at, "packed documents with a cached prefix are not modelled");
  if (a.cached_tokens % parts != 0)
    fail(s, a.cached_at, fmt::format("cached_tokens {} is not divisible by {} (the cache is cut evenly over the "
                                     "ring's devices)", a.cached_tokens, parts));
  (void)p;
}

void check_plain(const Scenario& s, const Point& p, const PointAttention& a, const char* schedule) {
  reject_point_degrees(s, a, false, false, schedule);
  check_cache(s, p, a, p.ring_size, "");
}

void reject_point_degrees(const Scenario& s, const PointAttention& a, bool uses_ulysses, bool uses_inner,
                          const char* schedule) {
  if (a.ulysses_on_point && !uses_ulysses)
    fail(s, a.ulysses_at, fmt::format("schedule {} has no Ulysses degree (usp and ulysses do)", schedule));
  if (a.inner_on_point && !uses_inner)
    fail(s, a.inner_at, fmt::format("schedule {} has no inner ring (double-ring does)", schedule));
}

int kv_heads_per_device(const AttentionShape& shape, long long degree) {
  return shape.kv_heads >= degree ? static_cast<int>(shape.kv_heads / degree) : 1;
}

void check_head_split(const Scenario& s, const KeyPlace& at, long long degree) {
  const AttentionShape& m = s.shape;
  if (m.q_heads % degree != 0)
    fail(s, at, fmt::format("q_heads {} is not divisible by the Ulysses degree {} (each device computes "
                                      "q_heads / degree heads)", m.q_heads, degree));
  const bool splits = m.kv_heads >= degree ? m.kv_heads % degree == 0 : degree % m.kv_heads == 0;
  if (!splits)
    fail(s, at, fmt::format("kv_heads {} and the Ulysses degree {} do not divide one another (kv heads "
                                      "are split, or replicated when the degree is larger)", m.kv_heads, degree));
}

double q_bytes(const AttentionShape& s, long long rows, int q_heads) {
  return static_cast<double>(rows) * q_heads * s.head_dim * dtype_bytes(s.dtype);
}
double kv_bytes(const AttentionShape& s, long long rows, int kv_heads) {
  return 2.0 * static_cast<double>(rows) * kv_heads * s.head_dim * dtype_bytes(s.dtype);
}
double acc_bytes(long long rows, int q_heads, int head_dim) { return static_cast<double>(rows) * q_heads * head_dim * 4.0; }
double stats_bytes(long long rows, int q_heads) { return static_cast<double>(rows) * q_heads * 4.0 * 2.0; }
double workspace_bytes(long long rows, int q_heads, int head_dim) {
  return static_cast<double>(rows) * q_heads * (head_dim + 1.0) * 4.0;
}
double partial_bytes(const AttentionShape& s, long long rows, int q_heads) {
  return static_cast<double>(rows) * q_heads * (static_cast<double>(s.head_dim) * dtype_bytes(s.dtype) + 4.0);
}

Placement part_rows(const PlanInput& in, const SequenceLayout& g, Placement::Tensor t, BufferId buffer, long long part,
                    double offset_bytes) {
  Placement p;
  p.tensor = t;
  p.buffer = buffer;
  p.offset_bytes = offset_bytes;
  p.part = part;
  p.rows = Placement::kv_rows(t) ? g.kv_rows() : g.part_tokens();
  p.heads = static_cast<std::int32_t>(Placement::kv_rows(t) ? in.scenario.shape.kv_heads : in.scenario.shape.q_heads);
  return p;
}

ComputeWork make_work(const PlanInput& in, const ComputeSpec& c) {
  ComputeWork w;
  const AttentionShape& m = in.scenario.shape;
  // With first_writes, a block writes the rows no earlier block of this
  // operation wrote (blocks are whole query runs, so ranges never half-overlap).
  std::array<std::pair<long long, long long>, BlockPlan::kMax> written{};
  int n_written = 0;
  const auto fresh = [&](long long lo, long long hi) {
    for (int k = 0; k < n_written; ++k) {
      const auto [a, b] = written[static_cast<std::size_t>(k)];
      if (lo < b && a < hi) {
        if (lo < a || hi > b) throw std::logic_error("make_work: blocks half-overlap their output rows");
        return false;
      }
    }
    written[static_cast<std::size_t>(n_written++)] = {lo, hi};
    return true;
  };
  for (int i = 0; i < c.plan->count; ++i) {
    const SubBlock& sb = c.plan->blocks[static_cast<std::size_t>(i)];
    Block b;
    b.kind = BlockKind::kAttention;
    const bool writes = c.all_write || (c.first_writes && fresh(sb.q_row, sb.q_row + sb.q_rows));
    b.output = writes ? OutputMode::kWrite : OutputMode::kMerge;
    b.q = Slice{c.q_buffer, sb.q_row, sb.q_rows};
    b.kv = Slice{c.kv_buffer, sb.kv_row, sb.kv_rows};
    b.out = Slice{c.out_buffer, c.out_row + sb.q_row, sb.q_rows};
    b.q_part = c.q_part;
    b.kv_part = c.kv_part;
    b.mask = sb.mask;
    b.diagonal_offset = static_cast<std::int8_t>(sb.diagonal_offset);
    b.document_mask = c.documents;
    b.head_first = c.head_first;
    b.heads = c.q_heads;
    b.kv_heads = c.kv_heads;
    b.shape = BlockShape{sb.q_rows, sb.kv_rows, sb.mask, b.output == OutputMode::kMerge};
    b.pairs_fraction = sb.pairs_fraction;
    const ShapeCost& cost = in.costs.cost(b.shape, c.q_heads, c.kv_heads, c.message_bytes);
    // Flops: the shape's (diagonal masks count half); with documents, the
    // visible pairs themselves, so every schedule sums to the same total.
    b.flops = sb.kept_pairs >= 0 ? 4.0 * sb.kept_pairs * m.head_dim * c.q_heads : cost.flops;
    w.add(b);
  }
  return w;
}

ComputeSpec ring_spec(const PlanInput& in, long long device, long long step, const BlockPlan& plan,
                      const SequenceLayout& layout, long long q_part, long long kv_part, BufferId q, BufferId kv,
                      BufferId out, double message_bytes) {
  ComputeSpec c;
  c.device = device;
  c.step = step;
  c.plan = &plan;
  c.layout = &layout;
  c.q_part = q_part;
  c.kv_part = kv_part;
  c.q_buffer = q;
  c.kv_buffer = kv;
  c.out_buffer = out;
  c.first_writes = step == 0;
  c.q_heads = in.scenario.shape.q_heads;
  c.kv_heads = in.scenario.shape.kv_heads;
  c.message_bytes = message_bytes;
  c.documents = in.documents != nullptr;
  return c;
}

Block merge_block(BufferId from, long long slots, long long merges, BufferId into, long long rows, int q_heads) {
  Block b;
  b.kind = BlockKind::kMerge;
  b.output = OutputMode::kMerge;
  b.q = Slice{from, 0, rows * slots};
  b.out = Slice{into, 0, rows};
  b.heads = q_heads;
  b.merges = merges;
  b.shape = BlockShape{rows, 0, MaskKind::kFull, true};
  return b;
}

namespace {

// The step charges of `w` beside its message (see compute_op): its largest
// attention block's; none without one.
StepCharges charges_of(const PlanInput& in, const ComputeWork& w, double message_bytes, bool ring_step) {
  const Block* largest = nullptr;
  for (int i = 0; i < w.count; ++i) {
    const Block& b = w.blocks[static_cast<std::size_t>(i)];
    if (b.kind == BlockKind::kAttention && (!largest || b.flops > largest->flops)) largest = &b;
  }
  if (!largest) return {};
  const bool spans_gpus = in.point.ring_size / std::max(1LL, in.ranks_per_gpu) > 1;
  const StepTransport transport = spans_gpus ? StepTransport::kNccl : StepTransport::kCopy;
  StepCharges c = in.costs.step_charges(largest->shape, largest->heads, largest->kv_heads, transport,
                                        message_bytes, 1);  // the executor sends K and V as one message
  if (!ring_step || in.point.ring_size < 2 || !(message_bytes > 0)) {
    c.overhead_ns = 0;
    c.measured = false;
  }
  // Per card and step: ranks sharing a card run their computes of a step back
  // to back beside the card's transfers, and share its overhead.
  const long long rpg = std::max(1LL, in.ranks_per_gpu);
  c.overhead_ns = (c.overhead_ns + rpg - 1) / rpg;
  return c;
}

// The time of one block of a compute on (device, step), and its interference shares.
TimeNs block_time(const PlanInput& in, const Block& b, long long device, long long step, double message_bytes,
                  BlockShares& shares) {
  switch (b.kind) {
    case BlockKind::kMerge: return in.costs.merge_ns(device, step, b.out.count, b.heads, b.merges);
    case BlockKind::kDelta:
    case BlockKind::kGradAdd:
    case BlockKind::kCopy:
    case BlockKind::kZero: return in.costs.stream_ns(device, step, b.stream_bytes);
    case BlockKind::kAttentionBackward: {
      const ShapeCost& cost = in.costs.backward_cost(b.shape, b.heads, b.kv_heads, message_bytes);
      shares = cost.shares;
      return in.costs.block_ns(device, step, cost, b.pairs_fraction);
    }
    case BlockKind::kAttention: break;
  }
  const ShapeCost& cost = in.costs.cost(b.shape, b.heads, b.kv_heads, message_bytes);
  shares = cost.shares;
  return in.costs.block_ns(device, step, cost, b.pairs_fraction);
}

}  // namespace

Op compute_op(const PlanInput& in, const ComputeWork& w, long long device, long long step, double message_bytes,
              bool ring_step) {
  Op op;
  op.kind = Op::kCompute;
  op.label = step;
  op.flops = w.flops();
  double copy = 0, link = 0;
  BlockShares last;
  for (int i = 0; i < w.count; ++i) {
    last = BlockShares{};
    const TimeNs t = block_time(in, w.blocks[static_cast<std::size_t>(i)], device, step, message_bytes, last);
    op.duration_ns = checked_add_ns(op.duration_ns, t);
    copy += last.copy * static_cast<double>(t);
    link += last.link * static_cast<double>(t);
  }
  const BlockKind first = w.blocks[0].kind;
  if (w.count == 1 && (first == BlockKind::kAttention || first == BlockKind::kAttentionBackward)) {
    // One block: its own shares exactly (no rounding through the weighting).
    op.copy_share = last.copy;
    op.link_share = last.link;
  } else if (op.duration_ns > 0) {
    op.copy_share = copy / static_cast<double>(op.duration_ns);
    op.link_share = link / static_cast<double>(op.duration_ns);
  } else {
    op.copy_share = op.link_share = 0;
  }
  const StepCharges charges = charges_of(in, w, message_bytes, ring_step);
  op.duration_ns = checked_add_ns(op.duration_ns, charges.overhead_ns);
  if (charges.measured) op.copy_share = op.link_share = 0;  // the transfer's slowdown is in the overhead
  op.nccl_rate_factor = charges.nccl_rate_factor;
  op.copy_rate_factor = charges.copy_rate_factor;
  return op;
}

}  // namespace ringsim::schedules
