// The ring phase of a backward (pass-kv, pass-q, and usp's ring across its
// Ulysses groups): one side of the attention travels -- pass-kv: K/V; pass-q:
// Q with its dO, LSE and D -- and the gradient of that side follows one step
// behind as an accumulator in attention.grad_dtype, which one more hop
// returns home; the other side's gradient adds up where it stays (the
// host's blocks say where). ring-flash-attention and TransformerEngine run
// the pass-kv backward this way: a block's gradient is computed into a
// buffer of its own while the accumulator arrives, then added to it.
//
// Ring step s (0..R-1) of a device holding part j(s) = its ring position - s:
//   SEND     to the next device what it received at s-1 (a receive slot:
//            the inputs of part j(s), then the accumulator of part j(s-1));
//            s = 0: its own inputs only; s = R-1: the accumulator only
//   RECV     from the previous device into slot s % 2, likewise
//   COMPUTE  the backward of its blocks against part j(s): the travelling
//            side's gradient written into slot 0's accumulator (s = 0: it
//            starts its own part's), home (R = 1), or the fp32 block buffer
//   WAIT_ALL
//   COMPUTE  s >= 1: the block buffer's written rows added into the
//            accumulator of part j(s) just received in slot s % 2 (skipped
//            when the mask leaves the step no block)
//   WAIT_ALL
// then (R > 1) SEND slot (R-1) % 2's accumulator to the next device, which
// owns part j(R-1); RECV our own part's into `home`; WAIT_ALL.
// Slots are bundles: [inputs (inputs_bytes) | accumulator (acc_bytes)], so
// every hop is one message (sim/work.hpp: Slice::base_bytes).
//
// Cursor: steps first_step .. first_step + R - 1 (the return hop is labelled
// first_step + R); the host's phase value `phase` with the ring's own
// sub-phase as its index (common.hpp: kPhaseStride).
#pragma once
#include "sim/ring_lowering.hpp"
#include "sim/schedules/backward.hpp"

namespace ringsim::schedules {

struct GradRingSpec {
  long long ring = 1;           // devices in the ring (R)
  long long first_step = 0;     // cursor step of ring step 0
  int phase = 0;                // the host's phase value for the ring
  bool travelling_kv = true;    // the travelling side: K/V (pass-kv) or queries (pass-q)
  double inputs_bytes = 0;      // the travelling inputs of one part
  double acc_bytes = 0;         // the accumulator of one part (grad_dtype)
  double acc_row_bytes = 0;     // one row of it
  double block_row_bytes = 0;   // one row of the fp32 block buffer
  BufferId own = kNoBuffer;     // the device's own inputs (sent at step 0)
  BufferId slot[2] = {kNoBuffer, kNoBuffer};
  BufferId block = kNoBuffer;   // fp32 gradient of a step's blocks (s >= 1)
  BufferId home = kNoBuffer;    // the own part's finished gradient
};

class GradRingHost {
 public:
  virtual ~GradRingHost() = default;
  virtual long long ring_peer(long long d, int direction) const = 0;  // +1: next, -1: previous
  // The backward blocks of ring step s on device d: travelling inputs at
  // `inputs` (rows of the part from row 0), the travelling side's gradient
  // written fresh at `acc`.
  virtual ComputeWork ring_blocks(long long d, long long s, const Slice& inputs, const Slice& acc) const = 0;
};

class GradRing {
 public:
  GradRing(const PlanInput& in, const GradRingSpec& spec, const GradRingHost& host)
      : in_(in), spec_(spec), host_(host) {}
  const GradRingSpec& spec() const { return spec_; }
  // Sets the cursor at ring step 0.
  void enter(ProgramCursor& c) const;
  // The ring's next op for device d; false once the ring is done.
  bool next(long long d, ProgramCursor& c, Op& op) const;
  // The work of the compute `next` just returned.
  ComputeWork work(long long d, const ProgramCursor& after) const;
  // WAIT_ALLs of one device's ring phase.
  std::uint64_t waits() const;
  // The exact fast path of the ring phase (RingLowering::grad); `pre_ns`:
  // what every device computes before it (the D pass).
  RingLowering lower(TimeNs pre_ns) const;

 private:
  enum class Sub { kSend, kRecv, kCompute, kWait, kAdd, kAddWait, kReturnSend, kReturnRecv, kReturnWait, kDone };
  Sub sub(const ProgramCursor& c) const { return static_cast<Sub>(index_of(c)); }
  void set(ProgramCursor& c, Sub s) const { c.phase = spec_.phase * kPhaseStride + static_cast<int>(s); }
  double message_bytes(long long s) const;  // sent and received at ring step s
  Slice inputs(long long s) const;          // held at ring step s
  Slice acc_target(long long s) const;      // the travelling gradient's target at ring step s
  ComputeWork blocks(long long d, long long s) const;
  ComputeWork add_work(const ComputeWork& blocks, long long s) const;

  PlanInput in_;
  GradRingSpec spec_;
  const GradRingHost& host_;
};

}  // namespace ringsim::schedules
