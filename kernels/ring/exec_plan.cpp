// The executor's view of a schedule's programs: see exec_plan.hpp.
#include "kernels/ring/exec_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "sim/cost_context.hpp"
#include "sim/schedule.hpp"

namespace ringsim::ring {

namespace {

std::int64_t whole_bytes(double bytes, const char* what) {
  const double r = std::round(bytes);
  if (bytes < 0 || std::fabs(bytes - r) > 1e-6 * std::max(1.0, r))
    throw std::logic_error(fmt::format("exec plan: {} of {} bytes is not a whole number of bytes", what, bytes));
  return static_cast<std::int64_t>(r);
}

// grad_bytes: an element of attention.grad_dtype. A bundle's rows have no
// one size (its slices are sized by role): 0.
std::int64_t row_bytes_of(BufferFormat f, int heads, const AttentionShape& m, std::int64_t grad_bytes) {
  const std::int64_t d = m.head_dim, e = element_bytes(m);
  switch (f) {
    case BufferFormat::kQueries:
    case BufferFormat::kOutput: return heads * d * e;
    case BufferFormat::kKeysValues: return 2 * heads * d * e;
    case BufferFormat::kAccumulator:
    case BufferFormat::kGradQueriesFp32: return heads * d * 4;
    case BufferFormat::kPartials: return heads * (d * e + 4);
    case BufferFormat::kRowStats: return heads * 4;
    case BufferFormat::kGradQueries: return heads * d * grad_bytes;
    case BufferFormat::kGradKeysValues: return 2 * heads * d * grad_bytes;
    case BufferFormat::kGradKeysValuesFp32: return 2 * heads * d * 4;
    case BufferFormat::kOpaque:
    case BufferFormat::kBundle: return 0;
  }
  return 0;
}

}  // namespace

int element_bytes(const AttentionShape& m) { return m.dtype == DType::kFp32 ? 4 : 2; }

kernels::Mask kernel_mask(const Block& b) {
  switch (b.mask) {
    case MaskKind::kFull: return kernels::Mask::kFull;
    case MaskKind::kZigzagDiagonal: return kernels::Mask::kZigzag;
    case MaskKind::kCausalDiagonal:
      if (b.diagonal_offset == 0) return kernels::Mask::kCausal;
      break;
  }
  throw Unsupported("attention.layout", "the chunk kernels have no strictly lower diagonal (a striped block of a "
                                        "later part): the real executor runs contiguous and zigzag layouts");
}

ExecPlan::ExecPlan(const Scenario& scn, const Point& pt, Pass pass_)
    : pass(pass_), shape(scn.shape), causal(scn.causal), sequence(Layout::kContiguous, 1, 1) {
  if (pass == Pass::kTraining) throw std::logic_error("exec plan: a training run is a forward plan and a backward plan");
  const Schedule& sched = checked_schedule(scn, pt);
  const PointAttention att = attention_of(scn, pt);
  if (att.documents)
    throw Unsupported("sequence.documents", "the real executor runs no document masks (the chunk kernels have none)");
  const CostContext costs(scn.profile, scn.shape);
  const PlanInput in{scn, pt, att, costs, nullptr, ::ringsim::ranks_per_gpu(scn, pt), pass};
  const std::unique_ptr<Plan> plan = sched.plan(in);
  const ScheduleProgram& program = plan->program();
  schedule = att.schedule;
  grad_dtype = att.grad_dtype;
  detail = plan->detail();
  causal = att.causal;
  sequence = program.sequence();
  devices = pt.ring_size;
  ranks_per_gpu = static_cast<int>(in.ranks_per_gpu);
  const BufferTable& table = *program.buffer_table();
  for (BufferId b = 0; b < table.size(); ++b)
    buffers.push_back(ExecBuffer{table.name(b), table.format(b), whole_bytes(table.bytes(b), "a buffer"), 0, 0});
  programs.resize(static_cast<std::size_t>(devices));
  for (long long d = 0; d < devices; ++d) {
    programs[static_cast<std::size_t>(d)].inputs = program.inputs(d);
    programs[static_cast<std::size_t>(d)].outputs = program.outputs(d);
    walk(program, d);
  }
  match_transfers();
  infer_heads();
  infer_backward();
  check_ranges();
  check_gathered();
  find_merge_slots();
  place_casts();
}

// The device's operations, round by round (a WAIT_ALL closes a round).
void ExecPlan::walk(const ScheduleProgram& program, long long d) {
  DeviceProgram& dp = programs[static_cast<std::size_t>(d)];
  dp.rounds.emplace_back();
  ProgramCursor c;
  bool posted = false;  // since the last WAIT_ALL
  for (Op op = program.next(d, c); op.kind != Op::kDone; op = program.next(d, c)) {
    const int round = static_cast<int>(dp.rounds.size()) - 1;
    posted = posted || op.kind == Op::kCompute || op.kind == Op::kSend || op.kind == Op::kRecv;
    switch (op.kind) {
      case Op::kAlloc:
        if (std::find(dp.allocated.begin(), dp.allocated.end(), op.buffer) == dp.allocated.end())
          dp.allocated.push_back(op.buffer);
        break;
      case Op::kCompute: {
        ExecCompute ec{d, round, op.label, {}};
        const ComputeWork w = program.work(d, c);
        for (int i = 0; i < w.count; ++i) ec.blocks.push_back(ExecBlock{w.blocks[static_cast<std::size_t>(i)], {}});
        for (const ExecBlock& b : ec.blocks) {
          if (b.block.kind != BlockKind::kAttention && b.block.kind != BlockKind::kMerge) continue;
          const BufferId out = b.block.out.buffer;
          if (buffers[static_cast<std::size_t>(out)].format != BufferFormat::kAccumulator) continue;
          if (dp.accumulator != kNoBuffer && dp.accumulator != out)
            throw std::logic_error("exec plan: a device's blocks write two accumulators");
          dp.accumulator = out;
        }
        dp.rounds.back().computes.push_back(static_cast<int>(computes.size()));
        computes.push_back(std::move(ec));
        break;
      }
      case Op::kSend: sends_.push_back({d, round, op}); break;
      case Op::kRecv: recvs_.push_back({d, round, op}); break;
      case Op::kWaitAll:
        dp.rounds.emplace_back();
        posted = false;
        break;
      case Op::kFree:
      case Op::kDone: break;
    }
  }
  if (!posted) dp.rounds.pop_back();  // nothing posted after the last WAIT_ALL (FREEs only)
}

// Each receive takes the first unmatched send of the same (src, dst, tag).
void ExecPlan::match_transfers() {
  std::map<std::tuple<long long, long long, std::uint64_t>, std::vector<std::size_t>> open;
  for (std::size_t i = sends_.size(); i-- > 0;) open[{sends_[i].device, sends_[i].op.peer, sends_[i].op.tag}].push_back(i);
  for (const Posted& r : recvs_) {
    auto it = open.find({r.op.peer, r.device, r.op.tag});
    if (it == open.end() || it->second.empty())
      throw std::logic_error(fmt::format("exec plan: device {} receives tag {} from {} that nobody sends", r.device,
                                         r.op.tag, r.op.peer));
    const Posted& s = sends_[it->second.back()];
    it->second.pop_back();
    ExecTransfer t;
    t.src = s.device;
    t.dst = r.device;
    t.tag = s.op.tag;
    t.src_buffer = s.op.buffer;
    t.dst_buffer = r.op.buffer;
    t.src_offset = whole_bytes(s.op.offset_bytes, "a send offset");
    t.dst_offset = whole_bytes(r.op.offset_bytes, "a receive offset");
    t.bytes = whole_bytes(s.op.bytes, "a send");
    if (t.bytes != whole_bytes(r.op.bytes, "a receive"))
      throw std::logic_error(fmt::format("exec plan: {} -> {} tag {}: send and receive sizes differ", t.src, t.dst, t.tag));
    t.src_round = s.round;
    t.dst_round = r.round;
    t.label = s.op.label;
    const int index = static_cast<int>(transfers.size());
    programs[static_cast<std::size_t>(t.src)].rounds[static_cast<std::size_t>(t.src_round)].sends.push_back(index);
    programs[static_cast<std::size_t>(t.dst)].rounds[static_cast<std::size_t>(t.dst_round)].recvs.push_back(index);
    transfers.push_back(t);
  }
  for (const auto& [key, left] : open)
    if (!left.empty())
      throw std::logic_error(fmt::format("exec plan: device {} sends tag {} to {} that nobody receives",
                                         std::get<0>(key), std::get<2>(key), std::get<1>(key)));
}

void ExecPlan::set_heads(BufferId id, int heads, const char* what) {
  ExecBuffer& b = buffers[static_cast<std::size_t>(id)];
  if (b.format == BufferFormat::kOpaque)
    throw std::logic_error(fmt::format("exec plan: {} names {}, a buffer of no row format", what, b.name));
  if (b.heads != 0 && b.heads != heads)
    throw std::logic_error(fmt::format("exec plan: {} rows hold {} heads here, {} elsewhere", b.name, heads, b.heads));
  b.heads = heads;
  b.row_bytes = row_bytes_of(b.format, heads, shape, grad_dtype == DType::kFp32 ? 4 : 2);
}

// Heads per row of every buffer a block or a placement reads as rows.
void ExecPlan::infer_heads() {
  for (const ExecCompute& c : computes) {
    for (const ExecBlock& eb : c.blocks) {
      const Block& b = eb.block;
      if (b.kind != BlockKind::kAttention && b.kind != BlockKind::kMerge) continue;  // infer_backward
      set_heads(b.q.buffer, b.heads, "a block's q");
      set_heads(b.out.buffer, b.heads, "a block's out");
      if (b.kind == BlockKind::kAttention) set_heads(b.kv.buffer, b.kv_heads, "a block's kv");
    }
  }
  for (const DeviceProgram& dp : programs) {
    for (const auto* list : {&dp.inputs, &dp.outputs})
      for (const Placement& p : *list) set_heads(p.buffer, p.heads, "a placement");
    if (dp.accumulator != kNoBuffer)
      for (std::size_t b = 0; b < buffers.size(); ++b)
        if (buffers[b].format == BufferFormat::kOutput && buffers[b].heads == 0)
          set_heads(static_cast<BufferId>(b), buffers[static_cast<std::size_t>(dp.accumulator)].heads, "a cast");
  }
}

int ExecPlan::rounds() const {
  int n = 0;
  for (const DeviceProgram& dp : programs) n = std::max(n, static_cast<int>(dp.rounds.size()));
  return n;
}

long long ExecPlan::position(const Placement& p, long long row) const {
  return Placement::kv_rows(p.tensor) ? sequence.kv_position(p.part, p.row + row)
                                            : sequence.position(p.part, p.row + row);
}

std::vector<int> ExecPlan::fifo(int gpu) const {
  std::vector<std::vector<int>> per(static_cast<std::size_t>(ranks_per_gpu));
  for (int i = 0; i < static_cast<int>(computes.size()); ++i)
    if (computes[static_cast<std::size_t>(i)].device / ranks_per_gpu == gpu)
      per[static_cast<std::size_t>(computes[static_cast<std::size_t>(i)].device % ranks_per_gpu)].push_back(i);
  std::vector<int> out;
  for (std::size_t k = 0;; ++k) {
    bool any = false;
    for (const auto& list : per) {
      if (k < list.size()) out.push_back(list[k]), any = true;
    }
    if (!any) break;
  }
  for (const auto& list : per)
    if (list.size() != per[0].size())
      throw std::logic_error("exec plan: devices sharing a GPU post different numbers of computes (the GPU's "
                             "in-order stream would wait forever)");
  return out;
}

namespace {

// Whether the union of [lo, hi) intervals covers [a, b).
bool covers(std::vector<std::pair<std::int64_t, std::int64_t>> iv, std::int64_t a, std::int64_t b) {
  std::sort(iv.begin(), iv.end());
  for (const auto& [lo, hi] : iv) {
    if (lo > a) break;
    a = std::max(a, hi);
  }
  return a >= b;
}

}  // namespace

// kMerge blocks: the slots of their partials the device received before the
// compute's round (empty blocks send nothing).
void ExecPlan::find_merge_slots() {
  for (ExecCompute& c : computes) {
    const DeviceProgram& dp = programs[static_cast<std::size_t>(c.device)];
    for (ExecBlock& eb : c.blocks) {
      const Block& b = eb.block;
      if (b.kind != BlockKind::kMerge) continue;
      if (b.out.count <= 0 || b.q.count % b.out.count != 0)
        throw std::logic_error("exec plan: a merge's partials are not whole slots of its output rows");
      std::vector<std::pair<std::int64_t, std::int64_t>> got;
      for (int r = 0; r < c.round; ++r)
        for (int t : dp.rounds[static_cast<std::size_t>(r)].recvs) {
          const ExecTransfer& x = transfers[static_cast<std::size_t>(t)];
          if (x.dst_buffer == b.q.buffer) got.emplace_back(x.dst_offset, x.dst_offset + x.bytes);
        }
      const std::int64_t slot_bytes = b.out.count * buffers[static_cast<std::size_t>(b.q.buffer)].row_bytes;
      for (long long k = 0; k < b.q.count / b.out.count; ++k) {
        const std::int64_t lo = row_offset(b.q) + k * slot_bytes;
        if (covers(got, lo, lo + slot_bytes)) eb.merge_slots.push_back(k);
      }
      if (static_cast<long long>(eb.merge_slots.size()) != b.merges)
        throw std::logic_error(fmt::format("exec plan: device {} merges {} partials but received {}", c.device,
                                           b.merges, eb.merge_slots.size()));
    }
  }
}

// kOutput buffers no receive fills: cast from the accumulator before the
// first send of them (or at the end, when they are outputs nothing sends).
void ExecPlan::place_casts() {
  for (long long d = 0; d < devices; ++d) {
    DeviceProgram& dp = programs[static_cast<std::size_t>(d)];
    for (BufferId b = 0; b < static_cast<BufferId>(buffers.size()); ++b) {
      if (buffers[static_cast<std::size_t>(b)].format != BufferFormat::kOutput) continue;
      bool received = false, output = false;
      int first_send = -1;
      for (const ExecTransfer& t : transfers) {
        received = received || (t.dst == d && t.dst_buffer == b);
        if (t.src == d && t.src_buffer == b && (first_send < 0 || t.src_round < first_send)) first_send = t.src_round;
      }
      for (const Placement& p : dp.outputs) output = output || p.buffer == b;
      if (received || (first_send < 0 && !output)) continue;
      if (dp.accumulator == kNoBuffer)
        throw std::logic_error("exec plan: " + buffers[static_cast<std::size_t>(b)].name + " needs an accumulator to cast");
      const ExecBuffer& acc = buffers[static_cast<std::size_t>(dp.accumulator)];
      if (acc.bytes * element_bytes(shape) != buffers[static_cast<std::size_t>(b)].bytes * 4)
        throw std::logic_error("exec plan: " + buffers[static_cast<std::size_t>(b)].name + " is not the accumulator's size");
      if (first_send < 0) dp.rounds.emplace_back();
      const int r = first_send < 0 ? static_cast<int>(dp.rounds.size()) - 1 : first_send;
      for (std::size_t k = static_cast<std::size_t>(r); k < dp.rounds.size(); ++k)
        for (int c : dp.rounds[k].computes)
          for (const ExecBlock& eb : computes[static_cast<std::size_t>(c)].blocks)
            if (eb.block.out.buffer == dp.accumulator)
              throw std::logic_error("exec plan: the accumulator is written after it is cast to " +
                                     buffers[static_cast<std::size_t>(b)].name);
      dp.rounds[static_cast<std::size_t>(r)].casts.push_back(b);
    }
  }
}

void ExecPlan::check_ranges() const {
  const auto rows = [&](const Slice& s, const char* what) {
    const ExecBuffer& b = buffers[static_cast<std::size_t>(s.buffer)];
    if (s.offset < 0 || s.count < 0 || s.offset + s.count > b.rows())
      throw std::logic_error(fmt::format("exec plan: a block's {} rows [{}, {}) pass the end of {} ({} rows)", what,
                                         s.offset, s.offset + s.count, b.name, b.rows()));
  };
  for (const ExecCompute& c : computes)
    for (const ExecBlock& eb : c.blocks) {
      if (eb.block.kind != BlockKind::kAttention && eb.block.kind != BlockKind::kMerge) continue;  // infer_backward
      rows(eb.block.q, "q");
      rows(eb.block.out, "out");
      if (eb.block.kind == BlockKind::kAttention) rows(eb.block.kv, "kv");
    }
  const auto bytes = [&](BufferId id, std::int64_t lo, std::int64_t n, const char* what) {
    const ExecBuffer& b = buffers[static_cast<std::size_t>(id)];
    if (lo < 0 || n < 0 || lo + n > b.bytes)
      throw std::logic_error(fmt::format("exec plan: {} [{}, {}) passes the end of {} ({} bytes)", what, lo, lo + n,
                                         b.name, b.bytes));
  };
  for (const ExecTransfer& t : transfers) {
    bytes(t.src_buffer, t.src_offset, t.bytes, "a send");
    bytes(t.dst_buffer, t.dst_offset, t.bytes, "a receive");
  }
  for (const DeviceProgram& dp : programs)
    for (const auto* list : {&dp.inputs, &dp.outputs})
      for (const Placement& p : *list)
        bytes(p.buffer, whole_bytes(p.offset_bytes, "a placement"),
              p.rows * buffers[static_cast<std::size_t>(p.buffer)].row_bytes, "a placement");
}

// A block over part of a gathered sequence reads its K/V rows in position
// order; the gathered buffer holds them in part order (all-gather's slots).
// The two agree only for a contiguous layout with no cached prefix.
void ExecPlan::check_gathered() const {
  const bool ordered = sequence.parts() == 1 || (sequence.layout() == Layout::kContiguous && sequence.cached_tokens() == 0);
  for (const ExecCompute& c : computes)
    for (const ExecBlock& eb : c.blocks) {
      const Block& b = eb.block;
      const bool attends = b.kind == BlockKind::kAttention || b.kind == BlockKind::kAttentionBackward;
      if (!attends || b.kv_part >= 0 || ordered) continue;
      if (b.kv.offset == 0 && b.kv.count == buffers[static_cast<std::size_t>(b.kv.buffer)].rows()) continue;
      throw Unsupported(sequence.cached_tokens() ? "sequence.cached_tokens" : "attention.layout",
                        fmt::format("{} reads the gathered K/V in position order, which the executor holds in part "
                                    "order (it runs no permutation): causal attention needs a contiguous layout "
                                    "without a cached prefix", schedule));
    }
}

}  // namespace ringsim::ring
