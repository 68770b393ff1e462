// The files of one `ringsim run`: the results (--out FILE, else standard
// output) and the trace (--trace FILE), streamed into partial files that
// SIGINT and SIGTERM leave holding the finished points (interrupt.hpp).
// Every write is checked, standard output included (`> /dev/full` fails).
#pragma once
#include <optional>
#include <ostream>
#include <string>

#include "sim/simulate.hpp"
#include "tools/ringsim/interrupt.hpp"
#include "tools/ringsim/output_file.hpp"

namespace ringsim::cli {

// "point 3 of 16 (tokens 1048576, ring_size 256)"
std::string point_title(const Scenario& s, std::size_t index);

class RunFiles {
 public:
  RunFiles(const std::optional<std::string>& out, const std::optional<std::string>& trace, std::ostream& stdout_stream);
  std::ostream& results() { return out_ ? out_->stream() : stdout_; }
  std::ostream* trace() { return trace_ ? &trace_->stream() : nullptr; }
  void flush();  // throws std::runtime_error when a write failed
  // simulate_model_point; a failure names the point and says which finished
  // points were kept where (none: the partial files are removed).
  PointResult simulate(const Scenario& s, std::size_t index, const SimOptions& options);
  void point_written();  // flushes; the partial files now hold a point
  // After a failure: keeps the partial files if they hold a finished point
  // and says where ("; the finished points are kept in FILE.partial"), else "".
  std::string keep_finished();
  void commit();         // renames the partial files to their names

 private:
  InterruptGuard guard_;
  std::ostream& stdout_;
  std::optional<OutputFile> out_, trace_;
  int out_slot_ = -1, trace_slot_ = -1;
  std::size_t written_ = 0;
};

}  // namespace ringsim::cli
