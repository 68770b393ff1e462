// sim/schedules + kernels/ring/exec_plan + exec_order, the backward: every
// schedule's backward program, run by an fp64 CPU executor that follows
// nothing but the program as ExecPlan reads it (rounds, matched transfers
// by buffer and byte offset, backward blocks with row sizes by role, the
// D pass, gradient additions, copies and zeroing, input and output
// placements), step by step in the CUDA executor's enqueue order with a race
// check, computes the gradients of full attention over the whole sequence:
// every (position, head) of dQ and dK/dV exactly once over the devices,
// against the fp64 reference of kernels/ring/ring_reference.hpp
// (ReferenceGrad, itself checked here against the dense block reference of
// kernels/attention/attention_ref.hpp). The inputs O and LSE are the
// reference's forward of the same hashed Q, K, V; dO is hashed too.
//
// Memory as in test_schedule_fp64.cpp: buffer b of a device is a vector of
// b.bytes doubles; the element at byte offset o is entry o.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels/attention/attention_ref.hpp"
#include "kernels/ring/exec_order.hpp"
#include "kernels/ring/exec_plan.hpp"
#include "kernels/ring/ring_random.hpp"
#include "kernels/ring/ring_reference.hpp"
#include "fp64_replay.hpp"
#include "sim_fixtures.hpp"

using namespace ringsim;

namespace {

using Role = ::ringsim::Tensor;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool kv_role(Role r) { return r == Role::kKv || r == Role::kGradKv; }
bool stats_role(Role r) { return r == Role::kLse || r == Role::kDelta; }

class Fp64Backward {
 public:
  Fp64Backward(const ring::ExecPlan& plan, std::uint64_t seed) : x_(plan), dim_(plan.shape.head_dim),
      mem_(static_cast<std::size_t>(plan.devices)) {
    const AttentionShape& m = x_.shape;
    const long long cached = x_.sequence.cached_tokens();
    const ring::ReferenceInputs in{seed, cached + x_.sequence.tokens(), m.q_heads, m.kv_heads, dim_, x_.causal, cached};
    for (int h = 0; h < m.kv_heads; ++h) refs_.push_back(std::make_unique<ring::ReferenceGrad>(in, h));
    for (long long d = 0; d < x_.devices; ++d) {
      for (const ring::ExecBuffer& b : x_.buffers) mem(d).emplace_back(static_cast<std::size_t>(b.bytes), kNaN);
      for (const Placement& p : x_.programs[static_cast<std::size_t>(d)].inputs) fill(d, p, seed);
    }
  }

  void run() {
    std::vector<ring::OpRef> done;
    for (const ring::EnqueueStep& step : ring::enqueue_order(x_)) {
      REQUIRE(step.kind != ring::EnqueueStep::kCast);  // a backward has no kOutput buffer
      if (step.kind == ring::EnqueueStep::kCompute) {
        const ring::OpRef me{ring::OpRef::kCompute, step.compute, 0};
        races_.enqueue(me, step.waits[0]);
        for (const ring::ExecBlock& eb : x_.computes[static_cast<std::size_t>(step.compute)].blocks) block(step.device, me, eb.block);
        continue;
      }
      for (std::size_t i = 0; i < step.transfers.size(); ++i) test::replay_transfer(races_, x_, step, i, mem_);
    }
  }

