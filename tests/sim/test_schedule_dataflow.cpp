// sim/schedules: the data each program moves. Programs are run symbolically,
// one WAIT_ALL round at a time, tracking which device's data every byte range
// of every buffer holds: sends carry the bytes their (buffer, offset, bytes)
// name, receives write them where theirs say. Each attention block must then
// read queries and keys that really came from the parts it claims, no compute
// may read a range still being received, and no two receives of a round may
// land on the same bytes. (The timing engine never looks at offsets; a real
// executor walking these programs does.)
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "sim_fixtures.hpp"

using namespace ringsim;

namespace {

struct Piece {
  double lo, hi;
  long long origin;  // device whose data this is; -1: nothing yet
};
using Content = std::vector<Piece>;  // sorted, disjoint

void write(Content& c, double lo, double hi, long long origin) {
  Content out;
  for (const Piece& p : c) {
    if (p.hi <= lo || p.lo >= hi) { out.push_back(p); continue; }
    if (p.lo < lo) out.push_back({p.lo, lo, p.origin});
    if (p.hi > hi) out.push_back({hi, p.hi, p.origin});
  }
  out.push_back({lo, hi, origin});
  std::sort(out.begin(), out.end(), [](const Piece& a, const Piece& b) { return a.lo < b.lo; });
  c = out;
}

// The origins over [lo, hi), relative to lo.
std::vector<Piece> read(const Content& c, double lo, double hi) {
  std::vector<Piece> out;
  for (const Piece& p : c)
    if (p.hi > lo && p.lo < hi) out.push_back({std::max(p.lo, lo) - lo, std::min(p.hi, hi) - lo, p.origin});
  return out;
}

bool from(const Content& c, double lo, double hi, long long origin) {
  double covered = 0;
  for (const Piece& p : read(c, lo, hi)) {
    if (p.origin != origin) return false;
    covered += p.hi - p.lo;
  }
  return covered == hi - lo;
}

struct Message {
  long long src, dst;
  std::uint64_t tag;
  BufferId buffer;
  double offset, bytes;
  std::vector<Piece> data;
};

class Walk {
 public:
  explicit Walk(const Scenario& s) : s_(s), planned_(test::plan_point(s, s.points[0])),
      program_(planned_->plan->program()), table_(*program_.buffer_table()), g_(program_.sequence()),
      p_(s.points[0].ring_size), content_(static_cast<std::size_t>(p_)) {
    usp_ = s.schedule == "usp" || s.schedule == "ulysses";
    u_ = s.schedule == "ulysses" ? p_ : (usp_ ? (s.ulysses_degree ? s.ulysses_degree : std::min<long long>(4, p_)) : 1);
    for (long long d = 0; d < p_; ++d) initial(d);
    for (long long d = 0; d < p_; ++d) check_inputs(d);
  }

  void run() {
    std::vector<ProgramCursor> cursor(static_cast<std::size_t>(p_));
    std::vector<bool> done(static_cast<std::size_t>(p_), false);
    for (int round = 0; std::count(done.begin(), done.end(), false) > 0; ++round) {
      REQUIRE(round < 100000);
      std::vector<Message> sends, recvs;
      std::vector<std::pair<long long, ComputeWork>> computes;
      for (long long d = 0; d < p_; ++d) {
        for (ProgramCursor& c = cursor[static_cast<std::size_t>(d)]; !done[static_cast<std::size_t>(d)];) {
          const Op op = program_.next(d, c);
          if (op.kind == Op::kDone) done[static_cast<std::size_t>(d)] = true;
          if (op.kind == Op::kWaitAll || op.kind == Op::kDone) break;
          Content& buf = content_[static_cast<std::size_t>(d)][op.buffer];
          if (op.kind == Op::kSend)
            sends.push_back({d, op.peer, op.tag, op.buffer, op.offset_bytes, op.bytes,
                             read(buf, op.offset_bytes, op.offset_bytes + op.bytes)});
          if (op.kind == Op::kRecv) recvs.push_back({op.peer, d, op.tag, op.buffer, op.offset_bytes, op.bytes, {}});
          if (op.kind == Op::kCompute) computes.emplace_back(d, program_.work(d, c));
        }
      }
      for (const auto& [d, w] : computes) check_compute(d, w, recvs);
      for (const auto& [d, w] : computes) write_partials(d, w);
      deliver(sends, recvs);
    }
  }

