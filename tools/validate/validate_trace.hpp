// Chrome/Perfetto trace of one validation point, written with the one trace
// writer (sim/trace.hpp): the real run (CUDA event times per rank) and the
// simulated run (the engine's PointTrace) as two processes, one above the
// other, drawn alike (per rank a compute thread, casts of outputs included,
// and a send thread; transfers with arrows to the receiver's next compute):
//   pid 1  measured on CARD (rank = device)
//   pid 2  simulated, profile calibrated on CARD
// Open in https://ui.perfetto.dev or chrome://tracing.
#pragma once
#include <fstream>
#include <optional>
#include <string>

#include "kernels/ring/ring_executor.hpp"
#include "sim/trace.hpp"

namespace ringsim::validate {

class ValidationTrace {
 public:
  // Creates `path` and writes the measured run; throws std::runtime_error.
  ValidationTrace(const std::string& path, const ring::RingTimeline& measured, const std::string& card);
  PointTrace* simulated() { return &*simulated_; }  // for SimOptions::trace
  void close();  // throws std::runtime_error when the file could not be written

 private:
  std::string path_;
  std::ofstream file_;
  TraceWriter writer_;
  std::optional<PointTrace> simulated_;
};

}  // namespace ringsim::validate
