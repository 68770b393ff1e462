// The real pass-KV ring executor: see ring_executor.hpp for what it runs and
// ring_executor_impl.cuh for the steps (computes and transfers bound by events).
#include "kernels/ring/ring_executor.hpp"

#include "kernels/ring/ring_executor_impl.cuh"

namespace ringsim::ring {

RingExecutor::RingExecutor(const RingContext& ctx, const RingConfig& cfg)
    : impl_(std::make_unique<Impl>(ctx, cfg)) {}
RingExecutor::~RingExecutor() = default;
void RingExecutor::fill_inputs(std::uint64_t seed) { impl_->fill_inputs(seed); }
RingTimeline RingExecutor::run() { return impl_->run(); }

}  // namespace ringsim::ring
