// Interference between transfers and compute on one card, measured for the
// simulator's profile (copy_compute_share, link_compute_share): a train of
// attention blocks of a given shape (back to back, >= 3 ms) is timed alone,
// then with one transfer of a given size started at each block's start, as a
// ring step does, on a high-priority stream (as in the ring; each waits for
// the previous one): a d2d copy on the card, or NCCL send/recv both ways
// between two cards. ringsim validate measures it at each
// point's own block shape and K/V message size, as it times block shapes:
// short kernels lose more per byte than long ones (measured on H200: a 2K
// block about twice the loss per byte of an 8K one; NCCL's CTAs hold SMs as
// each kernel starts). The share is the compute time lost
// per byte moved, scaled to a lone transfer at the simulator's link rate:
//   share = (t_loaded - t_alone) * bytes_per_s / (ends * bytes moved meanwhile)
// so a simulated transfer of B bytes costs the compute share * B / bytes_per_s,
// the loss measured for B bytes (ends: 1 for a copy, 2 for NCCL both ways,
// where each card is one end of two transfers).
#pragma once

#include "kernels/ring/block_timing.hpp"

namespace ringsim::ring {

class RingContext;

struct ShareMeasurement {
  double share = 0;       // clamped to [0, 1]
  double alone_s = 0;     // one attention block alone (median of trains / train)
  double loaded_s = 0;    // the same with transfers beside it
  double bytes_moved = 0; // per direction, while the train ran
  int train = 1;          // blocks per timed train
};

ShareMeasurement measure_copy_share(int device, const BlockTimingShape&, double bytes,
                                    double copy_payload_bytes_per_s);
ShareMeasurement measure_link_share(const RingContext&, const BlockTimingShape&, double bytes,
                                    double link_bytes_per_s);

}  // namespace ringsim::ring
