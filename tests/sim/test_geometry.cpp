// sim/geometry: layouts, pair counts and block plans against brute force
// (every query-key pair enumerated and tested by position).
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "sim/geometry.hpp"

using namespace ringsim;

namespace {

// Positions of a part's query rows, from the layouts' definitions.
std::vector<long long> positions(Layout layout, long long tokens, long long parts, long long part) {
  std::vector<long long> out;
  const long long c = tokens / parts;
  if (layout == Layout::kContiguous)
    for (long long i = 0; i < c; ++i) out.push_back(part * c + i);
  if (layout == Layout::kZigzag) {
    for (long long i = 0; i < c / 2; ++i) out.push_back(part * (c / 2) + i);
    for (long long i = 0; i < c / 2; ++i) out.push_back((2 * parts - 1 - part) * (c / 2) + i);
  }
  if (layout == Layout::kStriped)
    for (long long i = 0; i < c; ++i) out.push_back(part + i * parts);
  return out;
}

long long doc_of(const std::vector<long long>& lengths, long long pos) {
  long long end = 0;
  for (std::size_t i = 0; i < lengths.size(); ++i)
    if (pos < (end += lengths[i])) return static_cast<long long>(i);
  return -1;
}

bool visible(long long q, long long k, bool causal, const std::vector<long long>* docs) {
  if (k < 0) return true;  // cached prefix
  if (causal && k > q) return false;
  return !docs || doc_of(*docs, q) == doc_of(*docs, k);
}

std::vector<long long> random_lengths(std::mt19937_64& rng, long long tokens) {
  std::vector<long long> out;
  for (long long left = tokens; left > 0;) {
    const long long n = std::min<long long>(left, 1 + static_cast<long long>(rng() % 40));
    out.push_back(n);
    left -= n;
  }
  return out;
}

}  // namespace

TEST_CASE("sim::SequenceLayout: positions follow each layout's definition") {
  for (Layout layout : {Layout::kContiguous, Layout::kZigzag, Layout::kStriped}) {
    for (long long parts : {1LL, 2LL, 3LL, 5LL}) {
      CAPTURE(layout_name(layout));
      CAPTURE(parts);
      const long long tokens = 12 * parts;
      const SequenceLayout g(layout, tokens, parts, 0);
      std::set<long long> all;
      for (long long p = 0; p < parts; ++p) {
        const std::vector<long long> want = positions(layout, tokens, parts, p);
        for (long long r = 0; r < g.part_tokens(); ++r) {
          CHECK(g.position(p, r) == want[static_cast<std::size_t>(r)]);
          all.insert(g.position(p, r));
        }
      }
      CHECK(all.size() == static_cast<std::size_t>(tokens));  // every token exactly once
    }
  }
}

TEST_CASE("sim::DocumentMask: pair counts of two position runs match brute force") {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 400; ++trial) {
    CAPTURE(trial);
    const long long tokens = 200;
    const std::vector<long long> lengths = random_lengths(rng, tokens);
    const DocumentMask docs(lengths);
    const long long stride = 1 + static_cast<long long>(rng() % 4);
    const bool kv_stride_one = rng() % 2;
    TokenRun q{static_cast<long long>(rng() % 20), stride, 1 + static_cast<long long>(rng() % 40)};
    TokenRun kv{static_cast<long long>(rng() % 20), kv_stride_one ? 1 : stride, 1 + static_cast<long long>(rng() % 60)};
    for (bool causal : {false, true}) {
      double with_docs = 0, without = 0;
      for (long long a = 0; a < q.count; ++a)
        for (long long b = 0; b < kv.count; ++b) {
          const long long qp = q.start + a * q.stride, kp = kv.start + b * kv.stride;
          without += visible(qp, kp, causal, nullptr);
          with_docs += visible(qp, kp, causal, &lengths);
        }
      CHECK(causal_pairs(q, kv, causal) == without);
      CHECK(docs.pairs(q, kv, causal) == with_docs);
    }
  }
}

TEST_CASE("sim::plan_blocks: the blocks cover every visible pair of a part pair exactly once") {
  std::mt19937_64 rng(9);
  for (int trial = 0; trial < 300; ++trial) {
    CAPTURE(trial);
    const Layout layout = static_cast<Layout>(rng() % 3);
    const long long parts = 1 + static_cast<long long>(rng() % 5), c = 2 * (1 + static_cast<long long>(rng() % 6));
    const long long tokens = c * parts, cached = rng() % 3 == 0 ? parts * static_cast<long long>(rng() % 5) : 0;
    const bool causal = rng() % 2, with_docs = cached == 0 && rng() % 2;
    const std::vector<long long> lengths = random_lengths(rng, tokens);
    const DocumentMask docs(lengths);
    const SequenceLayout g(layout, tokens, parts, cached);
    const long long qp = static_cast<long long>(rng() % parts), kp = static_cast<long long>(rng() % parts);
    CAPTURE(layout_name(layout));
    CAPTURE(parts);
    CAPTURE(c);
    CAPTURE(cached);
    CAPTURE(causal);
    CAPTURE(with_docs);
    const auto kv_position = [&](long long row) {
      return row < g.cached_per_part() ? -1 - row : g.position(kp, row - g.cached_per_part());
    };
    const BlockPlan plan = plan_blocks(g, causal, qp, kp, with_docs ? &docs : nullptr);
    std::map<std::pair<long long, long long>, int> covered;
    double kept = 0;
    for (int i = 0; i < plan.count; ++i) {
      const SubBlock& b = plan.blocks[static_cast<std::size_t>(i)];
      double block_visible = 0, block_geometric = 0;
      for (long long r = b.q_row; r < b.q_row + b.q_rows; ++r)
        for (long long k = b.kv_row; k < b.kv_row + b.kv_rows; ++k) {
          const long long q_pos = g.position(qp, r), k_pos = kv_position(k);
          block_geometric += visible(q_pos, k_pos, causal, nullptr);
          if (!visible(q_pos, k_pos, causal, with_docs ? &lengths : nullptr)) continue;
          ++covered[{q_pos, k_pos}];
          ++block_visible;
        }
      CHECK(block_visible > 0);  // empty blocks are left out
      if (b.mask == MaskKind::kFull && !with_docs) CHECK(block_geometric == b.q_rows * b.kv_rows);
      CHECK(b.pairs_fraction == doctest::Approx(block_visible / block_geometric));
      kept += block_visible;
    }
    long long expected = 0;
    for (long long r = 0; r < g.part_tokens(); ++r)
      for (long long k = 0; k < g.kv_rows(); ++k)
        expected += visible(g.position(qp, r), kv_position(k), causal, with_docs ? &lengths : nullptr);
    CHECK(static_cast<long long>(covered.size()) == expected);
    for (const auto& [pair, n] : covered) CHECK(n == 1);
  }
}
