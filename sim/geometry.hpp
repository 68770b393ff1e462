// Where tokens sit and which blocks a query part computes against a key part:
// the geometry every schedule shares (layouts, cached prefix, documents).
//
// A sequence of T new tokens is cut over P parts by a layout
// (models/scenario.hpp): each part holds T / P query rows, made of 1 run
// (contiguous, striped) or 2 runs (zigzag) of positions start + i * stride.
// A cached prefix of C tokens (positions -C .. -1, visible to every query)
// is cut evenly in contiguous slices; a part's key/value rows are
// [its C / P cached rows][its T / P new rows], in that order.
//
// Visibility is by global position: causal attention lets a query see keys
// at positions <= its own (cached keys always); a document mask also needs
// both in the same document. A block's MaskKind is the cost class charged
// (and the kernel variant expected): kFull (all pairs), kCausalDiagonal, or
// kZigzagDiagonal.
//
// plan_blocks(q_part, kv_part) cuts q rows x kv rows into cells (q run x kv
// run, plus the cached slice) and joins them into as few rectangles as the
// cost classes allow: all-full rectangles join; the zigzag diagonal is one
// kZigzagDiagonal block; otherwise each q run gets one full block (its
// consecutive full cells) and one diagonal block per diagonal cell. The
// pass-KV ring thereby keeps its historic shapes: zigzag lower 2c x c, upper
// c x 2c, diagonal 2c x 2c.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "models/compute_model.hpp"
#include "models/documents.hpp"
#include "models/scenario.hpp"

namespace ringsim {

struct TokenRun {
  long long start = 0, stride = 1, count = 0;  // positions start + i * stride, i < count
};

class SequenceLayout {
 public:
  SequenceLayout(Layout layout, long long tokens, long long parts, long long cached_tokens = 0);
  Layout layout() const { return layout_; }
  long long parts() const { return parts_; }
  long long tokens() const { return tokens_; }
  long long part_tokens() const { return tokens_ / parts_; }         // query rows per part
  long long cached_per_part() const { return cached_ / parts_; }     // cached rows first in kv
  long long kv_rows() const { return cached_per_part() + part_tokens(); }
  long long cached_tokens() const { return cached_; }
  int runs() const { return layout_ == Layout::kZigzag ? 2 : 1; }
  long long run_rows() const { return part_tokens() / runs(); }
  TokenRun run(long long part, int r) const;           // new tokens of `part`, run r (local rows r * run_rows ...)
  long long position(long long part, long long q_row) const;  // of a query row (new tokens)
  // Of a key/value row of `part`: its cached slice first (part p holds cached
  // positions -C + p * C/P .. -C + (p+1) * C/P - 1), then its new tokens.
  long long kv_position(long long part, long long kv_row) const;

 private:
  Layout layout_;
  long long tokens_, parts_, cached_;
};

// Packed documents, as sorted [start, end) position ranges.
class DocumentMask {
 public:
  explicit DocumentMask(const std::vector<long long>& lengths);
  // Visible (query, key) pairs between an AP of query positions and an AP of
  // key positions (stride 1, or the query's stride), causal or not, within documents.
  double pairs(const TokenRun& q, const TokenRun& kv, bool causal) const;
  long long count() const { return static_cast<long long>(starts_.size()); }

 private:
  std::vector<long long> starts_;  // starts_[i] .. starts_[i+1]; ends with the total
};

// Visible pairs between two APs, ignoring documents (kv stride 1 or equal).
double causal_pairs(const TokenRun& q, const TokenRun& kv, bool causal);

struct SubBlock {
  long long q_row = 0, q_rows = 0;    // local rows of the query part
  long long kv_row = 0, kv_rows = 0;  // rows of the key part's buffer (cached rows first)
  MaskKind mask = MaskKind::kFull;
  int diagonal_offset = 0;            // kCausalDiagonal: key row j <= query row i + offset
  double pairs_fraction = 1.0;        // kept by the document mask (1 without one)
  double kept_pairs = -1;             // visible pairs under the document mask; -1: no documents
};

struct BlockPlan {
  static constexpr int kMax = 6;
  int count = 0;
  std::array<SubBlock, kMax> blocks{};
};

// The blocks of q_part's queries against kv_part's keys (see the file
// comment); blocks the documents empty are left out. docs: null for none.
BlockPlan plan_blocks(const SequenceLayout&, bool causal, long long q_part, long long kv_part,
                      const DocumentMask* docs);
// The blocks of q_part's queries against the whole sequence gathered in
// position order (cached rows first): kv rows = position + cached_tokens.
BlockPlan plan_gathered(const SequenceLayout&, bool causal, long long q_part, const DocumentMask* docs);

}  // namespace ringsim
