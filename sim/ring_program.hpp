// The pass-KV ring's forward pass, as both engines see it.
//
// P devices; device d sends to (d+1)%P and receives from (d-1+P)%P. At step s
// (0..P-1) device d holds the K/V block of rank j = (d - s) mod P. For
// s >= 1, j < d exactly when s <= d, so every step splits the devices into two
// ranges, [0, s) (j > d, "upper") and [s, P) (j < d, "lower"):
//   non-causal         every block kFull, q = kv = tokens/P
//   causal contiguous  s == 0 kCausalDiagonal; lower kFull; upper masked (0 ns)
//   causal zigzag      s == 0 kZigzagDiagonal q = kv = 2c; lower kFull q = 2c,
//                      kv = c; upper kFull q = c, kv = 2c   (c = tokens/(2P))
// Every computed block merges into the accumulator (merge = true).
// For s < P-1 each device sends its current block (2 * tokens/P * kv_heads *
// head_dim * dtype bytes) to its successor.
#pragma once
#include <string>
#include <vector>

#include "models/compute_model.hpp"
#include "models/memory_model.hpp"
#include "models/scenario.hpp"
#include "models/topology.hpp"
#include "sim/engine.hpp"

namespace ringsim {

struct RingBlocks {
  BlockShape diagonal, lower, upper;
  bool upper_masked = false;  // causal contiguous: nothing to compute
  bool single = false;        // P == 1: only the diagonal block exists
};
RingBlocks ring_blocks(const Scenario&, long long tokens, long long ring_size);

// The compute rate one in-flight transfer takes while a block runs
// (ComputeModel::transfer_share): a copy within a GPU, an end of a link.
struct BlockShares {
  double copy = 0, link = 0;
};

// Block costs and interference shares, evaluated once per distinct block shape.
struct RingCosts {
  TimeNs diagonal_ns = 0, lower_ns = 0, upper_ns = 0;
  CostSource source = CostSource::kCalibrated;  // kEstimated if any block is
  BlockShares diagonal_share, lower_share, upper_share;

  TimeNs cost(long long d, long long s) const {
    return s == 0 ? diagonal_ns : (s <= d ? lower_ns : upper_ns);
  }
  const BlockShares& share(long long d, long long s) const {
    return s == 0 ? diagonal_share : (s <= d ? lower_share : upper_share);
  }
  // Sum over the P steps of device d (d steps lower, P-1-d upper); throws
  // TimeOverflow past int64.
  TimeNs device_compute_ns(long long d, long long ring_size) const;
  // Every device has the same cost sequence.
  bool uniform() const { return lower_ns == upper_ns; }
  TimeNs max_ns() const;
};
// transfer_bytes: the ring's K/V message, for the shares' lookup.
RingCosts ring_costs(const ComputeModel&, const RingBlocks&, double transfer_bytes = 0);

double ring_transfer_bytes(const AttentionShape&, long long tokens, long long ring_size);
// The ring's routes, looked up once: tx_ns[d] = latency + transfer time of
// d -> d+1 alone on its route (empty for P == 1), and whether the P routes
// are pairwise link-disjoint (a use count per LinkId); `why` names a shared link.
struct RingLinks {
  std::vector<TimeNs> tx_ns;
  bool disjoint = true;
  std::string why;
};
RingLinks ring_links(const Topology&, long long ring_size, double bytes);

// The memory one device holds (all devices alike), replayed through one
// DeviceMemory in the order the event engine allocates.
MemoryVerdict ring_memory(const BufferSizes&, long long ring_size, double capacity_bytes);

// The ring as a Program for the event engine: per step ALLOC (steps 0, 1),
// SEND, RECV, COMPUTE, WAIT_ALL; FREE everything at the end.
class RingProgram : public Program {
 public:
  // masked_slots: a masked block still posts a 0 ns COMPUTE. With ranks
  // sharing a GPU it then keeps its turn in the GPU's in-order stream and the
  // device's next step waits for that turn, as in the real executor
  // (kernels/ring), which records the block's end on the shared stream.
  RingProgram(long long ring_size, const RingCosts& costs, double transfer_bytes,
              const BufferSizes& sizes, bool masked_slots = false)
      : p_(ring_size), costs_(costs), bytes_(transfer_bytes), sizes_(sizes), masked_slots_(masked_slots) {}
  Op next(long long device, ProgramCursor& cursor) const override;
  const BufferSizes* buffer_sizes() const override { return &sizes_; }

 private:
  long long p_;
  RingCosts costs_;
  double bytes_;
  BufferSizes sizes_;
  bool masked_slots_;
};

}  // namespace ringsim
