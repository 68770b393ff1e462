// Validation traces: see validate_trace.hpp.
#include "tools/validate/validate_trace.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace ringsim::validate {

namespace {

TimeNs ns(double ms) { return std::llround(ms * 1e6); }

// The measured run through the same PointTrace calls the engine makes.
void write_measured(PointTrace& trace, const ring::RingTimeline& t, const ring::RingConfig& cfg) {
  for (int d = 0; d < cfg.ring_size; ++d) {
    for (int s = 0; s < cfg.ring_size; ++s) {
      const ring::Slice& c = t.compute[d][s];
      if (c.start_ms >= 0) trace.compute(d, ns(c.start_ms), ns(c.end_ms), s);
      const ring::Slice& x = t.transfer[d][s];
      if (x.start_ms >= 0) trace.transfer(d, (d + 1) % cfg.ring_size, ns(x.start_ms), ns(x.end_ms), s);
    }
  }
}

}  // namespace

ValidationTrace::ValidationTrace(const std::string& path, const ring::RingTimeline& measured,
                                 const ring::RingConfig& cfg, const std::string& card)
    : path_(path), file_(path), writer_(file_) {
  if (!file_) throw std::runtime_error("cannot write trace " + path);
  PointTrace real(writer_, fmt::format("measured on {}", card), DeviceSample{});
  write_measured(real, measured, cfg);
  simulated_.emplace(writer_, fmt::format("simulated, profile calibrated on {}", card), DeviceSample{});
}

void ValidationTrace::close() {
  writer_.close();
  file_.close();
  if (!file_) throw std::runtime_error("cannot write trace " + path_);
}

}  // namespace ringsim::validate
