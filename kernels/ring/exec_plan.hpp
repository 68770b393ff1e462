// A schedule's programs (sim/schedule.hpp) walked once into what a real
// executor issues: per device its rounds (the operations between two
// WAIT_ALLs), every transfer matched by (src, dst, tag), every compute's work
// (sim/work.hpp), the buffers it allocates, the byte layout of every buffer
// (its BufferFormat and the heads of its rows), its inputs and its outputs.
// CPU only, no CUDA: the CUDA executor (ring_executor.hpp) and the fp64
// program test (tests/sim/test_schedule_fp64.cpp) both run from it, so the
// simulator, the executor and the test read one description of a schedule.
//
// Round semantics (as sim/engine.hpp runs them): round r of a device starts
// when every operation of its round r-1 is done; a transfer starts once its
// sender and its receiver have both started the rounds that post it; the
// computes of the devices sharing a GPU run one at a time in (compute index,
// device) order (fifo()), empty ones included.
//
// What the executor does beyond the program (the model charges none of it):
//   - a kOutput buffer that no receive fills is the device's accumulator cast
//     to the model's dtype, at the start of the first round that sends it (or
//     at the end, in a last round of its own, when nothing sends it);
//   - a kMerge block merges the slots of its partials that were received
//     (merge_slots), which must be as many as the block's `merges`.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/common/kernel_types.hpp"
#include "models/scenario.hpp"
#include "sim/schedule.hpp"

namespace ringsim::ring {

// A point the executor cannot run as the program describes it (the message
// names the key or the feature). validate turns it into an InputError.
class Unsupported : public std::invalid_argument {
 public:
  Unsupported(std::string key, const std::string& message) : std::invalid_argument(message), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

struct ExecBuffer {
  std::string name;
  BufferFormat format = BufferFormat::kOpaque;
  std::int64_t bytes = 0;
  int heads = 0;               // per row (kv heads for kKeysValues); 0: nothing says (never read as rows)
  std::int64_t row_bytes = 0;  // 0 when heads is 0
  std::int64_t rows() const { return row_bytes > 0 ? bytes / row_bytes : 0; }
};

struct ExecTransfer {
  long long src = 0, dst = 0;
  std::uint64_t tag = 0;
  BufferId src_buffer = kNoBuffer, dst_buffer = kNoBuffer;
  std::int64_t src_offset = 0, dst_offset = 0, bytes = 0;
  int src_round = 0, dst_round = 0;
  long long label = 0;
};

struct ExecBlock {
  Block block;
  std::vector<long long> merge_slots;  // kMerge: slots of `block.q` (of block.out.count rows) to merge
};

struct ExecCompute {
  long long device = 0;
  int round = 0;
  long long label = 0;
  std::vector<ExecBlock> blocks;  // empty: a compute slot with nothing to run (ranks sharing a GPU)
};

struct ExecRound {
  std::vector<int> computes, sends, recvs;  // indices into ExecPlan's lists
  std::vector<BufferId> casts;              // kOutput buffers cast from the accumulator at the start
};

struct DeviceProgram {
  std::vector<ExecRound> rounds;
  std::vector<BufferId> allocated;          // every buffer the program ALLOCs (once)
  std::vector<Placement> inputs, outputs;
  BufferId accumulator = kNoBuffer;         // the kAccumulator its blocks write, if any
};

class ExecPlan {
 public:
  // Plans the point's `pass` (kForward or kBackward; a training run is one
  // plan of each) with its schedule and walks every device's program.
  // Throws Unsupported for what no executor can run as described (packed
  // documents; a gathered K/V sub-range that is not in position order) and
  // std::logic_error where the program contradicts itself.
  ExecPlan(const Scenario&, const Point&, Pass pass = Pass::kForward);

  std::string schedule, detail;
  Pass pass = Pass::kForward;
  AttentionShape shape;
  DType grad_dtype = DType::kFp32;  // attention.grad_dtype: the gradients that travel
  bool causal = false;
  SequenceLayout sequence;
  long long devices = 0;
  int ranks_per_gpu = 1;
  int gpus() const { return static_cast<int>(devices / ranks_per_gpu); }

  // Devices slowed on purpose (ringsim validate's real stragglers, from the
  // scenario's faults.stragglers; empty: none): every compute of `device`
  // whose label is from_step or later takes `slowdown` (>= 1) times as long
  // on its card (ring_executor.hpp), as sim/fault_model.hpp charges it.
  struct SlowDevice {
    long long device = 0;
    double slowdown = 1;
    long long from_step = 0;
  };
  std::vector<SlowDevice> slow_devices;

  std::vector<ExecBuffer> buffers;  // by BufferId, the same for every device
  std::vector<DeviceProgram> programs;
  std::vector<ExecTransfer> transfers;
  std::vector<ExecCompute> computes;

  // Computes of GPU g in the order its one stream runs them (sim/engine.hpp:
  // cycling over its devices, one compute each per turn).
  std::vector<int> fifo(int gpu) const;
  int rounds() const;  // most rounds of any device
  std::int64_t row_offset(const Slice& s) const { return s.offset * buffers[static_cast<std::size_t>(s.buffer)].row_bytes; }
  // Backward slices (sim/work.hpp, row sizes by role): the bytes of one row
  // of `role` with `heads` heads (q heads; kv heads for K/V and dK/dV) in
  // buffer b, the bytes of one element of it, and where row `row` of a
  // slice starts (its base_bytes, then whole rows).
  std::int64_t role_row_bytes(BufferId b, ::ringsim::Tensor role, int heads) const;
  int role_element_bytes(BufferId b, ::ringsim::Tensor role) const;
  std::int64_t role_byte(const Slice& s, ::ringsim::Tensor role, int heads, long long row) const {
    return static_cast<std::int64_t>(s.base_bytes) + (s.offset + row) * role_row_bytes(s.buffer, role, heads);
  }
  // Position of row `row` of a placement's rows (queries/outputs: the part's
  // query rows; keys/values: its kv rows, cached rows first).
  long long position(const Placement&, long long row) const;

 private:
  void walk(const ScheduleProgram&, long long device);
  void match_transfers();
  void infer_heads();
  void set_heads(BufferId, int heads, const char* what);
  void find_merge_slots();
  void place_casts();
  void check_ranges() const;
  void infer_backward();  // exec_plan_backward.cpp
  void check_gathered() const;

  struct Posted {
    long long device;
    int round;
    Op op;
  };
  std::vector<Posted> sends_, recvs_;
};

// Bytes of one element of the model's dtype.
int element_bytes(const AttentionShape&);
// The chunk kernels' mask for an attention block; throws Unsupported for the
// striped layout's strict diagonal (key row j <= i - 1), which they lack.
kernels::Mask kernel_mask(const Block&);
// What the fused backward kernel runs (exec_plan_backward.cpp): throws
// Unsupported naming the key for a backward block it cannot (its masks as
// kernel_mask; documents).
void check_backward_kernels(const ExecPlan&);

}  // namespace ringsim::ring