  // Every (position, head) of dQ and dK/dV against the reference.
  void check() const {
    const AttentionShape& m = x_.shape;
    const long long cached = x_.sequence.cached_tokens();
    std::vector<int> dq_seen(static_cast<std::size_t>(x_.sequence.tokens() * m.q_heads), 0);
    std::vector<int> dkv_seen(static_cast<std::size_t>((cached + x_.sequence.tokens()) * m.kv_heads), 0);
    double worst = 0;
    std::vector<double> a(static_cast<std::size_t>(dim_)), b(a);
    for (long long d = 0; d < x_.devices; ++d)
      for (const Placement& p : x_.programs[static_cast<std::size_t>(d)].outputs) {
        const bool kv = p.tensor == Placement::kGradKeysValues;
        REQUIRE((kv || p.tensor == Placement::kGradQueries));
        const Role role = kv ? Role::kGradKv : Role::kGradQ;
        const Slice rows{p.buffer, 0, p.rows, p.offset_bytes};
        for (long long r = 0; r < p.rows; ++r) {
          const long long token = cached + x_.position(p, r);
          for (int h = 0; h < p.heads; ++h) {
            const int head = p.head_first + h;
            if (kv) {
              ++dkv_seen[static_cast<std::size_t>(token * m.kv_heads + head)];
              refs_[static_cast<std::size_t>(head)]->dkv_row(token, a.data(), b.data());
            } else {
              ++dq_seen[static_cast<std::size_t>((token - cached) * m.q_heads + head)];
              refs_[static_cast<std::size_t>(head / (m.q_heads / m.kv_heads))]->dq_row(token, head, a.data());
            }
            for (int i = 0; i < dim_; ++i) {
              worse(worst, value(d, rows, role, p.heads, r, h, i) - a[static_cast<std::size_t>(i)]);
              if (kv) worse(worst, value(d, rows, role, p.heads, r, h + p.heads, i) - b[static_cast<std::size_t>(i)]);
            }
          }
        }
      }
    CAPTURE(worst);
    CHECK(worst < 1e-11);  // NaN (a row nobody wrote) fails
    CHECK(std::count(dq_seen.begin(), dq_seen.end(), 1) == static_cast<long long>(dq_seen.size()));
    CHECK(std::count(dkv_seen.begin(), dkv_seen.end(), 1) == static_cast<long long>(dkv_seen.size()));
  }

 private:
  static void worse(double& worst, double error) {
    if (!(std::fabs(error) <= worst)) worst = std::isnan(error) ? error : std::fabs(error);
  }
  std::vector<std::vector<double>>& mem(long long d) { return mem_[static_cast<std::size_t>(d)]; }
  const std::vector<std::vector<double>>& mem(long long d) const { return mem_[static_cast<std::size_t>(d)]; }
  // Byte of element i of head h (kv roles: heads h >= `heads` are V's) in row `row` of slice s.
  std::size_t at(const Slice& s, Role role, int heads, long long row, int h, int i) const {
    const std::int64_t e = x_.role_element_bytes(s.buffer, role);
    return static_cast<std::size_t>(x_.role_byte(s, role, heads, row) + (static_cast<std::int64_t>(h) * (stats_role(role) ? 1 : dim_) + i) * e);
  }
  double value(long long d, const Slice& s, Role role, int heads, long long row, int h, int i) const {
    return mem(d)[s.buffer][at(s, role, heads, row, h, i)];
  }
  double& value(long long d, const Slice& s, Role role, int heads, long long row, int h, int i) {
    return mem(d)[s.buffer][at(s, role, heads, row, h, i)];
  }
  // Elements of one row: (head, i) pairs as a flat count.
  int row_elements(Role role, int heads) const { return (kv_role(role) ? 2 : 1) * heads * (stats_role(role) ? 1 : dim_); }
  double& flat(long long d, const Slice& s, Role role, int heads, long long row, int k) {
    const int per_head = stats_role(role) ? 1 : dim_;
    return value(d, s, role, heads, row, k / per_head, k % per_head);
  }

  void fill(long long d, const Placement& p, std::uint64_t seed) {
    const AttentionShape& m = x_.shape;
    const long long cached = x_.sequence.cached_tokens();
    const Role role = placement_role(p.tensor);
    REQUIRE((role != Role::kGradQ && role != Role::kGradKv));
    const Slice rows{p.buffer, 0, p.rows, p.offset_bytes};
    const int group = m.q_heads / m.kv_heads;
    for (long long r = 0; r < p.rows; ++r) {
      const long long token = cached + x_.position(p, r);
      for (int h = 0; h < p.heads; ++h) {
        const int head = p.head_first + h;
        const ring::ReferenceGrad& ref = *refs_[static_cast<std::size_t>(role == Role::kKv ? head : head / group)];
        const auto hashed = [&](ring::Tensor t, int heads, int i) {
          return ring::bf16_bits_to_double(ring::random_bf16_bits(seed, t, (static_cast<std::uint64_t>(token) * heads + head) * dim_ + i));
        };
        if (role == Role::kLse) { value(d, rows, role, p.heads, r, h, 0) = ref.lse(token, head); continue; }
        for (int i = 0; i < dim_; ++i) {
          double& v = value(d, rows, role, p.heads, r, h, i);
          if (role == Role::kKv) {
            v = hashed(ring::Tensor::kK, m.kv_heads, i);
            value(d, rows, role, p.heads, r, h + p.heads, i) = hashed(ring::Tensor::kV, m.kv_heads, i);
          } else {
            v = role == Role::kQ ? hashed(ring::Tensor::kQ, m.q_heads, i)
                : role == Role::kDO ? hashed(ring::Tensor::kDO, m.q_heads, i) : ref.out(token, head)[i];
          }
        }
      }
    }
  }

