// Building blocks of the backward programs; see sim/schedules/backward.hpp.
#include "sim/schedules/backward.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace ringsim::schedules {

double lse_bytes(long long rows, int q_heads) { return static_cast<double>(rows) * q_heads * 4.0; }
double grad_q_bytes(const PlanInput& in, long long rows, int q_heads) {
  return static_cast<double>(rows) * q_heads * in.scenario.shape.head_dim * dtype_bytes(in.attention.grad_dtype);
}
double grad_kv_bytes(const PlanInput& in, long long rows, int kv_heads) {
  return 2.0 * static_cast<double>(rows) * kv_heads * in.scenario.shape.head_dim * dtype_bytes(in.attention.grad_dtype);
}
double fp32_q_bytes(long long rows, int q_heads, int head_dim) { return static_cast<double>(rows) * q_heads * head_dim * 4.0; }
double fp32_kv_bytes(long long rows, int kv_heads, int head_dim) {
  return 2.0 * static_cast<double>(rows) * kv_heads * head_dim * 4.0;
}

SavedBuffers add_saved(BufferTable& t, const AttentionShape& m, long long q_rows, long long kv_rows, int q_heads,
                       int kv_heads, const std::string& suffix) {
  using F = BufferFormat;
  SavedBuffers b;
  b.q = t.add("saved_q" + suffix, q_bytes(m, q_rows, q_heads), F::kQueries);
  b.kv = t.add("saved_kv" + suffix, kv_bytes(m, kv_rows, kv_heads), F::kKeysValues);
  b.out = t.add("saved_out" + suffix, q_bytes(m, q_rows, q_heads), F::kQueries);
  b.lse = t.add("saved_lse" + suffix, lse_bytes(q_rows, q_heads), F::kRowStats);
  b.dout = t.add("grad_out" + suffix, q_bytes(m, q_rows, q_heads), F::kQueries);
  return b;
}

std::vector<Placement> saved_inputs(const PlanInput& in, const SequenceLayout& g, const SavedBuffers& b, long long part) {
  return {part_rows(in, g, Placement::kQueries, b.q, part), part_rows(in, g, Placement::kKeysValues, b.kv, part),
          part_rows(in, g, Placement::kOutput, b.out, part), part_rows(in, g, Placement::kLse, b.lse, part),
          part_rows(in, g, Placement::kGradOutput, b.dout, part)};
}

std::vector<int> all_live(const BufferTable& t) { return std::vector<int>(static_cast<std::size_t>(t.size()), 1); }

BackwardSpec backward_spec(const PlanInput& in, long long q_part, long long kv_part, double message_bytes) {
  BackwardSpec c;
  c.q_part = q_part;
  c.kv_part = kv_part;
  c.q_heads = in.scenario.shape.q_heads;
  c.kv_heads = in.scenario.shape.kv_heads;
  c.message_bytes = message_bytes;
  c.documents = in.documents != nullptr;
  return c;
}

namespace {

// Row ranges of one target already written by earlier blocks of the op.
class Written {
 public:
  // Whether a fresh block writes [lo, hi) (true: none of it written yet) or
  // adds (all of it written); a range half written is a planning error.
  bool writes(long long lo, long long hi) {
    long long covered = 0;
    for (const auto& [a, b] : ranges_) covered += std::max(0LL, std::min(b, hi) - std::max(a, lo));
    if (covered == hi - lo) return false;
    if (covered != 0) throw std::logic_error("make_backward_work: a block's gradient rows are half written");
    ranges_.emplace_back(lo, hi);
    return true;
  }

 private:
  std::vector<std::pair<long long, long long>> ranges_;
};

Slice rows_of(const Slice& base, long long row, long long count) {
  return Slice{base.buffer, base.offset + row, count, base.base_bytes};
}

}  // namespace

