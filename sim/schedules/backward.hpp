// Building blocks of the schedules' backward programs (PlanInput::pass ==
// kBackward): the buffers the forward saved, gradient sizes, the compute of
// planned blocks' backwards, and the elementwise passes around them. What
// every op means is in sim/work.hpp.
//
// The backward of one attention layer, on every schedule:
//   saved    what the forward left for it, per rank and per attention layer
//            simulated (a model of L layers holds L of these): saved_q, saved_kv
//            (the rank's Q and K/V in the layout the forward's blocks read),
//            saved_out (O, in the model's dtype), saved_lse (fp32), and the
//            incoming gradient grad_out (dO);
//   D pass   D = rowsum(dO * O) per rank, once (memory-bound: kDelta);
//   blocks   each visible (q, kv) pair's backward exactly once (kAttentionBackward),
//            with the row's final LSE and D;
//   home     dQ and dK/dV end on the rank that owns the rows.
#pragma once
#include <array>

#include "sim/schedules/common.hpp"

namespace ringsim::schedules {

// --- sizes (bytes) --------------------------------------------------------
double lse_bytes(long long rows, int q_heads);  // fp32 LSE or D
double grad_q_bytes(const PlanInput&, long long rows, int q_heads);    // in attention.grad_dtype
double grad_kv_bytes(const PlanInput&, long long rows, int kv_heads);  // dK and dV in grad_dtype
double fp32_q_bytes(long long rows, int q_heads, int head_dim);        // dQ in fp32
double fp32_kv_bytes(long long rows, int kv_heads, int head_dim);      // dK and dV in fp32

// The forward's saved tensors and the incoming dO, added to `table` in
// this order: saved_q, saved_kv, saved_out, saved_lse, grad_out (names with
// `suffix` appended: "_heads" for Ulysses' head-sharded copies).
struct SavedBuffers {
  BufferId q = kNoBuffer, kv = kNoBuffer, out = kNoBuffer, lse = kNoBuffer, dout = kNoBuffer;
};
SavedBuffers add_saved(BufferTable&, const AttentionShape&, long long q_rows, long long kv_rows, int q_heads,
                       int kv_heads, const std::string& suffix = "");

// The backward's inputs on the rank of `part`, all of the part's rows and
// the model's heads: saved Q, K/V, O, LSE and dO (ScheduleProgram::inputs).
std::vector<Placement> saved_inputs(const PlanInput&, const SequenceLayout&, const SavedBuffers&, long long part);

// Plan::peak_counts of a program that allocates every buffer before it frees any.
std::vector<int> all_live(const BufferTable&);

// --- blocks ---------------------------------------------------------------
// How planned blocks become one backward compute. Slices name a buffer and
// base; `offset` is the target row that row 0 of the q (or kv) part lands on.
struct BackwardSpec {
  long long q_part = 0, kv_part = 0;  // kv_part -1: the gathered sequence
  Slice q, dout, lse, delta, kv;
  Slice grad_q, grad_kv;
  // The target rows hold nothing yet: the op's first block into a row writes
  // it, later ones add. Otherwise every block adds.
  bool grad_q_fresh = false, grad_kv_fresh = false;
  int head_first = 0, q_heads = 0, kv_heads = 0;
  double message_bytes = 0;
  bool documents = false;
};
// The spec of the model's heads for the blocks of q_part against kv_part.
BackwardSpec backward_spec(const PlanInput&, long long q_part, long long kv_part, double message_bytes);
// Blocks whose dK/dV rows are fresh are ordered widest first, so each one's
// rows are either new or already written (plan_blocks' key ranges are
// prefixes and single runs); throws std::logic_error otherwise.
ComputeWork make_backward_work(const PlanInput&, const BlockPlan&, const BackwardSpec&);

// --- elementwise passes ---------------------------------------------------
// D = rowsum(dO * O) of `rows` rows of q_heads heads.
Block delta_block(const PlanInput&, Slice dout, Slice out, Slice delta, int q_heads);
// Rows of a tensor: which one, and its heads (q heads, or kv heads for K/V and dK/dV).
struct TensorRows {
  Tensor tensor = Tensor::kNone;
  int heads = 0;
};
// into += the `slots` slots of from (into.count rows each), rows of
// row_bytes_from and row_bytes_into bytes; kWrite: into = their sum.
Block add_block(Slice from, Slice into, long long slots, TensorRows, double row_bytes_from, double row_bytes_into,
                OutputMode mode = OutputMode::kAdd);
// into = from: `bytes` read, `bytes` written.
Block copy_block(Slice from, Slice into, TensorRows, double bytes);
// out = 0 over `bytes`.
Block zero_block(Slice out, TensorRows, double bytes);
// A work of one block.
ComputeWork one_block(const Block&);

}  // namespace ringsim::schedules
