// sim/schedules + kernels/ring/exec_plan + exec_order: every schedule's
// program, run by an fp64 CPU executor that follows nothing but the program
// as ExecPlan reads it (rounds, matched transfers by buffer and byte offset,
// blocks, byte layouts per BufferFormat, input and output placements, casts,
// merge slots), step by step in the CUDA executor's enqueue order (each step
// waiting only on completions enqueued before it) -- the description and the
// order the CUDA executor runs -- computes full attention over the whole
// sequence: every (position, head) of the output, exactly once over the
// devices, against an fp64 reference built independently from the hashed
// inputs (kernels/ring/ring_reference.hpp), to 1e-12.
//
// Memory: buffer b of a device is a vector of b.bytes doubles; the element at
// byte offset o is entry o (its other bytes unused), so transfers copy entry
// ranges and keep the program's byte layout exactly, in fp64.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "kernels/attention/attention_ref.hpp"
#include "kernels/ring/exec_order.hpp"
#include "kernels/ring/exec_plan.hpp"
#include "kernels/ring/ring_random.hpp"
#include "kernels/ring/ring_reference.hpp"
#include "fp64_replay.hpp"
#include "sim_fixtures.hpp"

using namespace ringsim;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kNegInf = -std::numeric_limits<double>::infinity();
using Rows = std::vector<double>;  // dense [rows][heads][head_dim] or [heads][rows]

// worst = max(worst, |error|), NaN winning (std::max would drop it).
void worse(double& worst, double error) {
  if (!(std::fabs(error) <= worst)) worst = std::isnan(error) ? error : std::fabs(error);
}

class Fp64Run {
 public:
  Fp64Run(const ring::ExecPlan& plan, std::uint64_t seed) : x_(plan), seed_(seed), dim_(plan.shape.head_dim),
      e_(ring::element_bytes(plan.shape)), mem_(static_cast<std::size_t>(plan.devices)), lse_(mem_.size()) {
    for (long long d = 0; d < x_.devices; ++d) {
      for (const ring::ExecBuffer& b : x_.buffers) {
        mem(d).emplace_back(static_cast<std::size_t>(b.bytes), kNaN);  // poison: NaN until written
        lse_[static_cast<std::size_t>(d)].emplace_back(static_cast<std::size_t>(b.rows() * b.heads), kNaN);
      }
      for (BufferId b = 0; b < static_cast<BufferId>(x_.buffers.size()); ++b)
        if (buf(b).format == BufferFormat::kPartials)  // rows no block writes carry -inf
          for (long long r = 0; r < buf(b).rows(); ++r)
            for (int h = 0; h < buf(b).heads; ++h) mem(d)[b][plse(b, r, h)] = kNegInf;
      for (const Placement& p : x_.programs[static_cast<std::size_t>(d)].inputs) fill(d, p);
    }
  }

  // In the host's enqueue order (kernels/ring/exec_order.hpp), each step
  // running at once: every completion a step waits on must come earlier.
  void run() {
    std::vector<ring::OpRef> done;
    for (long long d = 0; d < x_.devices; ++d) done.push_back({ring::OpRef::kGate, static_cast<int>(d), 0});
    const auto before = [&](const std::vector<ring::OpRef>& waits) {
      for (const ring::OpRef& r : waits) CHECK(std::find(done.begin(), done.end(), r) != done.end());
    };
    for (const ring::EnqueueStep& step : ring::enqueue_order(x_)) {
      for (const auto& w : step.waits) before(w);
      if (step.kind == ring::EnqueueStep::kCast) {
        const auto d = static_cast<std::size_t>(step.device);
        const ring::OpRef me{ring::OpRef::kCast, static_cast<int>(step.device), step.round};
        races_.enqueue(me, step.waits[0]);
        const BufferId acc = x_.programs[d].accumulator;
        races_.access(me, step.device, acc, 0, buf(acc).bytes, false);
        for (BufferId b : x_.programs[d].rounds[static_cast<std::size_t>(step.round)].casts) {
          races_.access(me, step.device, b, 0, buf(b).bytes, true);
          cast(step.device, b);
        }
        done.push_back(me);
      } else if (step.kind == ring::EnqueueStep::kCompute) {
        const ring::OpRef me{ring::OpRef::kCompute, step.compute, 0};
        races_.enqueue(me, step.waits[0]);
        for (const ring::ExecBlock& eb : x_.computes[static_cast<std::size_t>(step.compute)].blocks) {
          accesses(me, step.device, eb);
          block(step.device, eb);
        }
        done.push_back(me);
      } else {
        CHECK((step.path != ring::TransferPath::kShared || x_.ranks_per_gpu == 1));
        for (std::size_t i = 0; i < step.transfers.size(); ++i)
          for (const ring::OpRef& r : test::replay_transfer(races_, x_, step, i, mem_)) done.push_back(r);
      }
    }
    CHECK(done.size() == static_cast<std::size_t>(x_.devices) + x_.computes.size() + 2 * x_.transfers.size() + casts());
  }

