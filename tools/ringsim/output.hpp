// Result writers for `ringsim run`: table, CSV and JSON, each streamed one
// point at a time (flushed as it finishes) so long sweeps show results early.
// Every figure carries its label: time-like figures the row's label
// (simulated / estimated), memory estimated (the memory model's buffer
// sizes), wall measured (this machine's simulator run time).
#pragma once
#include <memory>
#include <ostream>
#include <string>

#include "tools/ringsim/cli_common.hpp"

namespace ringsim::cli {

// Figures derived from one point's result; the single place they are computed.
struct PointFigures {
  double seconds = 0, tokens_per_second = 0;
  double compute_seconds = 0, exposed_comm_seconds = 0, exposed_comm_fraction = 0;
  double balance = 1;  // causal balance: slowest device's compute / mean device compute
  const char* label = "estimated";
};
PointFigures figures_of(const PointResult& r);

// What bounds a point's time (the `bound` column), in this order:
//   "network": the slowest device waits on transfers at least as long as it
//              computes (exposed comm >= compute): the time mostly restates
//              the scenario's network figures;
//   "memory":  else, a block of chunk x chunk tokens moves more bytes than it
//              computes at the profile's rates (HBM time of Q, K and V in the
//              model's dtype, fp32 output and lse, above its flops time at
//              tflops x attention_efficiency): short chunks, memory-bound kernels;
//   "compute": otherwise.
const char* bound_of(const Scenario& s, const PointResult& r);

// Header facts shared by run and report.
std::string model_line(const Scenario& s);    // "32 q heads / 8 kv heads, head_dim 128, bf16, causal, zigzag"
std::string profile_line(const Scenario& s);  // "h100-sxm (kernel ringsim-fused-fa2; measured on NVIDIA H100 ...; FILE)"
std::string network_line(const Scenario& s);  // "8 GPUs/node, intra 450 GB/s 2 us, inter 50 GB/s 5 us"
std::string what_line(const Scenario& s);     // "simulated forward pass of context-parallel attention (schedules: pass-kv)"
std::string mode_cell(const PointResult& r);
// How the backward is costed ("backward blocks at the forward's time x 2.5 (...)"); empty without backward points.
std::string backward_note(const Scenario& s);  // "recurrence"; training: "folded+event" (forward+backward) if they differ
std::string schedule_cell(const Scenario& s, const PointResult& r);  // "usp (ulysses 8 x ring 2)", layout if not the scenario's
extern const char* const kLabelMeanings;      // one line: what each label means

// JSON pieces (the output is flat; nlohmann-json reads it back in the tests).
// json_string always gives valid UTF-8 JSON: quotes, backslashes and control
// characters escaped, a byte that is not UTF-8 (a file name, say) as U+FFFD.
std::string json_string(std::string_view text);
std::string json_number(double value);  // null for NaN / inf

// Writes the header, then one point at a time, then the end. Each call
// writes and flushes whole lines; point() depends on nothing but its point
// and its index in the scenario (0: first), so points simulated elsewhere
// (MPI ranks) write the same bytes.
class ResultWriter {
 public:
  virtual ~ResultWriter() = default;
  virtual void begin() = 0;
  virtual void point(const PointResult& r, std::size_t index) = 0;
  virtual void end() = 0;
};

std::unique_ptr<ResultWriter> make_writer(Format format, std::ostream& out, const Scenario& s, Mode mode,
                                          CsvHeader csv_header = CsvHeader::kComments);

}  // namespace ringsim::cli
