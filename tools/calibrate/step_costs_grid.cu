// Per-step cost samples over the calibration grid (see step_costs_grid.hpp).
#include "tools/calibrate/step_costs_grid.hpp"

#include <cstdio>
#include <exception>
#include <memory>

#include "kernels/ring/ring_executor.hpp"
#include "kernels/ring/step_costs.hpp"

namespace ringsim::calibrate {

namespace {

constexpr int kSteps = 16, kRepeats = 5, kTransfers = 8;
constexpr int kQHeads = 32, kKvHeads = 8, kHeadDim = 128;

StepTransport transport_of(ring::StepLink link) {
  return link == ring::StepLink::kNccl ? StepTransport::kNccl : StepTransport::kCopy;
}

}  // namespace

bool measure_step_costs(bool quick, StepCostSamples& out, std::string& error) {
  try {
    const int cards = ring::cuda_device_count();
    const std::unique_ptr<ring::RingContext> ctx = std::make_unique<ring::RingContext>(cards >= 2 ? 2 : 1);
    std::vector<ring::StepLink> links{ring::StepLink::kCopy};
    if (cards >= 2) links.push_back(ring::StepLink::kNccl);
    out.note = cards >= 2 ? "copy on card 0 and NCCL send/recv both ways between cards 0 and 1"
                          : "copy on card 0 only (one card: no NCCL samples)";
    const std::vector<long long> chunks = quick ? std::vector<long long>{2048, 8192}
                                                : std::vector<long long>{1024, 2048, 4096, 8192};
    for (const ring::StepLink link : links) {
      for (const long long c : chunks) {
        const ring::BlockTimingShape block{kernels::Mask::kFull, c, c, kQHeads, kKvHeads, kHeadDim};
        const double kv_bytes = 2.0 * c * kKvHeads * kHeadDim * 2;  // K and V, bf16
        for (int messages : {1, 2}) {
          const ring::StepCostMeasurement m =
              ring::measure_step_overhead(ctx.get(), link, block, kv_bytes, messages, kSteps, kRepeats);
          out.overhead.push_back({transport_of(link), messages, kv_bytes, DType::kBf16, kHeadDim, kQHeads, kKvHeads,
                                  MaskKind::kFull, c, c, m.overhead_s});
          std::fprintf(stderr, "  step %s chunk %lld, %d message(s): %.2f us over block+merge alone (coupled %.1f, "
                       "alone %.1f, free %.1f / %.1f us)\n",
                       step_transport_name(transport_of(link)), c, messages, m.overhead_s * 1e6, m.coupled_s * 1e6,
                       m.alone_compute_s * 1e6, m.free_compute_s * 1e6, m.free_transfer_s * 1e6);
        }
        const ring::LinkUnderCompute l =
            ring::measure_link_under_compute(ctx.get(), link, block, kv_bytes, kTransfers, kRepeats);
        out.link.push_back({transport_of(link), kv_bytes, DType::kBf16, kHeadDim, kQHeads, kKvHeads, MaskKind::kFull,
                            c, c, l.factor});
        std::fprintf(stderr, "  link %s chunk %lld: %.3f of its rate beside compute (%.1f vs %.1f us)\n",
                     step_transport_name(transport_of(link)), c, l.factor, l.beside_s * 1e6, l.alone_s * 1e6);
      }
    }
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
  return true;
}

}  // namespace ringsim::calibrate