 private:
  // Rows x of a part originate on device ...: the part's own device, or
  // (Ulysses groups) the member holding rows [v r, (v+1) r).
  long long origin_of_row(long long part, long long row) const {
    if (!usp_) return part;
    const long long r_deg = p_ / u_, v = row / (g_.part_tokens() / u_);
    return s_.ulysses_placement == UlyssesPlacement::kInsideNode ? part * u_ + v : v * r_deg + part;
  }

  void initial(long long d) {
    auto& mine = content_[static_cast<std::size_t>(d)];
    for (BufferId b = 0; b < table_.size(); ++b) {
      const std::string& name = table_.name(b);
      const double bytes = table_.bytes(b);
      mine[b] = {{0, bytes, -1}};
      if (name == "q_chunk" || name == "own_kv" || name == "kv_chunk") write(mine[b], 0, bytes, d);
      if (name == "gathered_kv") write(mine[b], bytes / p_ * d, bytes / p_ * (d + 1), d);  // its own slot
      if (name == "q_heads" || name == "kv_heads") {  // the member's own rows, copied locally
        const long long v = s_.ulysses_placement == UlyssesPlacement::kInsideNode ? d % u_ : d / (p_ / u_);
        write(mine[b], bytes / u_ * v, bytes / u_ * (v + 1), d);
      }
    }
  }

  // The program's own inputs() (what a real executor fills) hold exactly
  // what initial() assumes: the same byte ranges, from the same devices.
  void check_inputs(long long d) const {
    std::map<BufferId, Content> placed;
    for (BufferId b = 0; b < table_.size(); ++b) placed[b] = {{0, table_.bytes(b), -1}};
    const double elem = 2;  // bf16
    for (const Placement& p : program_.inputs(d)) {
      const double row_bytes = p.heads * s_.shape.head_dim * elem * (p.tensor == Placement::kKeysValues ? 2 : 1);
      const double hi = p.offset_bytes + row_bytes * static_cast<double>(p.rows);
      CHECK(hi <= table_.bytes(p.buffer));
      write(placed[p.buffer], p.offset_bytes, hi, origin_of_row(p.part, p.row));
    }
    const auto& mine = content_[static_cast<std::size_t>(d)];
    for (BufferId b = 0; b < table_.size(); ++b) {
      CAPTURE(table_.name(b));
      for (const Piece& q : mine.at(b)) CHECK(from(placed[b], q.lo, q.hi, q.origin));
      for (const Piece& q : placed[b]) CHECK(from(mine.at(b), q.lo, q.hi, q.origin));
    }
  }

  void check_rows(long long d, const Slice& rows, long long part, long long buffer_rows) const {
    const Content& c = content_[static_cast<std::size_t>(d)].at(rows.buffer);
    const double rb = table_.bytes(rows.buffer) / static_cast<double>(buffer_rows);
    for (long long x = rows.offset; x < rows.offset + rows.count; ++x) {
      const long long cached = part >= 0 ? g_.cached_per_part() : 0;  // cached rows sit first in K/V buffers
      const long long origin = buffer_rows == g_.part_tokens() ? origin_of_row(part, x)
                                                               : (x < cached ? part : origin_of_row(part, x - cached));
      CHECK(from(c, rb * static_cast<double>(x), rb * static_cast<double>(x + 1), origin));
    }
  }

