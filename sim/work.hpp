// What a compute operation of a schedule's program does, in terms an executor
// can run (kernels/ring will walk the same programs): which rows of which
// buffers go into an attention block or a merge, under which mask, and where
// the result goes. The event engine needs only the cost (Op::duration_ns); the
// simulator and a real executor read the same description.
//
// Rows are tokens: a Slice names `count` token rows of a buffer from row
// `offset` (each row holds every head of the buffer; heads below select).
// Global positions of rows (for masks) come from the schedule's layout
// (sim/geometry.hpp: SequenceLayout::position(part, row)); q_part and kv_part
// name whose tokens the rows are.
//
// Placements say what a device's buffers hold before its program runs (its
// queries and keys/values) and where its rows of the final output are once it
// has run: an executor fills the inputs and reads the outputs there; between
// the two it follows the program alone. Byte layouts per buffer: BufferFormat
// (models/memory_model.hpp).
//
// Bundles: a buffer may hold several tensors one after another, so that one
// message carries them together (a backward ring's receive slot holds the
// travelling inputs, then the accumulator one step behind). A Slice's rows
// then start at byte `base_bytes` of the buffer; a row's size follows from
// the role the slice plays (the table below) and the scenario's shape.
//
// Row sizes by role (h = the block's q heads, hk = its kv heads, d =
// head_dim, dt = the model's dtype, gt = attention.grad_dtype):
//   Q, O, dO rows        h d dt           LSE, D rows    h x 4 (fp32)
//   K/V rows             2 hk d dt (keys, then values)
//   dQ rows              h d gt,  or h d x 4 in buffers named *_acc / *_block (fp32)
//   dK/dV rows           2 hk d gt, or 2 hk d x 4 in buffers named *_acc / *_block (fp32)
// Gradient accumulators that travel or are reduced hold gt; those that stay
// on a device (dq_acc, dkv_acc) and a block's own result (dq_block,
// dkv_block) are fp32, the backward kernel's output.
#pragma once
#include <array>
#include <cstdint>

#include "models/compute_model.hpp"
#include "models/memory_model.hpp"

