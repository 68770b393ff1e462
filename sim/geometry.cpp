// Token layouts, block planning and pair counting; see sim/geometry.hpp.
#include "sim/geometry.hpp"

#include <algorithm>
#include <stdexcept>

namespace ringsim {

namespace {

long long floor_div(long long a, long long b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
long long ceil_div(long long a, long long b) { return -floor_div(-a, b); }

// sum over i in [0, n) of clamp(x0 + i * step, 0, cap); step > 0. In O(1).
__int128 sum_clamped(long long x0, long long step, long long n, long long cap) {
  if (n <= 0 || cap <= 0) return 0;
  // i1: first i with x > 0; i2: first i with x >= cap.
  const long long i1 = std::clamp<long long>(x0 > 0 ? 0 : floor_div(-x0, step) + 1, 0, n);
  const long long i2 = std::clamp<long long>(x0 >= cap ? 0 : ceil_div(cap - x0, step), i1, n);
  const __int128 m = i2 - i1;  // terms strictly between 0 and cap
  const __int128 middle = m * x0 + static_cast<__int128>(step) * (static_cast<__int128>(i1 + i2 - 1) * m / 2);
  return middle + static_cast<__int128>(n - i2) * cap;
}

// Pairs (a in [a_lo, a_hi), b in [b_lo, b_hi)) with b <= x0 + a * step - 1
// in kv index terms: the count of b for each a is clamp(x0 + a*step - b_lo, 0, b_hi - b_lo).
double ap_pairs(long long a_lo, long long a_hi, long long b_lo, long long b_hi, long long x0, long long step,
                bool causal) {
  if (a_hi <= a_lo || b_hi <= b_lo) return 0;
  if (!causal) return static_cast<double>(a_hi - a_lo) * static_cast<double>(b_hi - b_lo);
  return static_cast<double>(sum_clamped(x0 + a_lo * step - b_lo, step, a_hi - a_lo, b_hi - b_lo));
}

// For q = q0 + a sq and kv = k0 + b sk (sk == 1 or sk == sq), the number of
// visible b for index a is x0 + a * step (clamped), returned as (x0, step).
std::pair<long long, long long> visible_line(const TokenRun& q, const TokenRun& kv) {
  if (kv.stride == q.stride) return {floor_div(q.start - kv.start, q.stride) + 1, 1};
  if (kv.stride != 1) throw std::logic_error("geometry: key stride must be 1 or the query's");
  return {q.start - kv.start + 1, q.stride};
}

}  // namespace

SequenceLayout::SequenceLayout(Layout layout, long long tokens, long long parts, long long cached_tokens)
    : layout_(layout), tokens_(tokens), parts_(parts), cached_(cached_tokens) {
  if (parts < 1 || tokens % layout_parts(layout, parts) != 0 || cached_tokens % parts != 0) {
    throw std::invalid_argument("SequenceLayout: tokens and cached tokens must divide evenly over the parts");
  }
}

TokenRun SequenceLayout::run(long long part, int r) const {
  const long long c = run_rows();
  switch (layout_) {
    case Layout::kContiguous: return {part * c, 1, c};
    case Layout::kZigzag: return {(r == 0 ? part : 2 * parts_ - 1 - part) * c, 1, c};
    case Layout::kStriped: return {part, parts_, c};
  }
  return {};
}

long long SequenceLayout::position(long long part, long long q_row) const {
  const TokenRun r = run(part, static_cast<int>(q_row / run_rows()));
  return r.start + (q_row % run_rows()) * r.stride;
}

long long SequenceLayout::kv_position(long long part, long long kv_row) const {
  const long long c = cached_per_part();
  return kv_row < c ? -cached_ + part * c + kv_row : position(part, kv_row - c);
}

DocumentMask::DocumentMask(const std::vector<long long>& lengths) {
  starts_.push_back(0);
  for (long long len : lengths) starts_.push_back(starts_.back() + len);
}

double causal_pairs(const TokenRun& q, const TokenRun& kv, bool causal) {
  const auto [x0, step] = visible_line(q, kv);
  return ap_pairs(0, q.count, 0, kv.count, x0, step, causal);
}

double DocumentMask::pairs(const TokenRun& q, const TokenRun& kv, bool causal) const {
  if (q.count == 0 || kv.count == 0) return 0;
  const auto [x0, step] = visible_line(q, kv);
  // A document counts if it holds a query and a key: it ends after both
  // runs' first positions (lo) and starts by both runs' last (hi).
  const long long lo = std::max(q.start, kv.start);
  const long long hi = std::min(q.start + (q.count - 1) * q.stride, kv.start + (kv.count - 1) * kv.stride);
  // First document ending after lo.
  std::size_t i = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), lo) - starts_.begin()) - 1;
  double sum = 0;
  for (; i + 1 < starts_.size() && starts_[i] <= hi; ++i) {
    const long long d0 = starts_[i], d1 = starts_[i + 1];  // [d0, d1)
    const auto index_range = [&](const TokenRun& r) {
      return std::make_pair(std::clamp<long long>(ceil_div(d0 - r.start, r.stride), 0, r.count),
                            std::clamp<long long>(ceil_div(d1 - r.start, r.stride), 0, r.count));
    };
    const auto [a_lo, a_hi] = index_range(q);
    const auto [b_lo, b_hi] = index_range(kv);
    sum += ap_pairs(a_lo, a_hi, b_lo, b_hi, x0, step, causal);
  }
  return sum;
}

