// The backward ring phase; see sim/schedules/grad_ring.hpp.
#include "sim/schedules/grad_ring.hpp"

namespace ringsim::schedules {

namespace {
constexpr int kTagKind = 5;  // tags of the ring's messages: (step, 5)
}

void GradRing::enter(ProgramCursor& c) const {
  c.step = spec_.first_step;
  set(c, Sub::kSend);
}

std::uint64_t GradRing::waits() const {
  const std::uint64_t r = static_cast<std::uint64_t>(spec_.ring);
  return r == 1 ? 1 : 1 + 2 * (r - 1) + 1;  // step 0, two per later step, the return hop
}

double GradRing::message_bytes(long long s) const {
  if (s == 0) return spec_.inputs_bytes;
  return s >= spec_.ring - 1 ? spec_.acc_bytes : spec_.inputs_bytes + spec_.acc_bytes;
}

Slice GradRing::inputs(long long s) const {
  return Slice{s == 0 ? spec_.own : spec_.slot[(s - 1) % 2], 0, 0, 0};
}

Slice GradRing::acc_target(long long s) const {
  if (spec_.ring == 1) return Slice{spec_.home, 0, 0, 0};
  if (s == 0) return Slice{spec_.slot[0], 0, 0, spec_.inputs_bytes};
  return Slice{spec_.block, 0, 0, 0};
}

ComputeWork GradRing::blocks(long long d, long long s) const { return host_.ring_blocks(d, s, inputs(s), acc_target(s)); }

// The rows the blocks wrote into the block buffer, each added into the
// accumulator received at step s (slot s % 2, after the inputs).
ComputeWork GradRing::add_work(const ComputeWork& w, long long s) const {
  ComputeWork out;
  for (int i = 0; i < w.count; ++i) {
    const Block& b = w.blocks[static_cast<std::size_t>(i)];
    const Slice& g = spec_.travelling_kv ? b.grad_kv : b.grad_q;
    const OutputMode mode = spec_.travelling_kv ? b.grad_kv_mode : b.grad_q_mode;
    if (mode != OutputMode::kWrite) continue;
    const Slice into{spec_.slot[s % 2], g.offset, g.count, spec_.inputs_bytes};
    const TensorRows t = spec_.travelling_kv ? TensorRows{Tensor::kGradKv, b.kv_heads} : TensorRows{Tensor::kGradQ, b.heads};
    out.add(add_block(g, into, 1, t, spec_.block_row_bytes, spec_.acc_row_bytes));
  }
  return out;
}

ComputeWork GradRing::work(long long d, const ProgramCursor& after) const {
  const long long s = after.step - spec_.first_step;
  const ComputeWork w = blocks(d, s);
  return sub(after) == Sub::kAddWait ? add_work(w, s) : w;
}

bool GradRing::next(long long d, ProgramCursor& c, Op& op) const {
  const long long r = spec_.ring, next_dev = host_.ring_peer(d, 1), prev_dev = host_.ring_peer(d, -1);
  for (;;) {
    const long long s = c.step - spec_.first_step;
    const std::uint64_t tag = tag_of(c.step, kTagKind);
    switch (sub(c)) {
      case Sub::kSend: {
        set(c, Sub::kRecv);
        if (r == 1) continue;
        const double offset = s == r - 1 ? spec_.inputs_bytes : 0;
        op = send_op(next_dev, tag, message_bytes(s), s == 0 ? spec_.own : spec_.slot[(s - 1) % 2],
                     s == 0 ? 0 : offset, c.step);
        return true;
      }
      case Sub::kRecv: {
        set(c, Sub::kCompute);
        if (r == 1) continue;
        const double offset = s == r - 1 && s > 0 ? spec_.inputs_bytes : 0;
        op = recv_op(prev_dev, tag, message_bytes(s), spec_.slot[s % 2], offset, c.step);
        return true;
      }
      case Sub::kCompute: {
        set(c, Sub::kWait);
        const ComputeWork w = blocks(d, s);
        if (w.count == 0 && !keeps_empty_slots(in_)) continue;
        op = compute_op(in_, w, d, c.step, message_bytes(s));
        return true;
      }
      case Sub::kWait:
        op = wait_op(c.step);
        if (s > 0) {
          set(c, Sub::kAdd);
        } else {  // nothing to add at step 0: on to step 1 (a ring of one is done)
          ++c.step;
          set(c, r == 1 ? Sub::kDone : Sub::kSend);
        }
        return true;
      case Sub::kAdd: {
        set(c, Sub::kAddWait);
        const ComputeWork w = add_work(blocks(d, s), s);
        if (w.count == 0 && !keeps_empty_slots(in_)) continue;  // no block: the accumulator passes on as received
        op = compute_op(in_, w, d, c.step, message_bytes(s));
        return true;
      }
      case Sub::kAddWait:
        op = wait_op(c.step);
        ++c.step;
        set(c, s + 1 == r ? Sub::kReturnSend : Sub::kSend);
        return true;
      case Sub::kReturnSend:
        set(c, Sub::kReturnRecv);
        op = send_op(next_dev, tag, spec_.acc_bytes, spec_.slot[(r - 1) % 2], spec_.inputs_bytes, c.step);
        return true;
      case Sub::kReturnRecv:
        set(c, Sub::kReturnWait);
        op = recv_op(prev_dev, tag, spec_.acc_bytes, spec_.home, 0, c.step);
        return true;
      case Sub::kReturnWait:
        set(c, Sub::kDone);
        op = wait_op(c.step);
        return true;
      case Sub::kDone:
        return false;
    }
  }
}

RingLowering GradRing::lower(TimeNs pre_ns) const {
  // Representative steps of each class, as lower_ring takes them: (0, 0)
  // the diagonal, (1, 1) a lower block, (0, 1) an upper one.
  RingLowering l = lower_ring(in_, spec_.ring, spec_.inputs_bytes + spec_.acc_bytes,
                              [this](long long d, long long s) { return blocks(d, s); });
  GradRounds g;
  g.pre_ns = pre_ns;
  g.first_bytes = spec_.inputs_bytes;
  g.last_bytes = spec_.acc_bytes;
  if (spec_.ring > 1) {
    g.add_lower_ns = compute_op(in_, add_work(blocks(1, 1), 1), 1, 1, 0).duration_ns;
    g.add_upper_ns = compute_op(in_, add_work(blocks(0, 1), 1), 0, 1, 0).duration_ns;
  }
  l.grad = g;
  l.costs.source = in_.costs.source();
  return l;
}

}  // namespace ringsim::schedules