  void access(long long d, const ring::OpRef& me, const Slice& s, Role role, int heads, long long rows, bool write) {
    if (rows <= 0) return;
    const std::int64_t lo = x_.role_byte(s, role, heads, 0);
    races_.access(me, d, s.buffer, lo, lo + rows * x_.role_row_bytes(s.buffer, role, heads), write);
  }

  void block(long long d, const ring::OpRef& me, const Block& b) {
    const Role t = b.tensor;
    const int heads = kv_role(t) ? b.kv_heads : b.heads;
    switch (b.kind) {
      case BlockKind::kAttentionBackward: return attention_backward(d, me, b);
      case BlockKind::kDelta:
        access(d, me, b.dout, Role::kDO, b.heads, b.dout.count, false);
        access(d, me, b.out, Role::kO, b.heads, b.dout.count, false);
        access(d, me, b.delta, Role::kDelta, b.heads, b.dout.count, true);
        for (long long r = 0; r < b.dout.count; ++r)
          for (int h = 0; h < b.heads; ++h) {
            double s = 0;
            for (int i = 0; i < dim_; ++i) s += value(d, b.dout, Role::kDO, b.heads, r, h, i) * value(d, b.out, Role::kO, b.heads, r, h, i);
            value(d, b.delta, Role::kDelta, b.heads, r, h, 0) = s;
          }
        return;
      case BlockKind::kGradAdd:
        access(d, me, b.q, t, heads, b.merges * b.out.count, false);
        access(d, me, b.out, t, heads, b.out.count, true);
        for (long long r = 0; r < b.out.count; ++r)
          for (int k = 0; k < row_elements(t, heads); ++k) {
            double s = b.output == OutputMode::kAdd ? flat(d, b.out, t, heads, r, k) : 0.0;
            for (long long slot = 0; slot < b.merges; ++slot) s += flat(d, b.q, t, heads, slot * b.out.count + r, k);
            flat(d, b.out, t, heads, r, k) = s;
          }
        return;
      case BlockKind::kCopy:
      case BlockKind::kZero:
        if (b.kind == BlockKind::kCopy) access(d, me, b.q, t, heads, b.out.count, false);
        access(d, me, b.out, t, heads, b.out.count, true);
        for (long long r = 0; r < b.out.count; ++r)
          for (int k = 0; k < row_elements(t, heads); ++k)
            flat(d, b.out, t, heads, r, k) = b.kind == BlockKind::kCopy ? flat(d, b.q, t, heads, r, k) : 0.0;
        return;
      default: FAIL("a backward program computes a forward block");
    }
  }

