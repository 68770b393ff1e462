// Files of a run; see run_files.hpp.
#include "tools/ringsim/run_files.hpp"

#include <fmt/format.h>

#include "sim/model_step.hpp"

#include <stdexcept>

namespace ringsim::cli {

namespace {
constexpr std::size_t kTraceWriteAboveBytes = 8 << 20;  // a large point's trace is written as it grows
}  // namespace

std::string point_title(const Scenario& s, std::size_t index) {
  const Point& p = s.points[index];
  return fmt::format("point {} of {} (tokens {}, ring_size {})", index + 1, s.points.size(), p.tokens, p.ring_size);
}

RunFiles::RunFiles(const std::optional<std::string>& out, const std::optional<std::string>& trace,
                   std::ostream& stdout_stream)
    : stdout_(stdout_stream) {
  if (out) {
    out_.emplace(*out);
    out_slot_ = guard_.track(out_->partial_path());
  }
  if (trace) {
    trace_.emplace(*trace, kTraceWriteAboveBytes);
    trace_slot_ = guard_.track(trace_->partial_path());
  }
}

void RunFiles::flush() {
  if (out_) out_->flush();
  else flush_checked(stdout_, "standard output");
  if (trace_) trace_->flush();
}

PointResult RunFiles::simulate(const Scenario& s, std::size_t index, const SimOptions& options) {
  try {
    return simulate_model_point(s, s.points[index], options);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}: {}{}", s.path, point_title(s, index), e.what(), keep_finished()));
  }
}

std::string RunFiles::keep_finished() {
  std::string kept;
  if (written_ == 0) return kept;  // nothing worth keeping: the partial files go
  for (OutputFile* f : {out_ ? &*out_ : nullptr, trace_ ? &*trace_ : nullptr}) {
    if (!f) continue;
    f->keep_partial();
    kept += fmt::format("{} {}", kept.empty() ? "; the finished points are kept in" : " and", f->partial_path());
  }
  return kept;
}

void RunFiles::point_written() {
  flush();
  ++written_;
  if (out_) guard_.holds_points(out_slot_);
  if (trace_) guard_.holds_points(trace_slot_);
}

void RunFiles::commit() {
  const WriteSection section;  // both renamed before a signal is acted on
  flush();
  if (trace_) {
    trace_->commit();
    guard_.committed(trace_slot_);
  }
  if (out_) {
    out_->commit();
    guard_.committed(out_slot_);
  }
}

}  // namespace ringsim::cli
