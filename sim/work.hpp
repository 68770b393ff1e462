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
#pragma once
#include <array>
#include <cstdint>

#include "models/compute_model.hpp"
#include "models/memory_model.hpp"

namespace ringsim {

struct Slice {
  BufferId buffer = kNoBuffer;
  std::int64_t offset = 0, count = 0;  // rows (tokens)
};

enum class BlockKind : std::uint8_t {
  kAttention,  // softmax(q k^T) v over q x kv rows, with the block's log-sum-exp
  kMerge,      // merge partial (output, lse) slots of `q` into `out` (online-softmax rescale)
};

// A row's first result is written, every later one merged. Rows of a
// partial-output slot that no block writes carry nothing (an executor sets
// their lse to -inf, or skips them when merging): a causal or document mask
// can leave some of a query part's rows with no key in another part.
enum class OutputMode : std::uint8_t {
  kWrite,  // the result (output and lse) overwrites `out`'s rows
  kMerge,  // the result is merged into `out`'s rows (online-softmax rescale)
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
  double flops = 0;  // matmul flops actually done (block_flops x pairs_fraction)
  long long merges = 0;  // kMerge: partials merged (q holds slots of out.count rows; empty slots skipped)
};

// The blocks of one compute operation, run in order on the device's stream.
// At most kMaxBlocks (a zigzag diagonal with a cached prefix needs 4).
struct ComputeWork {
  static constexpr int kMaxBlocks = 6;
  int count = 0;
  std::array<Block, kMaxBlocks> blocks{};
  void add(const Block& b);  // throws std::logic_error past kMaxBlocks
  double flops() const;
};

// Rows [row, row + rows) of sequence part `part` (positions: the program's
// SequenceLayout; K/V rows through kv_position, cached rows first), heads
// [head_first, head_first + heads) of the tensor, packed in the buffer's
// format from byte `offset_bytes` (each row holds exactly these heads).
struct Placement {
  enum Tensor : std::uint8_t { kQueries, kKeysValues, kOutput };
  Tensor tensor = kQueries;
  BufferId buffer = kNoBuffer;
  double offset_bytes = 0;
  long long part = 0, row = 0, rows = 0;
  std::int32_t head_first = 0, heads = 0;  // q heads (kKeysValues: kv heads)
};

}  // namespace ringsim
