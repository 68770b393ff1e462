// Validation traces: see validate_trace.hpp.
#include "tools/validate/validate_trace.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace ringsim::validate {

namespace {

TimeNs ns(double ms) { return std::llround(ms * 1e6); }

// The measured run through the same PointTrace calls the engine makes.
void write_measured(PointTrace& trace, const ring::RingTimeline& t) {
  for (const ring::TimedOp& op : t.ops) {
    if (op.empty) continue;
    if (op.kind == ring::TimedOp::kTransfer) trace.transfer(op.device, op.peer, ns(op.start_ms), ns(op.end_ms), op.label);
    else trace.compute(op.device, ns(op.start_ms), ns(op.end_ms), op.label,
                       op.kind == ring::TimedOp::kCast ? "cast" : "compute");
  }
}

}  // namespace

ValidationTrace::ValidationTrace(const std::string& path, const ring::RingTimeline& measured, const std::string& card)
    : path_(path), file_(path), writer_(file_) {
  if (!file_) throw std::runtime_error("cannot write trace " + path);
  PointTrace real(writer_, fmt::format("measured on {} (rank = device)", card), DeviceSample{});
  write_measured(real, measured);
  simulated_.emplace(writer_, fmt::format("simulated, profile calibrated on {}", card), DeviceSample{});
}

void ValidationTrace::close() {
  writer_.close();
  file_.close();
  if (!file_) throw std::runtime_error("cannot write trace " + path_);
}

}  // namespace ringsim::validate
