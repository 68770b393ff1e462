// Chrome/Perfetto trace of one validation point: the real run (CUDA event
// times per rank) and the simulated run (SimOptions::chrome_trace) in one
// file, as four processes, so the two timelines sit one above the other:
//   pid 0  simulated compute   (tid = device)     written by sim/engine
//   pid 1  simulated transfers (tid = sender)     written by sim/engine
//   pid 10 measured compute    (tid = rank; casts of outputs too)
//   pid 11 measured transfers  (tid = sender, timed on its stream)
// Open in https://ui.perfetto.dev or chrome://tracing.
#pragma once
#include <string>

#include "kernels/ring/ring_executor.hpp"

namespace ringsim::validate {

// sim_events: the simulator's comma-separated events (may be empty).
// Throws std::runtime_error when the file cannot be written.
void write_trace(const std::string& path, const ring::RingTimeline&, const std::string& card,
                 const std::string& sim_events);

}  // namespace ringsim::validate
