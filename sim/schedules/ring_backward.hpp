// The backward of the pass-kv and pass-q rings: one program, mirrored by
// which side travels (sim/schedules/grad_ring.hpp).
//   pass-kv  K/V travel with their dK/dV accumulators one step behind; Q,
//            dO, LSE and D stay, dQ adds up at home in fp32 (dq_acc).
//   pass-q   Q travels with its dO, LSE and D as one bundle (q_bundle: Q,
//            dO, LSE, D one after another), the dQ accumulator one step
//            behind; K/V stay, dK/dV add up at home in fp32 (dkv_acc).
// Program of a device: ALLOC everything; COMPUTE the D pass (pass-q: and
// the packing of its own bundle), WAIT_ALL; the gradient ring (steps 1..P,
// the return hop labelled P + 1); FREE everything.
// Lowering: the ring's gradient rounds (RingLowering::grad) with the D pass
// before them, exact when the ring's routes are link-disjoint; none with
// packed documents (every block costs its own).
#pragma once
#include <memory>

#include "sim/schedule.hpp"

namespace ringsim::schedules {

enum class TravellingSide { kKv, kQ };
std::unique_ptr<Plan> make_ring_backward(const PlanInput&, TravellingSide);

}  // namespace ringsim::schedules