  void check_compute(long long d, const ComputeWork& w, const std::vector<Message>& recvs) const {
    for (int i = 0; i < w.count; ++i) {
      const Block& b = w.blocks[static_cast<std::size_t>(i)];
      for (const Message& m : recvs)  // nothing is read while it is still arriving
        CHECK_FALSE((m.dst == d && (m.buffer == b.q.buffer || m.buffer == b.kv.buffer)));
      if (b.kind != BlockKind::kAttention) continue;
      check_rows(d, b.q, b.q_part, g_.part_tokens());
      if (b.kv_part >= 0) {
        check_rows(d, b.kv, b.kv_part, g_.kv_rows());
      } else {  // the gathered sequence: slot j from device j
        const Content& c = content_[static_cast<std::size_t>(d)].at(b.kv.buffer);
        const double slot = table_.bytes(b.kv.buffer) / p_;
        for (long long j = 0; j < p_; ++j) CHECK(from(c, slot * j, slot * (j + 1), j));
      }
    }
  }

  // pass-q: a partial slot holds part q_part's result; a merge at home must
  // read only partials of its own part.
  void write_partials(long long d, const ComputeWork& w) {
    for (int i = 0; i < w.count; ++i) {
      const Block& b = w.blocks[static_cast<std::size_t>(i)];
      if (b.kind == BlockKind::kMerge) {
        for (const Piece& p : read(content_[static_cast<std::size_t>(d)].at(b.q.buffer), 0, table_.bytes(b.q.buffer)))
          CHECK((p.origin == -1 || p.origin == d));
      }
      if (b.kind != BlockKind::kAttention || table_.name(b.out.buffer) != "partials") continue;
      const double rb = table_.bytes(b.out.buffer) / static_cast<double>((p_ - 1) * g_.part_tokens());
      write(content_[static_cast<std::size_t>(d)][b.out.buffer], rb * static_cast<double>(b.out.offset),
            rb * static_cast<double>(b.out.offset + b.out.count), b.q_part);
    }
  }

  void deliver(const std::vector<Message>& sends, std::vector<Message>& recvs) {
    for (std::size_t i = 0; i < recvs.size(); ++i)
      for (std::size_t j = 0; j < i; ++j) {  // receives of one round never land on the same bytes
        const Message& a = recvs[i];
        const Message& b = recvs[j];
        CHECK_FALSE((a.dst == b.dst && a.buffer == b.buffer && a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes));
      }
    for (Message& r : recvs) {
      const auto it = std::find_if(sends.begin(), sends.end(), [&](const Message& m) {
        return m.src == r.src && m.dst == r.dst && m.tag == r.tag;
      });
      REQUIRE(it != sends.end());
      CHECK(it->bytes == r.bytes);
      Content& c = content_[static_cast<std::size_t>(r.dst)][r.buffer];
      for (const Piece& p : it->data) write(c, r.offset + p.lo, r.offset + p.hi, p.origin);
    }
  }

  const Scenario& s_;
  std::unique_ptr<test::Planned> planned_;
  const ScheduleProgram& program_;
  const BufferTable& table_;
  const SequenceLayout& g_;
  long long p_, u_ = 1;
  bool usp_ = false;
  std::vector<std::map<BufferId, Content>> content_;
};

}  // namespace

TEST_CASE("sim::schedules: every block reads data that came from the parts it names") {
  for (const char* name : {"pass-kv", "pass-q", "all-gather", "double-ring", "usp", "ulysses"}) {
    for (long long ring : {1LL, 2LL, 4LL, 8LL}) {
      for (Layout layout : {Layout::kContiguous, Layout::kZigzag, Layout::kStriped}) {
        for (long long cached : {0LL, 2LL}) {
          const std::string schedule = name;
          if ((schedule == "ulysses" && layout != Layout::kContiguous) ||
              (cached > 0 && (schedule == "usp" || schedule == "ulysses")))
            continue;
          CAPTURE(schedule);
          CAPTURE(ring);
          CAPTURE(layout_name(layout));
          CAPTURE(cached);
          Scenario s = test::ring_scenario(8 * ring, ring, true, layout, 4);
          s.shape = AttentionShape{8, 4, 16, DType::kBf16};
          s.schedule = schedule;
          s.cached_tokens = cached * ring;
          if (schedule == "double-ring" && ring >= 4) s.inner_ring = 2;
          for (UlyssesPlacement placement : {UlyssesPlacement::kInsideNode, UlyssesPlacement::kAcrossNodes}) {
            s.ulysses_placement = placement;
            Walk(s).run();
          }
        }
      }
    }
  }
}
