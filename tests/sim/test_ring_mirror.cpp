// The real ring executor (kernels/ring) and the simulator's pass-kv program
// run the same schedule: the same block at every (rank, step) (the program's
// work() against kernels/ring/ring_schedule), and that schedule, run on the
// CPU in fp64 with the kernels' reference attention and merge, is full
// attention over the whole sequence.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/attention/attention_ref.hpp"
#include "kernels/ring/ring_random.hpp"
#include "kernels/ring/ring_reference.hpp"
#include "kernels/ring/ring_schedule.hpp"
#include "sim/schedule.hpp"
#include "sim_fixtures.hpp"

using namespace ringsim;

namespace {

const ring::RingLayout kLayouts[] = {ring::RingLayout::kNonCausal, ring::RingLayout::kContiguous,
                                     ring::RingLayout::kZigzag};

Scenario scenario_of(ring::RingLayout l, long long tokens, long long p) {
  return test::ring_scenario(tokens, p, l != ring::RingLayout::kNonCausal,
                             l == ring::RingLayout::kZigzag ? Layout::kZigzag : Layout::kContiguous, 8);
}

MaskKind mask_kind(kernels::Mask m) {
  return m == kernels::Mask::kFull ? MaskKind::kFull
         : m == kernels::Mask::kCausal ? MaskKind::kCausalDiagonal : MaskKind::kZigzagDiagonal;
}

}  // namespace

TEST_CASE("sim::ring mirror: the executor's block at every (rank, step) is the pass-kv program's work") {
  for (ring::RingLayout layout : kLayouts) {
    for (int p = 1; p <= 9; ++p) {
      const long long chunk = 64;
      CAPTURE(ring::ring_layout_name(layout));
      CAPTURE(p);
      const Scenario scn = scenario_of(layout, chunk * p, p);
      const auto planned = test::plan_point(scn, scn.points[0]);
      const ScheduleProgram& program = planned->plan->program();
      for (int d = 0; d < p; ++d) {
        ProgramCursor c;
        for (int s = 0; s < p; ++s) {
          CAPTURE(d);
          CAPTURE(s);
          // Advance to step s's compute (or past it when the block is masked).
          Op op = program.next(d, c);
          while (op.kind != Op::kCompute && !(op.kind == Op::kWaitAll && op.label == s)) op = program.next(d, c);
          const ring::RingBlock b = ring::ring_block(layout, p, chunk, d, s);
          CHECK(b.computed == (op.kind == Op::kCompute));
          if (op.kind != Op::kCompute) continue;
          const ComputeWork w = program.work(d, c);
          REQUIRE(w.count == 1);
          const Block& blk = w.blocks[0];
          CHECK(blk.q.offset == b.q_offset);
          CHECK(blk.q.count == b.q_tokens);
          CHECK(blk.kv.offset == b.kv_offset);
          CHECK(blk.kv.count == b.kv_tokens);
          CHECK(mask_kind(b.mask) == blk.mask);
          CHECK(blk.kv_part == b.source);
          CHECK(blk.output == (s == 0 ? OutputMode::kWrite : OutputMode::kMerge));
          while (op.kind != Op::kWaitAll) op = program.next(d, c);  // to the end of step s
        }
      }
    }
  }
}

TEST_CASE("sim::ring mirror: the schedule with fp64 attention and merge is full attention") {
  const int heads = 4, kv_heads = 2, dim = 16;
  for (ring::RingLayout layout : kLayouts) {
    for (int p = 1; p <= 4; ++p) {
      CAPTURE(ring::ring_layout_name(layout));
      CAPTURE(p);
      const long long chunk = 8, n = chunk * p;
      const std::uint64_t seed = 1000 + p;
      const auto val = [&](ring::Tensor t, long long tok, int hs, int h, int i) {
        return ring::bf16_bits_to_double(ring::random_bf16_bits(seed, t, (tok * hs + h) * dim + i));
      };
      std::vector<std::vector<double>> q(p), k(p), v(p), acc_o(p), acc_lse(p);
      for (int d = 0; d < p; ++d) {
        q[d].resize(chunk * heads * dim);
        k[d].resize(chunk * kv_heads * dim);
        v[d].resize(chunk * kv_heads * dim);
        acc_o[d].assign(chunk * heads * dim, 0.0);
        acc_lse[d].assign(heads * chunk, -INFINITY);
        for (long long r = 0; r < chunk; ++r) {
          const long long t = ring::global_token(layout, p, chunk, d, r);
          for (int h = 0; h < heads; ++h)
            for (int i = 0; i < dim; ++i) q[d][(r * heads + h) * dim + i] = val(ring::Tensor::kQ, t, heads, h, i);
          for (int h = 0; h < kv_heads; ++h)
            for (int i = 0; i < dim; ++i) {
              k[d][(r * kv_heads + h) * dim + i] = val(ring::Tensor::kK, t, kv_heads, h, i);
              v[d][(r * kv_heads + h) * dim + i] = val(ring::Tensor::kV, t, kv_heads, h, i);
            }
        }
      }
      for (int d = 0; d < p; ++d) {
        for (int s = 0; s < p; ++s) {
          const ring::RingBlock b = ring::ring_block(layout, p, chunk, d, s);
          if (!b.computed) continue;
          const kernels::RefShape shape{heads, kv_heads, dim, b.q_tokens, b.kv_tokens, b.mask};
          std::vector<double> o(b.q_tokens * heads * dim), lse(heads * b.q_tokens);
          kernels::attention_forward_cpu(shape, q[d].data() + b.q_offset * heads * dim,
                                         k[b.source].data() + b.kv_offset * kv_heads * dim,
                                         v[b.source].data() + b.kv_offset * kv_heads * dim, o.data(), lse.data());
          kernels::attention_merge_cpu(b.q_tokens, heads, dim, acc_o[d].data() + b.q_offset * heads * dim,
                                       acc_lse[d].data() + b.q_offset, chunk, o.data(), lse.data(), b.q_tokens);
        }
      }
      const ring::ReferenceInputs in{seed, n, heads, kv_heads, dim, layout != ring::RingLayout::kNonCausal};
      double worst_o = 0, worst_lse = 0;
      for (int h = 0; h < heads; ++h) {
        const ring::ReferenceKv ref(in, h / (heads / kv_heads));
        for (int d = 0; d < p; ++d) {
          for (long long r = 0; r < chunk; ++r) {
            std::vector<double> o(dim);
            double lse = 0;
            ref.row(ring::global_token(layout, p, chunk, d, r), h, o.data(), &lse);
            for (int i = 0; i < dim; ++i)
              worst_o = std::max(worst_o, std::fabs(o[i] - acc_o[d][(r * heads + h) * dim + i]));
            worst_lse = std::max(worst_lse, std::fabs(lse - acc_lse[d][h * chunk + r]));
          }
        }
      }
      CHECK(worst_o < 1e-12);
      CHECK(worst_lse < 1e-12);
    }
  }
}