  // Every (position, head) of the output against the fp64 reference.
  void check() const {
    const AttentionShape& m = x_.shape;
    const long long cached = x_.sequence.cached_tokens(), tokens = x_.sequence.tokens();
    std::vector<int> seen(static_cast<std::size_t>(tokens * m.q_heads), 0);
    const ring::ReferenceInputs in{seed_, cached + tokens, static_cast<int>(m.q_heads), static_cast<int>(m.kv_heads),
                                   dim_, x_.causal};
    double worst_o = 0, worst_lse = 0;
    for (long long d = 0; d < x_.devices; ++d) {
      for (const Placement& p : x_.programs[static_cast<std::size_t>(d)].outputs) {
        const ring::ExecBuffer& b = buf(p.buffer);
        const std::int64_t base = static_cast<std::int64_t>(p.offset_bytes) / b.row_bytes;  // whole rows
        for (int h = 0; h < p.heads; ++h) {
          const int head = p.head_first + h;
          const ring::ReferenceKv ref(in, head / static_cast<int>(m.q_heads / m.kv_heads));
          for (long long r = 0; r < p.rows; ++r) {
            const long long pos = x_.position(p, r);
            ++seen[static_cast<std::size_t>(pos * m.q_heads + head)];
            std::vector<double> o(static_cast<std::size_t>(dim_));
            double lse = 0;
            ref.row(cached + pos, head, o.data(), &lse);
            const std::size_t at = static_cast<std::size_t>((base + r) * b.row_bytes + h * dim_ * elem(b.format));
            for (int i = 0; i < dim_; ++i)
              worse(worst_o, mem(d)[p.buffer][at + static_cast<std::size_t>(i * elem(b.format))] - o[static_cast<std::size_t>(i)]);
            if (b.format == BufferFormat::kAccumulator)
              worse(worst_lse, lse_[static_cast<std::size_t>(d)][p.buffer][lidx(p.buffer, base + r, h)] - lse);
          }
        }
      }
    }
    CHECK(worst_o < 1e-12);  // NaN (a row nobody wrote) fails
    CHECK(worst_lse < 1e-12);
    CHECK(std::count(seen.begin(), seen.end(), 1) == static_cast<long long>(seen.size()));
  }

 private:
  // The bytes a block reads and writes (RaceCheck).
  void accesses(const ring::OpRef& me, long long d, const ring::ExecBlock& eb) {
    const Block& b = eb.block;
    const auto rows = [&](const Slice& sl, bool write) {
      const std::int64_t lo = x_.row_offset(sl);
      races_.access(me, d, sl.buffer, lo, lo + sl.count * buf(sl.buffer).row_bytes, write);
    };
    rows(b.q, false);
    if (b.kind == BlockKind::kAttention) rows(b.kv, false);
    rows(b.out, true);
  }
  std::size_t casts() const {
    std::size_t n = 0;
    for (const ring::DeviceProgram& dp : x_.programs)
      for (const ring::ExecRound& r : dp.rounds) n += !r.casts.empty();
    return n;
  }
  const ring::ExecBuffer& buf(BufferId b) const { return x_.buffers[static_cast<std::size_t>(b)]; }
  std::vector<std::vector<double>>& mem(long long d) { return mem_[static_cast<std::size_t>(d)]; }
  const std::vector<std::vector<double>>& mem(long long d) const { return mem_[static_cast<std::size_t>(d)]; }
  int elem(BufferFormat f) const { return f == BufferFormat::kAccumulator ? 4 : e_; }
  // Byte offsets of (row, head, i): outputs and queries (K of kKeysValues); V; a partial row's lse.
  std::size_t at(BufferId b, long long r, int h, int i) const {
    return static_cast<std::size_t>(r * buf(b).row_bytes + (static_cast<long long>(h) * dim_ + i) * elem(buf(b).format));
  }
  std::size_t vat(BufferId b, long long r, int h, int i) const { return at(b, r, h + buf(b).heads, i); }
  std::size_t plse(BufferId b, long long r, int h) const { return at(b, r, buf(b).heads, 0) + static_cast<std::size_t>(h) * 4; }
  std::size_t lidx(BufferId b, long long r, int h) const { return static_cast<std::size_t>(h * buf(b).rows() + r); }

