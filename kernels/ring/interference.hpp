// Interference between transfers and compute on one card, measured for the
// simulator's profile (copy_compute_share, link_compute_share): an attention
// block is timed alone, then while back-to-back transfers run beside it on a
// high-priority stream (as in the ring): d2d copies on the card, or NCCL
// send/recv both ways between two cards. The share is the compute time lost
// per byte moved, scaled to a lone transfer at the simulator's link rate:
//   share = (t_loaded - t_alone) * bytes_per_s / (ends * bytes moved meanwhile)
// so a simulated transfer of B bytes costs the compute share * B / bytes_per_s,
// the loss measured for B bytes (ends: 1 for a copy, 2 for NCCL both ways,
// where each card is one end of two transfers).
#pragma once

namespace ringsim::ring {

class RingContext;

struct ShareMeasurement {
  double share = 0;       // clamped to [0, 1]
  double alone_s = 0;     // attention block alone (median)
  double loaded_s = 0;    // the same with transfers beside it (median)
  double bytes_moved = 0; // per direction, while the block ran
};

ShareMeasurement measure_copy_share(int device, double bytes, double copy_payload_bytes_per_s);
ShareMeasurement measure_link_share(const RingContext&, double bytes, double link_bytes_per_s);

}  // namespace ringsim::ring