namespace {

enum class Cell : std::uint8_t { kEmpty, kFull, kDiagonal, kDiagonalStrict };

Cell classify(const TokenRun& q, const TokenRun& kv, bool causal) {
  if (!causal) return Cell::kFull;
  if (kv.start + (kv.count - 1) * kv.stride <= q.start) return Cell::kFull;
  if (kv.start > q.start + (q.count - 1) * q.stride) return Cell::kEmpty;
  if (kv.stride != q.stride || (q.stride == 1 && kv.start != q.start))
    throw std::logic_error("geometry: a partly visible block that is not a diagonal");
  return kv.start <= q.start ? Cell::kDiagonal : Cell::kDiagonalStrict;  // striped: later part excludes i == j
}

// The query and key segments (as APs) of a rectangle of rows; key rows below
// cached_per_part are the cached slice (returned with stride 0: all visible).
struct Segments {
  int count = 0;
  std::array<TokenRun, 3> runs{};
};
Segments q_segments(const SequenceLayout& g, long long part, long long row, long long rows) {
  Segments s;
  const long long c = g.run_rows();
  for (int r = 0; r < g.runs(); ++r) {
    const long long lo = std::max(row, r * c), hi = std::min(row + rows, (r + 1) * c);
    if (lo >= hi) continue;
    const TokenRun run = g.run(part, r);
    s.runs[static_cast<std::size_t>(s.count++)] = {run.start + (lo - r * c) * run.stride, run.stride, hi - lo};
  }
  return s;
}
Segments kv_segments(const SequenceLayout& g, long long part, long long row, long long rows) {
  Segments s;
  const long long cached = g.cached_per_part();
  if (row < cached) s.runs[static_cast<std::size_t>(s.count++)] = {0, 0, std::min(rows, cached - row)};
  const long long new_lo = std::max(row, cached) - cached, new_hi = row + rows - cached;
  if (new_hi > new_lo) {
    const Segments n = q_segments(g, part, new_lo, new_hi - new_lo);
    for (int i = 0; i < n.count; ++i) s.runs[static_cast<std::size_t>(s.count++)] = n.runs[static_cast<std::size_t>(i)];
  }
  return s;
}

double rect_pairs(const Segments& q, const Segments& kv, bool causal, const DocumentMask* docs) {
  double sum = 0;
  for (int i = 0; i < q.count; ++i) {
    for (int j = 0; j < kv.count; ++j) {
      const TokenRun& a = q.runs[static_cast<std::size_t>(i)];
      const TokenRun& b = kv.runs[static_cast<std::size_t>(j)];
      if (b.stride == 0) sum += static_cast<double>(a.count) * static_cast<double>(b.count);  // cached: all visible
      else sum += docs ? docs->pairs(a, b, causal) : causal_pairs(a, b, causal);
    }
  }
  return sum;
}

void add_block(BlockPlan& plan, const SubBlock& b) {
  if (plan.count == BlockPlan::kMax) throw std::logic_error("geometry: too many blocks");
  plan.blocks[static_cast<std::size_t>(plan.count++)] = b;
}

// Applies the document mask: fraction of the geometric pairs kept; drops emptied blocks.
BlockPlan with_documents(const SequenceLayout& g, bool causal, long long q_part, long long kv_part,
                         const BlockPlan& plan, const DocumentMask* docs, bool gathered) {
  if (!docs) return plan;
  BlockPlan out;
  for (int i = 0; i < plan.count; ++i) {
    SubBlock b = plan.blocks[static_cast<std::size_t>(i)];
    const Segments q = q_segments(g, q_part, b.q_row, b.q_rows);
    Segments kv;
    if (gathered) {
      kv.count = 1;
      kv.runs[0] = {b.kv_row - g.cached_tokens(), 1, b.kv_rows};  // no cache with documents
    } else {
      kv = kv_segments(g, kv_part, b.kv_row, b.kv_rows);
    }
    const double kept = rect_pairs(q, kv, causal, docs), all = rect_pairs(q, kv, causal, nullptr);
    if (kept == 0) continue;
    b.pairs_fraction = kept / all;
    b.kept_pairs = kept;
    add_block(out, b);
  }
  return out;
}

}  // namespace