  void fill(long long d, const Placement& p) {
    const AttentionShape& m = x_.shape;
    const long long cached = x_.sequence.cached_tokens();
    const BufferId b = p.buffer;
    const long long r0 = static_cast<long long>(p.offset_bytes) / buf(b).row_bytes;
    for (long long r = 0; r < p.rows; ++r) {
      const auto token = static_cast<std::uint64_t>(cached + x_.position(p, r));
      for (int h = 0; h < p.heads; ++h)
        for (int i = 0; i < dim_; ++i) {
          const auto value = [&](ring::Tensor t, long long heads) {
            return ring::bf16_bits_to_double(ring::random_bf16_bits(seed_, t, (token * heads + p.head_first + h) * dim_ + i));
          };
          if (p.tensor == Placement::kKeysValues) {
            mem(d)[b][at(b, r0 + r, h, i)] = value(ring::Tensor::kK, m.kv_heads);
            mem(d)[b][vat(b, r0 + r, h, i)] = value(ring::Tensor::kV, m.kv_heads);
          } else {
            mem(d)[b][at(b, r0 + r, h, i)] = value(ring::Tensor::kQ, m.q_heads);
          }
        }
    }
  }

  Rows gather(long long d, const Slice& s, int heads, bool values) const {
    Rows out;
    for (long long r = s.offset; r < s.offset + s.count; ++r)
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < dim_; ++i) out.push_back(mem(d)[s.buffer][values ? vat(s.buffer, r, h, i) : at(s.buffer, r, h, i)]);
    return out;
  }
  // (o, lse) of rows of an accumulator or partials buffer; a partial row of
  // lse -inf has no output (its o is not read: 0 here).
  void read_out(long long d, const Slice& s, Rows& o, Rows& lse) const {
    const int heads = buf(s.buffer).heads;
    o = gather(d, s, heads, false);
    lse.assign(static_cast<std::size_t>(heads * s.count), 0);
    for (int h = 0; h < heads; ++h)
      for (long long r = 0; r < s.count; ++r) {
        double& l = lse[static_cast<std::size_t>(h * s.count + r)];
        l = buf(s.buffer).format == BufferFormat::kPartials ? mem(d)[s.buffer][plse(s.buffer, s.offset + r, h)]
                                                            : lse_[static_cast<std::size_t>(d)][s.buffer][lidx(s.buffer, s.offset + r, h)];
        if (l == kNegInf)
          for (int i = 0; i < dim_; ++i) o[static_cast<std::size_t>(((r * heads) + h) * dim_ + i)] = 0;
      }
  }
  void write_out(long long d, const Slice& s, const Rows& o, const Rows& lse) {
    const int heads = buf(s.buffer).heads;
    for (long long r = 0; r < s.count; ++r)
      for (int h = 0; h < heads; ++h) {
        for (int i = 0; i < dim_; ++i) mem(d)[s.buffer][at(s.buffer, s.offset + r, h, i)] = o[static_cast<std::size_t>((r * heads + h) * dim_ + i)];
        const double l = lse[static_cast<std::size_t>(h * s.count + r)];
        if (buf(s.buffer).format == BufferFormat::kPartials) mem(d)[s.buffer][plse(s.buffer, s.offset + r, h)] = l;
        else lse_[static_cast<std::size_t>(d)][s.buffer][lidx(s.buffer, s.offset + r, h)] = l;
      }
  }

  void block(long long d, const ring::ExecBlock& eb) {
    const Block& b = eb.block;
    Rows acc_o, acc_lse;
    if (b.kind == BlockKind::kMerge) {
      read_out(d, b.out, acc_o, acc_lse);
      for (long long k : eb.merge_slots) {
        Rows o, lse;
        read_out(d, Slice{b.q.buffer, b.q.offset + k * b.out.count, b.out.count}, o, lse);
        kernels::attention_merge_cpu(b.out.count, b.heads, dim_, acc_o.data(), acc_lse.data(), b.out.count, o.data(),
                                     lse.data(), b.out.count);
      }
      write_out(d, b.out, acc_o, acc_lse);
      return;
    }
    const Rows q = gather(d, b.q, b.heads, false), k = gather(d, b.kv, b.kv_heads, false),
               v = gather(d, b.kv, b.kv_heads, true);
    Rows o(q.size()), lse(static_cast<std::size_t>(b.heads * b.q.count));
    kernels::attention_forward_cpu(kernels::RefShape{b.heads, b.kv_heads, dim_, b.q.count, b.kv.count, ring::kernel_mask(b)},
                                   q.data(), k.data(), v.data(), o.data(), lse.data());
    if (b.output == OutputMode::kMerge) {
      read_out(d, b.out, acc_o, acc_lse);
      kernels::attention_merge_cpu(b.q.count, b.heads, dim_, acc_o.data(), acc_lse.data(), b.q.count, o.data(),
                                   lse.data(), b.q.count);
      o = acc_o, lse = acc_lse;
    }
    write_out(d, b.out, o, lse);
  }

  void cast(long long d, BufferId to) {
    const BufferId acc = x_.programs[static_cast<std::size_t>(d)].accumulator;
    Rows o, lse;
    read_out(d, Slice{acc, 0, buf(acc).rows()}, o, lse);
    for (long long r = 0; r < buf(acc).rows(); ++r)
      for (int h = 0; h < buf(acc).heads; ++h)
        for (int i = 0; i < dim_; ++i) mem(d)[to][at(to, r, h, i)] = o[static_cast<std::size_t>((r * buf(acc).heads + h) * dim_ + i)];
  }

  const ring::ExecPlan& x_;
  std::uint64_t seed_;
  int dim_, e_;
  test::RaceCheck races_;
  std::vector<std::vector<std::vector<double>>> mem_;  // [device][buffer][byte]
  std::vector<std::vector<std::vector<double>>> lse_;  // accumulators' lse [device][buffer][head * rows + row]
};