  // One block's dQ, dK, dV from the row's final LSE and D (as the fused kernel).
  void attention_backward(long long d, const ring::OpRef& me, const Block& b) {
    const long long nq = b.q.count, nk = b.kv.count;
    const int h = b.heads, hk = b.kv_heads, group = h / hk;
    for (const auto& [s, role, heads, rows] : {std::tuple{b.q, Role::kQ, h, nq}, std::tuple{b.dout, Role::kDO, h, nq},
                                               std::tuple{b.lse, Role::kLse, h, nq}, std::tuple{b.delta, Role::kDelta, h, nq},
                                               std::tuple{b.kv, Role::kKv, hk, nk}})
      access(d, me, s, role, heads, rows, false);
    access(d, me, b.grad_q, Role::kGradQ, h, nq, true);
    access(d, me, b.grad_kv, Role::kGradKv, hk, nk, true);
    const kernels::Mask mask = ring::kernel_mask(b);
    const double scale = 1.0 / std::sqrt(static_cast<double>(dim_));
    std::vector<double> dq(static_cast<std::size_t>(nq * h * dim_), 0.0), dkv(static_cast<std::size_t>(nk * 2 * hk * dim_), 0.0);
    for (long long i = 0; i < nq; ++i)
      for (int hh = 0; hh < h; ++hh) {
        const int kh = hh / group;
        for (long long j = 0; j < nk; ++j) {
          if (!kernels::mask_visible(mask, i, j, nq)) continue;
          double qk = 0, dov = 0;
          for (int c = 0; c < dim_; ++c) {
            qk += value(d, b.q, Role::kQ, h, i, hh, c) * value(d, b.kv, Role::kKv, hk, j, kh, c);
            dov += value(d, b.dout, Role::kDO, h, i, hh, c) * value(d, b.kv, Role::kKv, hk, j, hk + kh, c);
          }
          const double p = std::exp(scale * qk - value(d, b.lse, Role::kLse, h, i, hh, 0));
          const double ds = p * (dov - value(d, b.delta, Role::kDelta, h, i, hh, 0));
          for (int c = 0; c < dim_; ++c) {
            dq[static_cast<std::size_t>((i * h + hh) * dim_ + c)] += scale * ds * value(d, b.kv, Role::kKv, hk, j, kh, c);
            dkv[static_cast<std::size_t>((j * 2 * hk + kh) * dim_ + c)] += scale * ds * value(d, b.q, Role::kQ, h, i, hh, c);
            dkv[static_cast<std::size_t>((j * 2 * hk + hk + kh) * dim_ + c)] += p * value(d, b.dout, Role::kDO, h, i, hh, c);
          }
        }
      }
    const auto land = [&](const Slice& s, OutputMode mode, Role role, int heads, long long rows, const std::vector<double>& g) {
      for (long long r = 0; r < rows; ++r)
        for (int k = 0; k < row_elements(role, heads); ++k) {
          double& v = flat(d, s, role, heads, r, k);
          v = (mode == OutputMode::kAdd ? v : 0.0) + g[static_cast<std::size_t>(r * row_elements(role, heads) + k)];
        }
    };
    land(b.grad_q, b.grad_q_mode, Role::kGradQ, h, nq, dq);
    land(b.grad_kv, b.grad_kv_mode, Role::kGradKv, hk, nk, dkv);
  }

  const ring::ExecPlan& x_;
  int dim_;
  test::RaceCheck races_;
  std::vector<std::unique_ptr<ring::ReferenceGrad>> refs_;  // by kv head
  test::Fp64Memory mem_;
};

struct Case {
  std::string schedule;
  long long ring;
  bool causal;
  Layout layout;
  long long cached = 0, ulysses = 0, inner = 0;
  DType grad = DType::kFp32;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  test::for_each_schedule_point(4, [&](const std::string& s, long long ring, bool causal, Layout layout, long long cached) {
    Case c{s, ring, causal, layout, cached};
    if (s == "double-ring" && ring >= 4) c.inner = 2;
    if (s == "usp" && ring >= 4) c.ulysses = 2;
    c.grad = (ring + cached) % 2 ? DType::kBf16 : DType::kFp32;  // the dtype changes row sizes, not values here
    out.push_back(c);
  });
  for (bool causal : {false, true})  // 8 members over 4 kv heads: replicas, their dK/dV summed
    out.push_back(Case{"ulysses", 8, causal, Layout::kContiguous});
  return out;
}

}  // namespace

