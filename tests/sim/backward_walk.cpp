// The symbolic walk of backward programs; see backward_walk.hpp.
#include "backward_walk.hpp"

#include <algorithm>

namespace ringsim::test {

namespace {

bool fp32_name(const std::string& name) {
  const auto ends = [&](const std::string& tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  return ends("_acc") || ends("_block");
}

bool overlaps(double a0, double a1, double b0, double b1) { return a0 < b1 && b0 < a1; }

}  // namespace

BackwardWalk::BackwardWalk(const Scenario& s)
    : s_(s), planned_(plan_point(s, s.points[0], Pass::kBackward)), program_(planned_->plan->program()),
      table_(*program_.buffer_table()), g_(program_.sequence()), p_(s.points[0].ring_size),
      mem_(static_cast<std::size_t>(p_)), copied_(static_cast<std::size_t>(p_), false) {
  usp_ = s.schedule == "usp" || s.schedule == "ulysses";
  gathered_ = s.schedule == "all-gather";
  if (usp_) u_ = s.schedule == "ulysses" ? p_ : (s.ulysses_degree ? s.ulysses_degree : std::min<long long>(s.gpus_per_node, p_));
  r_ = p_ / u_;
  rows_ = g_.part_tokens() / u_;
  heads_ = s.shape.q_heads / static_cast<int>(u_);
  if (!s.documents.empty()) {
    long long at = 0;
    for (long long n : document_lengths(s.documents, s.points[0].tokens)) starts_.push_back(at += n);
  }
  for (long long j = 0; j < g_.parts(); ++j)
    for (long long r = 0; r < g_.part_tokens(); ++r) by_position_[g_.position(j, r)] = {j, g_.cached_per_part() + r};
  for (long long d = 0; d < p_; ++d) init(d);
}

double BackwardWalk::row_bytes(Tensor t, int heads, BufferId buffer) const {
  const double d = s_.shape.head_dim, dt = dtype_bytes(s_.shape.dtype);
  const double gt = fp32_name(table_.name(buffer)) ? 4 : dtype_bytes(s_.grad_dtype);
  switch (t) {
    case Tensor::kQ: case Tensor::kO: case Tensor::kDO: return heads * d * dt;
    case Tensor::kLse: case Tensor::kDelta: return heads * 4.0;
    case Tensor::kKv: return 2.0 * heads * d * dt;
    case Tensor::kGradQ: return heads * d * gt;
    case Tensor::kGradKv: return 2.0 * heads * d * gt;
    case Tensor::kNone: break;
  }
  FAIL("a block names no tensor");
  return 0;
}

long long BackwardWalk::kv_position(long long part, long long row) const {
  const long long cpp = g_.cached_per_part(), c = g_.cached_tokens();
  if (part < 0) return row - c;  // the gathered sequence, cached rows first
  return row < cpp ? -c + part * cpp + row : g_.position(part, row - cpp);
}

std::pair<long long, long long> BackwardWalk::gathered_row(long long x) const {
  const long long cpp = g_.cached_per_part(), c = g_.cached_tokens();
  return x < c ? std::make_pair(x / cpp, x % cpp) : by_position_.at(x - c);
}

bool BackwardWalk::visible(long long q, long long k) const {
  if (k < 0) return true;
  if (s_.causal && k > q) return false;
  const auto doc = [&](long long pos) { return std::upper_bound(starts_.begin(), starts_.end(), pos) - starts_.begin(); };
  return starts_.empty() || doc(q) == doc(k);
}

void BackwardWalk::put(Buffer& b, double at, const Cell& c) {
  for (auto it = b.begin(); it != b.end();) {
    if (overlaps(it->first, it->first + it->second.size, at, at + c.size)) it = b.erase(it);
    else ++it;
  }
  b[at] = c;
}

std::vector<std::pair<double, Cell>> BackwardWalk::take(const Buffer& b, double lo, double hi) {
  std::vector<std::pair<double, Cell>> out;
  double covered = 0;
  for (const auto& [at, c] : b) {
    if (!overlaps(at, at + c.size, lo, hi)) continue;
    CHECK((at >= lo && at + c.size <= hi));  // no cell straddles the range
    out.emplace_back(at - lo, c);
    covered += c.size;
  }
  CHECK(covered == doctest::Approx(hi - lo));  // every byte defined
  return out;
}

void BackwardWalk::rows_copy(long long d, const Slice& from, const Slice& into, long long rows, double rb_from,
                             double rb_into, bool add) {
  Buffer& src = mem_[static_cast<std::size_t>(d)][from.buffer];
  Buffer& dst = mem_[static_cast<std::size_t>(d)][into.buffer];
  const double scale = rb_into / rb_from;
  for (long long i = 0; i < rows; ++i) {
    const double lo = from.base_bytes + static_cast<double>(from.offset + i) * rb_from;
    const double to = into.base_bytes + static_cast<double>(into.offset + i) * rb_into;
    for (auto [rel, c] : take(src, lo, lo + rb_from)) {
      const double at = to + rel * scale;
      c.size *= scale;
      if (!add) { put(dst, at, c); continue; }
      const auto it = dst.find(at);
      REQUIRE(it != dst.end());
      CHECK((it->second.grad && c.grad && it->second.size == c.size));
      for (const auto& [pair, n] : c.pairs) it->second.pairs[pair] += n;
    }
  }
}

void BackwardWalk::init(long long d) {
  auto& mine = mem_[static_cast<std::size_t>(d)];
  const long long g = usp_ ? (s_.ulysses_placement == UlyssesPlacement::kInsideNode ? d / u_ : d % r_) : d;
  const long long u = usp_ ? (s_.ulysses_placement == UlyssesPlacement::kInsideNode ? d % u_ : d / r_) : 0;
  const int head = static_cast<int>(u) * heads_, kvh = usp_ ? std::max(1, s_.shape.kv_heads / static_cast<int>(u_))
                                                            : s_.shape.kv_heads;
  const auto rows = [&](const std::string& name, Tensor t, int h, long long from, long long count) {
    const BufferId b = table_.find(name);
    REQUIRE(b != kNoBuffer);
    const double rb = row_bytes(t, h, b);
    for (long long r = from; r < from + count; ++r)
      put(mine[b], static_cast<double>(r) * rb, Cell{rb, false, Label{t, g, r, head}, {}});
  };
  const std::string sfx = usp_ ? "_heads" : "";
  const int h = usp_ ? heads_ : s_.shape.q_heads;
  const long long q = g_.part_tokens();
  rows("saved_q" + sfx, Tensor::kQ, h, 0, q);
  rows("saved_kv" + sfx, Tensor::kKv, kvh, 0, g_.kv_rows());
  rows("saved_out" + sfx, Tensor::kO, h, 0, q);
  rows("saved_lse" + sfx, Tensor::kLse, h, 0, q);
  if (!usp_) return rows("grad_out", Tensor::kDO, h, 0, q);
  rows("grad_out_heads", Tensor::kDO, h, u * rows_, rows_);  // the member's own rows, copied locally
  if (u_ == 1) return;  // no all-to-all: grad_out_heads is all of it
  const BufferId b = table_.find("grad_out");  // head-group major: [member v's heads][our rows]
  const double rb = row_bytes(Tensor::kDO, heads_, b);
  for (long long v = 0; v < u_; ++v)
    for (long long r = 0; r < rows_; ++r)
      put(mine[b], static_cast<double>(v * rows_ + r) * rb,
          Cell{rb, false, Label{Tensor::kDO, g, u * rows_ + r, static_cast<int>(v) * heads_}, {}});
}

void BackwardWalk::backward_block(long long d, const Block& b) {
  auto& mine = mem_[static_cast<std::size_t>(d)];
  const int h = b.heads, kvh = b.kv_heads;
  const auto expect = [&](const Slice& sl, Tensor t, int heads, long long row, const Label& want) {
    const auto it = mine[sl.buffer].find(sl.base_bytes + static_cast<double>(row) * row_bytes(t, heads, sl.buffer));
    REQUIRE(it != mine[sl.buffer].end());
    CHECK(it->second.label == want);
  };
  const long long kv_rows = g_.kv_rows();
  // Row k of the key side, where it sits: the gathered sequence is in part order (the executor permutes).
  const auto kv_row = [&](long long x) {
    if (b.kv_part >= 0) return std::make_pair(x, Label{Tensor::kKv, b.kv_part, x, b.head_first});
    const auto [j, r] = gathered_row(x);
    return std::make_pair(j * kv_rows + r, Label{Tensor::kKv, j, r, 0});
  };
  std::vector<Pairs> dq(static_cast<std::size_t>(b.q.count)), dkv(static_cast<std::size_t>(b.kv.count));
  for (long long i = 0; i < b.q.count; ++i) {
    const long long row = b.q.offset + i;
    expect(b.q, Tensor::kQ, h, row, Label{Tensor::kQ, b.q_part, row, b.head_first});
    expect(Slice{b.dout.buffer, 0, 0, b.dout.base_bytes}, Tensor::kDO, h, b.dout.offset + i, Label{Tensor::kDO, b.q_part, row, b.head_first});
    expect(Slice{b.lse.buffer, 0, 0, b.lse.base_bytes}, Tensor::kLse, h, b.lse.offset + i, Label{Tensor::kLse, b.q_part, row, b.head_first});
    expect(Slice{b.delta.buffer, 0, 0, b.delta.base_bytes}, Tensor::kDelta, h, b.delta.offset + i,
           Label{Tensor::kDelta, b.q_part, row, b.head_first});
    for (long long k = 0; k < b.kv.count; ++k) {
      const long long qp = q_position(b.q_part, row), kp = kv_position(b.kv_part, b.kv.offset + k);
      if (!visible(qp, kp)) continue;
      for (int head = b.head_first; head < b.head_first + h; ++head) {
        ++dq[static_cast<std::size_t>(i)][{qp, kp, head}];
        ++dkv[static_cast<std::size_t>(k)][{qp, kp, head}];
      }
    }
  }
  for (long long k = 0; k < b.kv.count; ++k) {
    const auto [at, want] = kv_row(b.kv.offset + k);
    expect(Slice{b.kv.buffer, 0, 0, b.kv.base_bytes}, Tensor::kKv, kvh, at, want);
  }
  const auto land = [&](const Slice& target, OutputMode mode, Tensor t, int heads, long long row, const Pairs& pairs) {
    const double rb = row_bytes(t, heads, target.buffer), at = target.base_bytes + static_cast<double>(row) * rb;
    Buffer& buf = mine[target.buffer];
    if (mode == OutputMode::kWrite) return put(buf, at, Cell{rb, true, {}, pairs});
    const auto it = buf.find(at);
    REQUIRE(it != buf.end());
    CHECK((it->second.grad && it->second.size == rb));
    for (const auto& [pair, n] : pairs) it->second.pairs[pair] += n;
  };
  for (long long i = 0; i < b.q.count; ++i)
    land(b.grad_q, b.grad_q_mode, Tensor::kGradQ, h, b.grad_q.offset + i, dq[static_cast<std::size_t>(i)]);
  for (long long k = 0; k < b.kv.count; ++k) {
    const long long row = b.kv_part >= 0 ? b.grad_kv.offset + k : kv_row(b.grad_kv.offset + k).first;
    land(b.grad_kv, b.grad_kv_mode, Tensor::kGradKv, kvh, row, dkv[static_cast<std::size_t>(k)]);
  }
}

void BackwardWalk::stream_block(long long d, const Block& b) {
  auto& mine = mem_[static_cast<std::size_t>(d)];
  const bool kv_side = b.tensor == Tensor::kKv || b.tensor == Tensor::kGradKv;
  const int heads = kv_side ? b.kv_heads : b.heads;
  switch (b.kind) {
    case BlockKind::kDelta:
      for (long long i = 0; i < b.dout.count; ++i) {
        const auto cell = [&](const Slice& sl, Tensor t) {
          const auto it = mine[sl.buffer].find(sl.base_bytes + static_cast<double>(sl.offset + i) * row_bytes(t, b.heads, sl.buffer));
          REQUIRE(it != mine[sl.buffer].end());
          CHECK(it->second.label.tensor == t);
          return it->second.label;
        };
        Label dout = cell(b.dout, Tensor::kDO), out = cell(b.out, Tensor::kO);
        CHECK((dout.part == out.part && dout.row == out.row && dout.head == out.head));
        dout.tensor = Tensor::kDelta;
        const double rb = row_bytes(Tensor::kDelta, b.heads, b.delta.buffer);
        put(mine[b.delta.buffer], b.delta.base_bytes + static_cast<double>(b.delta.offset + i) * rb, Cell{rb, false, dout, {}});
      }
      return;
    case BlockKind::kCopy:
      return rows_copy(d, b.q, b.out, b.out.count, row_bytes(b.tensor, heads, b.q.buffer),
                       row_bytes(b.tensor, heads, b.out.buffer), false);
    case BlockKind::kZero: {
      const double rb = row_bytes(b.tensor, heads, b.out.buffer);
      for (long long i = 0; i < b.out.count; ++i)
        put(mine[b.out.buffer], b.out.base_bytes + static_cast<double>(b.out.offset + i) * rb, Cell{rb, true, {}, {}});
      return;
    }
    case BlockKind::kGradAdd:  // kWrite: the first slot written, the others added
      for (long long slot = 0; slot < b.merges; ++slot)
        rows_copy(d, Slice{b.q.buffer, b.q.offset + slot * b.out.count, b.out.count, b.q.base_bytes}, b.out,
                  b.out.count, row_bytes(b.tensor, heads, b.q.buffer), row_bytes(b.tensor, heads, b.out.buffer),
                  slot > 0 || b.output == OutputMode::kAdd);
      return;
    default:
      FAIL("a backward program computes a forward block");
  }
}

// Byte ranges a block reads and writes (not for the gathered sequence, whose rows the executor permutes).
void BackwardWalk::compute(long long d, const ComputeWork& w, const std::vector<Message>& sends,
                           const std::vector<Message>& recvs) {
  for (int n = 0; n < w.count; ++n) {
    const Block& b = w.blocks[static_cast<std::size_t>(n)];
    const auto touches = [&](const std::vector<Message>& ms, bool mine_sends, const Slice& sl, Tensor t, int heads) {
      if (sl.buffer == kNoBuffer || sl.count == 0) return;
      const double rb = row_bytes(t, heads, sl.buffer);
      const double lo = sl.base_bytes + static_cast<double>(sl.offset) * rb, hi = lo + static_cast<double>(sl.count) * rb;
      for (const Message& m : ms)
        CHECK_FALSE(((mine_sends ? m.src : m.dst) == d && m.buffer == sl.buffer && overlaps(m.offset, m.offset + m.bytes, lo, hi)));
    };
    if (b.kind == BlockKind::kAttentionBackward) {
      for (const auto& [sl, t, heads] : {std::tuple{b.q, Tensor::kQ, b.heads}, std::tuple{b.dout, Tensor::kDO, b.heads},
                                         std::tuple{b.lse, Tensor::kLse, b.heads}, std::tuple{b.delta, Tensor::kDelta, b.heads}})
        touches(recvs, false, sl, t, heads);  // nothing is read while it is still arriving
      touches(recvs, false, b.grad_q, Tensor::kGradQ, b.heads);
      touches(sends, true, b.grad_q, Tensor::kGradQ, b.heads);  // nor written while it is being sent
      if (b.kv_part >= 0) {
        touches(recvs, false, b.kv, Tensor::kKv, b.kv_heads);
        touches(recvs, false, b.grad_kv, Tensor::kGradKv, b.kv_heads);
        touches(sends, true, b.grad_kv, Tensor::kGradKv, b.kv_heads);
      }
      backward_block(d, b);
    } else {
      if (b.kind != BlockKind::kDelta) {
        const int heads = b.tensor == Tensor::kKv || b.tensor == Tensor::kGradKv ? b.kv_heads : b.heads;
        touches(recvs, false, b.out, b.tensor, heads);
        touches(sends, true, b.out, b.tensor, heads);
      }
      stream_block(d, b);
    }
  }
}

}  // namespace ringsim::test