BlockPlan plan_blocks(const SequenceLayout& g, bool causal, long long q_part, long long kv_part,
                      const DocumentMask* docs) {
  const int m = g.runs();
  const long long c = g.run_rows(), cached = g.cached_per_part();
  // Columns: the cached slice (if any), then kv runs. cells[r][col].
  const int cols = m + (cached > 0 ? 1 : 0), first_run_col = cached > 0 ? 1 : 0;
  std::array<std::array<Cell, 3>, 2> cells{};
  for (int r = 0; r < m; ++r) {
    if (cached > 0) cells[r][0] = Cell::kFull;
    for (int k = 0; k < m; ++k) cells[r][first_run_col + k] = classify(g.run(q_part, r), g.run(kv_part, k), causal);
  }
  const auto col_rows = [&](int col) { return std::make_pair(col < first_run_col ? 0 : cached + (col - first_run_col) * c,
                                                             col < first_run_col ? cached : c); };
  BlockPlan plan;
  // The zigzag diagonal: [diag, empty; full, diag] is one block.
  if (m == 2 && cached == 0 && cells[0][0] == Cell::kDiagonal && cells[0][1] == Cell::kEmpty &&
      cells[1][0] == Cell::kFull && cells[1][1] == Cell::kDiagonal) {
    add_block(plan, SubBlock{0, 2 * c, 0, 2 * c, MaskKind::kZigzagDiagonal, 0, 1.0});
    return with_documents(g, causal, q_part, kv_part, plan, docs, false);
  }
  // Live cells forming one all-full rectangle join into one block.
  int r0 = m, r1 = -1, c0 = cols, c1 = -1, live = 0;
  bool all_full = true;
  for (int r = 0; r < m; ++r)
    for (int k = 0; k < cols; ++k)
      if (cells[r][k] != Cell::kEmpty) {
        r0 = std::min(r0, r), r1 = std::max(r1, r), c0 = std::min(c0, k), c1 = std::max(c1, k), ++live;
        all_full = all_full && cells[r][k] == Cell::kFull;
      }
  if (live == 0) return plan;
  if (all_full && live == (r1 - r0 + 1) * (c1 - c0 + 1)) {
    const long long kv_row = col_rows(c0).first, kv_end = col_rows(c1).first + col_rows(c1).second;
    add_block(plan, SubBlock{r0 * c, (r1 - r0 + 1) * c, kv_row, kv_end - kv_row, MaskKind::kFull, 0, 1.0});
    return with_documents(g, causal, q_part, kv_part, plan, docs, false);
  }
  // Otherwise per query run: its consecutive full cells, then each diagonal.
  for (int r = 0; r < m; ++r) {
    for (int k = 0; k < cols;) {
      if (cells[r][k] != Cell::kFull) {
        if (cells[r][k] != Cell::kEmpty) {
          add_block(plan, SubBlock{r * c, c, col_rows(k).first, c, MaskKind::kCausalDiagonal,
                                   cells[r][k] == Cell::kDiagonal ? 0 : -1, 1.0});
        }
        ++k;
        continue;
      }
      int k1 = k;
      while (k1 + 1 < cols && cells[r][k1 + 1] == Cell::kFull) ++k1;
      const long long kv_row = col_rows(k).first, kv_end = col_rows(k1).first + col_rows(k1).second;
      add_block(plan, SubBlock{r * c, c, kv_row, kv_end - kv_row, MaskKind::kFull, 0, 1.0});
      k = k1 + 1;
    }
  }
  return with_documents(g, causal, q_part, kv_part, plan, docs, false);
}

BlockPlan plan_gathered(const SequenceLayout& g, bool causal, long long q_part, const DocumentMask* docs) {
  const long long cached = g.cached_tokens(), all = cached + g.tokens();
  BlockPlan plan;
  for (int r = 0; r < g.runs(); ++r) {
    const TokenRun run = g.run(q_part, r);
    const long long q_row = r * g.run_rows();
    if (!causal) {
      add_block(plan, SubBlock{q_row, run.count, 0, all, MaskKind::kFull, 0, 1.0});
    } else if (run.stride != 1) {
      // Striped: every P-th query against the whole sequence, charged as half
      // of q x T (the pass-KV ring's striped blocks add up to the same).
      if (cached > 0) add_block(plan, SubBlock{q_row, run.count, 0, cached, MaskKind::kFull, 0, 1.0});
      add_block(plan, SubBlock{q_row, run.count, cached, g.tokens(), MaskKind::kCausalDiagonal, 0, 1.0});
    } else {
      if (cached + run.start > 0) add_block(plan, SubBlock{q_row, run.count, 0, cached + run.start, MaskKind::kFull, 0, 1.0});
      add_block(plan, SubBlock{q_row, run.count, cached + run.start, run.count, MaskKind::kCausalDiagonal, 0, 1.0});
    }
  }
  return with_documents(g, causal, q_part, -1, plan, docs, true);
}

}  // namespace ringsim