struct Case {
  std::string schedule;
  long long ring;
  bool causal;
  Layout layout;
  long long cached = 0, ulysses = 0, inner = 0, rpg = 1;
  UlyssesPlacement placement = UlyssesPlacement::kInsideNode;
};

Scenario scenario_of(const Case& c) {
  Scenario s = test::schedule_scenario(
      {c.schedule, 16 * c.ring, c.ring, c.causal, c.layout, c.cached, c.ulysses, c.inner, c.placement});
  s.ranks_per_gpu = static_cast<int>(c.rpg);
  return s;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  test::for_each_schedule_point(8, [&](const std::string& s, long long ring, bool causal, Layout layout, long long cached) {
    Case c{s, ring, causal, layout, cached};
    if (s == "double-ring" && ring >= 4) c.inner = 2;
    out.push_back(c);
    if (ring >= 4 && !cached) {  // two ranks per GPU: empty compute slots keep the GPU's order
      c.rpg = 2;
      out.push_back(c);
    }
    if (s == "usp" && ring >= 4) {
      c.rpg = 1;
      c.placement = UlyssesPlacement::kAcrossNodes;
      out.push_back(c);
    }
  });
  return out;
}

}  // namespace

TEST_CASE("kernels/ring exec plan: every schedule's program, run in fp64 as described, is full attention") {
  int ran = 0, refused = 0;
  for (const Case& c : cases()) {
    CAPTURE(c.schedule);
    CAPTURE(c.ring);
    CAPTURE(c.causal);
    CAPTURE(layout_name(c.layout));
    CAPTURE(c.cached);
    CAPTURE(c.rpg);
    const Scenario s = scenario_of(c);
    // all-gather reads a causal sub-range of its gathered K/V in position
    // order, which its slots hold only for contiguous rings without a cache.
    const bool gathered_order = c.schedule == "all-gather" && c.causal && c.ring > 1 &&
                                (c.layout != Layout::kContiguous || c.cached > 0);
    if (gathered_order) {
      CHECK_THROWS_AS(ring::ExecPlan(s, s.points[0]), ring::Unsupported);
      ++refused;
      continue;
    }
    const ring::ExecPlan plan(s, s.points[0]);
    Fp64Run run(plan, 77 + static_cast<std::uint64_t>(c.ring));
    run.run();
    run.check();
    ++ran;
  }
  CHECK(ran > 100);
  CHECK(refused > 0);
}

TEST_CASE("kernels/ring exec plan: striped layouts and documents are refused by name") {
  Scenario s = scenario_of(Case{"pass-kv", 4, true, Layout::kStriped});
  const ring::ExecPlan plan(s, s.points[0]);  // the plan itself is fine
  CHECK(test::refuses_layout(plan));
  s = scenario_of(Case{"pass-kv", 2, true, Layout::kContiguous});
  s.documents = DocumentSpec{{}, 3, LengthDistribution::kExponential, 1.0, 3};
  CHECK_THROWS_AS(ring::ExecPlan(s, s.points[0]), ring::Unsupported);
}