namespace ringsim {

struct Slice {
  BufferId buffer = kNoBuffer;
  std::int64_t offset = 0, count = 0;  // rows (tokens)
  double base_bytes = 0;               // where the tensor starts in `buffer` (bundles); 0 otherwise
};

// What each kind reads and writes (fields of Block):
//   kAttention          softmax(q k^T) v over q x kv rows, with the block's log-sum-exp -> out (output, lse)
//   kMerge              merge partial (output, lse) slots of `q` into `out` (online-softmax rescale)
//   kAttentionBackward  one block's share of the gradients (kernels/attention/chunk_attention_backward.hpp):
//                       reads q (Q), kv (K/V), dout (dO), lse and delta (D) of the q rows -- the row's
//                       FINAL lse and D, as the forward merged them; writes or adds (grad_q_mode)
//                       dQ into grad_q and (grad_kv_mode) dK/dV into grad_kv, reduced over the
//                       GQA group; mask, heads and documents as kAttention
//   kDelta              D = rowsum(dO * O) per (row, head): reads dout (dO) and out (the forward's
//                       O, in the model's dtype), writes delta; once per rank before the backward's blocks
//   kGradAdd            out += the `merges` slots of q (each out.count rows, one after another:
//                       partial sums or replicas of the same rows), elementwise, converting q's dtype
//                       to out's; output kWrite: out = their sum
//   kCopy               out = q (packing tensors into a bundle that travels; converting fp32 dQ
//                       to grad_dtype)
//   kZero               out = 0 (an accumulator some of whose rows no block reaches)
// kGradAdd, kCopy and kZero name the tensor their rows hold (`tensor`; its
// heads in `heads`, or `kv_heads` for K/V and dK/dV), each side in its
// buffer's dtype. The streaming kinds (kDelta, kGradAdd, kCopy, kZero) carry
// the bytes they move in stream_bytes, which is what the simulator charges.
enum class BlockKind : std::uint8_t {
  kAttention,
  kMerge,
  kAttentionBackward,
  kDelta,
  kGradAdd,
  kCopy,
  kZero,
};

// The tensor a streaming block's rows hold (row sizes: the table above).
enum class Tensor : std::uint8_t { kNone, kQ, kKv, kO, kDO, kLse, kDelta, kGradQ, kGradKv };

// A row's first result is written, every later one merged. Rows of a
// partial-output slot that no block writes carry nothing (an executor sets
// their lse to -inf, or skips them when merging): a causal or document mask
// can leave some of a query part's rows with no key in another part.
enum class OutputMode : std::uint8_t {
  kWrite,  // the result (output and lse) overwrites `out`'s rows
  kMerge,  // the result is merged into `out`'s rows (online-softmax rescale)
  kAdd,    // gradients: the result is added to the rows (the first block into them writes)
};

struct Block {
  BlockKind kind = BlockKind::kAttention;
  OutputMode output = OutputMode::kWrite;
  Slice q;    // kAttention: query rows; kMerge: the partial's rows (output and lse)
  Slice kv;   // kAttention: key/value rows (keys and values side by side); kMerge: unused
  Slice out;  // rows written or merged into
  long long q_part = 0, kv_part = 0;  // sequence parts the q and kv rows belong to (positions)
  // Cost class and mask: kFull; kCausalDiagonal (query row i sees key row j
  // iff j <= i + diagonal_offset, in block-local rows: 0 for a part's own
  // chunk, -1 for a striped block of a later part); kZigzagDiagonal.
  MaskKind mask = MaskKind::kFull;
  std::int8_t diagonal_offset = 0;
  bool document_mask = false;  // also restricted to pairs in the same document
  // Heads: the device computes q heads [head_first, head_first + heads) of
  // the model (Ulysses shares), with their GQA kv heads.
  std::int32_t head_first = 0, heads = 0, kv_heads = 0;
  // For the simulator: the shape costed, and the fraction of the geometric
  // mask's query-key pairs the document mask keeps (1 without documents).
  BlockShape shape;
  double pairs_fraction = 1.0;
  double flops = 0;  // matmul flops actually done (block_flops x pairs_fraction; backward: 2.5x)
  long long merges = 0;  // kMerge: partials merged (q holds slots of out.count rows; empty slots skipped)
  // kAttentionBackward: the q rows' backward inputs, and where the gradients go.
  Slice dout, lse, delta;
  Slice grad_q, grad_kv;
  OutputMode grad_q_mode = OutputMode::kWrite, grad_kv_mode = OutputMode::kWrite;  // kWrite or kAdd
  Tensor tensor = Tensor::kNone;  // kGradAdd, kCopy, kZero
  double stream_bytes = 0;  // kDelta, kGradAdd, kCopy, kZero: bytes read plus written
};

// The blocks of one compute operation, run in order on the device's stream
// (a later block may read what an earlier one wrote).
// At most kMaxBlocks (a zigzag diagonal with a cached prefix needs 4).
struct ComputeWork {
  static constexpr int kMaxBlocks = 6;
  int count = 0;
  std::array<Block, kMaxBlocks> blocks{};
  void add(const Block& b);  // throws std::logic_error past kMaxBlocks
  double flops() const;
};

// Rows [row, row + rows) of sequence part `part` (positions: the program's
// SequenceLayout; K/V and dK/dV rows through kv_position, cached rows
// first), heads [head_first, head_first + heads) of the tensor, packed in the
// buffer's format from byte `offset_bytes` (each row holds exactly these
// heads). A forward's inputs are Q and K/V, its outputs O; a backward's
// inputs are what the forward saved (Q, K/V, O, LSE) and the incoming dO,
// its outputs dQ and dK/dV (kOutput is O either way: written by a forward,
// read by a backward).
struct Placement {
  enum Tensor : std::uint8_t { kQueries, kKeysValues, kOutput, kLse, kGradOutput, kGradQueries, kGradKeysValues };
  static bool kv_rows(Tensor t) { return t == kKeysValues || t == kGradKeysValues; }
  Tensor tensor = kQueries;
  BufferId buffer = kNoBuffer;
  double offset_bytes = 0;
  long long part = 0, row = 0, rows = 0;
  std::int32_t head_first = 0, heads = 0;  // q heads (kKeysValues: kv heads)
};

// The role a placement's rows play (row sizes: the table above).
inline Tensor placement_role(Placement::Tensor t) {
  switch (t) {
    case Placement::kQueries: return Tensor::kQ;
    case Placement::kKeysValues: return Tensor::kKv;
    case Placement::kOutput: return Tensor::kO;
    case Placement::kLse: return Tensor::kLse;
    case Placement::kGradOutput: return Tensor::kDO;
    case Placement::kGradQueries: return Tensor::kGradQ;
    case Placement::kGradKeysValues: return Tensor::kGradKv;
  }
  return Tensor::kNone;
}

}  // namespace ringsim
