// Link calibration for the validation runs: bandwidth and latency of the ways
// a ring moves K/V blocks, measured over message sizes (4 KiB .. 256 MiB):
//   d2d      cudaMemcpyAsync device-to-device on one card (the copy link of
//            ranks sharing a card)
//   peer     cudaMemcpyPeerAsync card 0 -> card 1 (one way, both ways)
//   nccl     grouped ncclSend/ncclRecv card 0 -> card 1 (one way, both ways
//            at once as the ring does: the intra_node link)
// Each size: warm-up, then the median of repeats timed with CUDA events.
// Fit (link_fit.cpp, CPU): bandwidth from a least-squares line t = a + b*bytes
// over the large sizes (>= 16 MiB), latency = median small-size time (<= 64
// KiB) minus its transfer time. Bandwidths count payload bytes per direction.
#pragma once
#include <string>
#include <vector>

namespace ringsim::ring {

class RingContext;

struct LinkSample {
  double bytes = 0;
  double seconds = 0;  // median
};

struct LinkFit {
  std::string name;        // "d2d copy", "nccl send/recv both ways", ...
  double bytes_per_s = 0;  // payload per direction
  double latency_s = 0;
  std::vector<LinkSample> samples;
};

std::vector<double> link_sizes(double min_bytes = 4096, double max_bytes = 256.0 * 1024 * 1024);
LinkFit fit_link(std::string name, std::vector<LinkSample> samples);

LinkFit measure_d2d_copy(int device, const std::vector<double>& sizes, int repeats);
// Needs a context of >= 2 cards; card 0 -> card 1 (and 1 -> 0 when both_ways).
LinkFit measure_peer_copy(const RingContext&, bool both_ways, const std::vector<double>& sizes,
                          int repeats);
LinkFit measure_nccl(const RingContext&, bool both_ways, const std::vector<double>& sizes,
                     int repeats);
// An all-to-all over every card of the context as the executor issues one
// (ring_issue.cu: one group on the shared communicators, each card sending
// `bytes` to each other card): per size (bytes per peer), the median time of
// the whole collective, slowest card. Needs >= 2 cards.
std::vector<LinkSample> measure_nccl_all_to_all(const RingContext&, const std::vector<double>& per_peer_sizes,
                                                int repeats);

}  // namespace ringsim::ring
