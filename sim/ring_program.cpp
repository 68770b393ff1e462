// Blocks, costs, routes and the event program of the pass-KV ring
// (see sim/ring_program.hpp for the model).
#include "sim/ring_program.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "models/flow_network.hpp"

namespace ringsim {

RingBlocks ring_blocks(const Scenario& scn, long long tokens, long long ring_size) {
  const long long per_device = tokens / ring_size;
  RingBlocks b;
  b.single = ring_size == 1;
  b.diagonal = BlockShape{per_device, per_device, MaskKind::kFull, true};
  b.lower = b.upper = b.diagonal;
  if (!scn.causal) return b;
  if (scn.layout == Layout::kContiguous) {
    b.diagonal.mask = MaskKind::kCausalDiagonal;
    b.upper_masked = true;
    return b;
  }
  const long long c = tokens / (2 * ring_size);  // zigzag: rank r holds chunks r and 2P-1-r
  b.diagonal = BlockShape{2 * c, 2 * c, MaskKind::kZigzagDiagonal, true};
  b.lower = BlockShape{2 * c, c, MaskKind::kFull, true};  // j < d: all queries, early kv chunk
  b.upper = BlockShape{c, 2 * c, MaskKind::kFull, true};  // j > d: late q chunk, both kv chunks
  return b;
}

RingCosts ring_costs(const ComputeModel& model, const RingBlocks& blocks, double transfer_bytes) {
  RingCosts c;
  auto eval = [&](const BlockShape& shape, BlockShares& share) {
    BlockCost cost = model.block_cost(shape);
    if (cost.source == CostSource::kEstimated) c.source = CostSource::kEstimated;
    share.copy = model.transfer_share(shape, TransferKind::kCopy, transfer_bytes);
    share.link = model.transfer_share(shape, TransferKind::kLink, transfer_bytes);
    return cost.time_ns;
  };
  c.diagonal_ns = eval(blocks.diagonal, c.diagonal_share);
  if (blocks.single) return c;
  c.lower_ns = eval(blocks.lower, c.lower_share);
  c.upper_ns = blocks.upper_masked ? 0 : eval(blocks.upper, c.upper_share);
  return c;
}

TimeNs RingCosts::device_compute_ns(long long d, long long ring_size) const {
  __int128 sum = static_cast<__int128>(diagonal_ns) + static_cast<__int128>(lower_ns) * d +
                 static_cast<__int128>(upper_ns) * (ring_size - 1 - d);
  if (sum > kTimeNever) throw TimeOverflow("device compute time exceeds 2^63 ns (292 years)");
  return static_cast<TimeNs>(sum);
}

TimeNs RingCosts::max_ns() const { return std::max({diagonal_ns, lower_ns, upper_ns}); }

double ring_transfer_bytes(const AttentionShape& shape, long long tokens, long long ring_size) {
  return 2.0 * static_cast<double>(tokens / ring_size) * shape.kv_heads * shape.head_dim *
         dtype_bytes(shape.dtype);
}

RingLinks ring_links(const Topology& topo, long long ring_size, double bytes) {
  RingLinks out;
  if (ring_size == 1) return out;
  out.tx_ns.resize(ring_size);
  std::vector<long long> user(static_cast<std::size_t>(topo.link_count()), -1);  // sender using it
  for (long long d = 0; d < ring_size; ++d) {
    Route r = topo.route(d, (d + 1) % ring_size);
    out.tx_ns[d] = checked_add_ns(r.latency_ns, transfer_time_ns(bytes, r.bytes_per_s));
    for (LinkId l : r.links) {
      long long& u = user[static_cast<std::size_t>(l)];
      if (u >= 0 && out.disjoint) {
        out.disjoint = false;
        out.why = fmt::format("link {} carries both {}->{} and {}->{}", l, u, (u + 1) % ring_size,
                              d, (d + 1) % ring_size);
      }
      u = d;
    }
  }
  return out;
}

namespace {
// Order of allocation at t = 0, then recv_kv0 at step 0 and recv_kv1 at step 1.
constexpr Buffer kWholePass[] = {Buffer::kReserved, Buffer::kQChunk,       Buffer::kOwnKv,
                                 Buffer::kOutAcc,   Buffer::kSoftmaxStats, Buffer::kWorkspace};
constexpr int kWholePassCount = 6;
}  // namespace

MemoryVerdict ring_memory(const BufferSizes& sizes, long long ring_size, double capacity_bytes) {
  DeviceMemory m(&sizes);
  for (Buffer b : kWholePass) m.alloc(b);
  if (ring_size > 1) {
    m.alloc(Buffer::kRecvKv0);
    m.alloc(Buffer::kRecvKv1);
  }
  return memory_verdict(sizes, m.peak_set(), m.peak_bytes(), capacity_bytes);
}

// Phases of step s: [0, 7) allocations, 7 SEND, 8 RECV, 9 COMPUTE, 10 WAIT_ALL.
// Step P: FREE every live buffer, then DONE.
Op RingProgram::next(long long d, ProgramCursor& cur) const {
  const long long s = cur.step;
  Op op;
  op.label = s;
  for (;;) {
    const int ph = cur.phase++;
    if (s == p_) {
      const int n_free = kWholePassCount + (p_ > 1 ? 2 : 0);
      if (ph >= n_free) return op;  // kDone
      op.kind = Op::kFree;
      op.buffer = ph < kWholePassCount ? kWholePass[ph] : (ph == kWholePassCount ? Buffer::kRecvKv0 : Buffer::kRecvKv1);
      return op;
    }
    if (ph < kWholePassCount) {
      if (s != 0) {  // allocations happen at step 0 only: skip their phases at once
        cur.phase = kWholePassCount;
        continue;
      }
      op.kind = Op::kAlloc;
      op.buffer = kWholePass[ph];
      return op;
    }
    const bool sends = s < p_ - 1;
    switch (ph) {
      case 6:
        if (p_ == 1 || s > 1) continue;
        op.kind = Op::kAlloc;
        op.buffer = s == 0 ? Buffer::kRecvKv0 : Buffer::kRecvKv1;
        return op;
      case 7:
        if (!sends) continue;
        op.kind = Op::kSend;
        op.peer = (d + 1) % p_;
        op.tag = static_cast<std::uint64_t>(s);
        op.bytes = bytes_;
        return op;
      case 8:
        if (!sends) continue;
        op.kind = Op::kRecv;
        op.peer = (d - 1 + p_) % p_;
        op.tag = static_cast<std::uint64_t>(s);
        return op;
      case 9:
        op.duration_ns = costs_.cost(d, s);
        if (op.duration_ns == 0 && !masked_slots_) continue;  // masked block: nothing to run
        op.kind = Op::kCompute;
        op.copy_share = costs_.share(d, s).copy;
        op.link_share = costs_.share(d, s).link;
        return op;
      default:
        cur.step = s + 1;
        cur.phase = s + 1 >= 2 && s + 1 < p_ ? 7 : 0;  // steps 2..P-1 have nothing before the SEND
        op.kind = Op::kWaitAll;
        return op;
    }
  }
}

}  // namespace ringsim