TEST_CASE("kernels/ring ReferenceGrad: the dense fp64 block reference over the whole sequence") {
  const int q_heads = 4, kv_heads = 2, dim = 8;
  const long long tokens = 24, cached = 5;
  for (bool causal : {false, true}) {
    const ring::ReferenceInputs in{91, tokens, q_heads, kv_heads, dim, causal, cached};
    std::vector<double> q(tokens * q_heads * dim), k(tokens * kv_heads * dim), v(k.size()), d_o(q.size());
    for (std::size_t i = 0; i < q.size(); ++i) {
      q[i] = ring::bf16_bits_to_double(ring::random_bf16_bits(91, ring::Tensor::kQ, i));
      d_o[i] = i < static_cast<std::size_t>(cached * q_heads * dim) ? 0.0  // cached rows: keys only
                                                                      : ring::bf16_bits_to_double(ring::random_bf16_bits(91, ring::Tensor::kDO, i));
    }
    for (std::size_t i = 0; i < k.size(); ++i) {
      k[i] = ring::bf16_bits_to_double(ring::random_bf16_bits(91, ring::Tensor::kK, i));
      v[i] = ring::bf16_bits_to_double(ring::random_bf16_bits(91, ring::Tensor::kV, i));
    }
    const kernels::RefShape shape{q_heads, kv_heads, dim, tokens, tokens, causal ? kernels::Mask::kCausal : kernels::Mask::kFull};
    std::vector<double> o(q.size()), lse(static_cast<std::size_t>(q_heads * tokens)), dq(q.size()), dk(k.size()), dv(k.size());
    kernels::attention_forward_cpu(shape, q.data(), k.data(), v.data(), o.data(), lse.data());
    kernels::attention_backward_cpu(shape, q.data(), k.data(), v.data(), o.data(), d_o.data(), lse.data(), dq.data(),
                                    dk.data(), dv.data());
    double worst = 0;
    std::vector<double> a(dim), b(dim);
    for (int kh = 0; kh < kv_heads; ++kh) {
      const ring::ReferenceGrad ref(in, kh);
      for (long long t = 0; t < tokens; ++t) {
        ref.dkv_row(t, a.data(), b.data());
        for (int i = 0; i < dim; ++i) {
          worst = std::max(worst, std::fabs(a[i] - dk[(t * kv_heads + kh) * dim + i]));
          worst = std::max(worst, std::fabs(b[i] - dv[(t * kv_heads + kh) * dim + i]));
        }
        for (int h = kh * 2; h < kh * 2 + 2 && t >= cached; ++h) {
          ref.dq_row(t, h, a.data());
          for (int i = 0; i < dim; ++i) worst = std::max(worst, std::fabs(a[i] - dq[(t * q_heads + h) * dim + i]));
          CHECK(ref.lse(t, h) == doctest::Approx(lse[h * tokens + t]).epsilon(1e-13));
        }
      }
    }
    CHECK(worst < 1e-13);
  }
}

TEST_CASE("kernels/ring exec plan: every schedule's backward program, run in fp64 as described, is the gradient") {
  int ran = 0;
  for (const Case& c : cases()) {
    CAPTURE(c.schedule);
    CAPTURE(c.ring);
    CAPTURE(c.causal);
    const std::string layout = layout_name(c.layout);
    CAPTURE(layout);
    CAPTURE(c.cached);
    Scenario s = test::schedule_scenario({c.schedule, 16 * c.ring, c.ring, c.causal, c.layout, c.cached, c.ulysses, c.inner});
    s.grad_dtype = c.grad;
    const bool gathered_order = c.schedule == "all-gather" && c.causal && c.ring > 1 &&
                                (c.layout != Layout::kContiguous || c.cached > 0);
    if (gathered_order) {
      CHECK_THROWS_AS(ring::ExecPlan(s, s.points[0], Pass::kBackward), ring::Unsupported);
      continue;
    }
    const ring::ExecPlan plan(s, s.points[0], Pass::kBackward);
    CHECK_NOTHROW(ring::check_backward_kernels(plan));  // the CUDA executor's fused kernel runs every block
    Fp64Backward run(plan, 1234 + static_cast<std::uint64_t>(c.ring));
    run.run();
    run.check();
    ++ran;
  }
  CHECK(ran > 60);
}

TEST_CASE("kernels/ring exec plan: backward striped layouts and documents are refused by name") {
  Scenario s = test::schedule_scenario({"pass-kv", 64, 4, true, Layout::kStriped});
  const ring::ExecPlan plan(s, s.points[0], Pass::kBackward);  // the plan itself is fine
  CHECK(test::refuses_layout(plan));
  s = test::schedule_scenario({"pass-kv", 32, 2, true, Layout::kContiguous});
  s.documents = DocumentSpec{{}, 3, LengthDistribution::kExponential, 1.0, 3};
  CHECK_THROWS_AS(ring::ExecPlan(s, s.points[0], Pass::kBackward), ring::Unsupported);
  s.documents = DocumentSpec{};
  // A training run is a plan of each pass: asking one plan for both is a caller's error, not a refused point.
  CHECK_THROWS_WITH(ring::ExecPlan(s, s.points[0], Pass::kTraining),
                    "exec plan: a training run is a forward plan and a backward plan");
}
