// The one Chrome/Perfetto trace writer (JSON object format,
// {"displayTimeUnit": "ns", "traceEvents": [...]}), used by the event engine
// (through PointTrace) and by ringsim validate (measured timelines).
// No CUDA, no I/O of its own: it writes to a std::ostream.
//
// Layout: one process per simulated point ("point 3: 1048576 tokens, ring
// 256"), so points never draw on top of each other; in it, per device a
// compute thread ("device 17") and a send thread ("device 17 send"), named
// with thread_name metadata at their first event; every transfer is a slice
// on its sender's send thread and a flow arrow to the receiver's next
// compute. DeviceSample keeps traces of large rings small enough to open
// (--trace-devices 0-15,1024). Times are integer nanoseconds, written as
// microseconds with three decimals. Open in https://ui.perfetto.dev.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/units.hpp"

namespace ringsim {

class TraceWriter {
 public:
  explicit TraceWriter(std::ostream& out);  // writes the opening
  void close();                             // writes the closing (once; a trace cut short lacks it)
  // A new process: pids 1, 2, ... sorted in the order they are added.
  int add_process(std::string_view name);
  void name_thread(int pid, long long tid, std::string_view name);
  // A complete slice [start_ns, end_ns]; args {"step": step} and, when
  // peer >= 0, {"peer": peer}.
  void slice(int pid, long long tid, std::string_view name, TimeNs start_ns, TimeNs end_ns, long long step,
             long long peer = -1);
  // An arrow from the slice enclosing from_ns on from_tid to the next slice
  // that starts at or after to_ns on to_tid (Trace Event Format flow events).
  void flow(int pid, long long from_tid, TimeNs from_ns, long long to_tid, TimeNs to_ns);

 private:
  void begin_event();
  std::ostream& out_;
  bool first_ = true, closed_ = false;
  int next_pid_ = 1;
  std::uint64_t next_flow_ = 1;
};

// Devices drawn in a trace: "0-15,1024" (inclusive ranges, comma-separated);
// empty text: every device.
class DeviceSample {
 public:
  static DeviceSample parse(std::string_view text);  // throws std::invalid_argument naming the bad part
  bool contains(long long device) const;
  bool all() const { return ranges_.empty(); }

 private:
  std::vector<std::pair<long long, long long>> ranges_;  // sorted by first device
};

// One simulated point: the engine's trace hook calls compute() and transfer().
class PointTrace {
 public:
  PointTrace(TraceWriter& writer, std::string_view process_name, DeviceSample sample);
  // A slice on the device's compute thread ("compute", or what else the
  // device's stream did, e.g. a measured run's "cast").
  void compute(long long device, TimeNs start_ns, TimeNs end_ns, long long step, std::string_view name = "compute");
  void transfer(long long src, long long dst, TimeNs start_ns, TimeNs end_ns, long long step);
  // Later slices drawn offset_ns later (a training point's backward, after
  // its forward: sim/training.hpp).
  void set_offset_ns(TimeNs offset_ns) { offset_ns_ = offset_ns; }
  static long long compute_tid(long long device) { return 2 * device; }
  static long long send_tid(long long device) { return 2 * device + 1; }

 private:
  void name_device(long long device);
  TraceWriter& writer_;
  int pid_;
  DeviceSample sample_;
  std::vector<bool> named_;  // by device
  TimeNs offset_ns_ = 0;
};

}  // namespace ringsim