ComputeWork make_backward_work(const PlanInput& in, const BlockPlan& plan, const BackwardSpec& c) {
  const AttentionShape& m = in.scenario.shape;
  std::vector<int> order(static_cast<std::size_t>(plan.count));
  std::iota(order.begin(), order.end(), 0);
  const auto rows = [&](int i) { return plan.blocks[static_cast<std::size_t>(i)].kv_rows; };
  if (c.grad_kv_fresh) std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return rows(a) > rows(b); });
  Written q_written, kv_written;
  ComputeWork w;
  for (int i : order) {
    const SubBlock& sb = plan.blocks[static_cast<std::size_t>(i)];
    Block b;
    b.kind = BlockKind::kAttentionBackward;
    b.q = rows_of(c.q, sb.q_row, sb.q_rows);
    b.dout = rows_of(c.dout, sb.q_row, sb.q_rows);
    b.lse = rows_of(c.lse, sb.q_row, sb.q_rows);
    b.delta = rows_of(c.delta, sb.q_row, sb.q_rows);
    b.kv = rows_of(c.kv, sb.kv_row, sb.kv_rows);
    b.grad_q = rows_of(c.grad_q, sb.q_row, sb.q_rows);
    b.grad_kv = rows_of(c.grad_kv, sb.kv_row, sb.kv_rows);
    const bool q_writes = c.grad_q_fresh && q_written.writes(sb.q_row, sb.q_row + sb.q_rows);
    const bool kv_writes = c.grad_kv_fresh && kv_written.writes(sb.kv_row, sb.kv_row + sb.kv_rows);
    b.grad_q_mode = q_writes ? OutputMode::kWrite : OutputMode::kAdd;
    b.grad_kv_mode = kv_writes ? OutputMode::kWrite : OutputMode::kAdd;
    b.q_part = c.q_part;
    b.kv_part = c.kv_part;
    b.mask = sb.mask;
    b.diagonal_offset = static_cast<std::int8_t>(sb.diagonal_offset);
    b.document_mask = c.documents;
    b.head_first = c.head_first;
    b.heads = c.q_heads;
    b.kv_heads = c.kv_heads;
    b.shape = BlockShape{sb.q_rows, sb.kv_rows, sb.mask, false};
    b.pairs_fraction = sb.pairs_fraction;
    const ShapeCost& cost = in.costs.backward_cost(b.shape, c.q_heads, c.kv_heads, c.message_bytes);
    // With documents, the visible pairs themselves (every schedule sums to the same total).
    b.flops = sb.kept_pairs >= 0 ? kBackwardFlopsFactor * 4.0 * sb.kept_pairs * m.head_dim * c.q_heads : cost.flops;
    w.add(b);
  }
  return w;
}

Block delta_block(const PlanInput& in, Slice dout, Slice out, Slice delta, int q_heads) {
  Block b;
  b.kind = BlockKind::kDelta;
  b.dout = dout;
  b.out = out;
  b.delta = delta;
  b.heads = q_heads;
  // dO and O read in the model's dtype, D written in fp32.
  b.stream_bytes = 2.0 * q_bytes(in.scenario.shape, dout.count, q_heads) + lse_bytes(dout.count, q_heads);
  return b;
}

namespace {
Block stream_block(BlockKind kind, Slice from, Slice into, TensorRows t, double bytes) {
  Block b;
  b.kind = kind;
  b.q = from;
  b.out = into;
  b.tensor = t.tensor;
  (t.tensor == Tensor::kKv || t.tensor == Tensor::kGradKv ? b.kv_heads : b.heads) = t.heads;
  b.stream_bytes = bytes;
  return b;
}
}  // namespace

Block add_block(Slice from, Slice into, long long slots, TensorRows t, double row_bytes_from, double row_bytes_into,
                OutputMode mode) {
  const double rows = static_cast<double>(into.count), into_passes = mode == OutputMode::kAdd ? 2.0 : 1.0;
  Block b = stream_block(BlockKind::kGradAdd, from, into, t,
                         static_cast<double>(slots) * rows * row_bytes_from + into_passes * rows * row_bytes_into);
  b.output = mode;
  b.merges = slots;
  return b;
}

Block copy_block(Slice from, Slice into, TensorRows t, double bytes) {
  return stream_block(BlockKind::kCopy, from, into, t, 2.0 * bytes);
}

Block zero_block(Slice out, TensorRows t, double bytes) { return stream_block(BlockKind::kZero, Slice{}, out, t, bytes); }

ComputeWork one_block(const Block& b) {
  ComputeWork w;
  w.add(b);
  return w;
}

}  // namespace ringsim::schedules
