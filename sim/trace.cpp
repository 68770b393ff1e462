// Chrome/Perfetto traces; see trace.hpp.
#include "sim/trace.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <stdexcept>

namespace ringsim {

namespace {

// Microseconds with nanosecond precision, as the trace format wants.
std::string us(TimeNs t) { return fmt::format("{}.{:03}", t / 1000, t % 1000); }

// A JSON string: quotes, backslashes and control characters escaped. Names
// come from the program (device numbers, card names read as UTF-8).
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<int>(c));
    else out += c;
  }
  return out + "\"";
}

long long parse_device(std::string_view text, std::string_view whole) {
  long long v = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < 0)
    throw std::invalid_argument(fmt::format("'{}' in '{}' is not a device number (0, 1, ...)", text, whole));
  return v;
}

}  // namespace

TraceWriter::TraceWriter(std::ostream& out) : out_(out) { out_ << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"; }

void TraceWriter::close() {
  if (closed_) return;
  out_ << "\n]}\n";
  closed_ = true;
}

void TraceWriter::begin_event() {
  if (!first_) out_ << ",\n";
  first_ = false;
}

int TraceWriter::add_process(std::string_view name) {
  const int pid = next_pid_++;
  begin_event();
  fmt::print(out_, R"({{"name":"process_name","ph":"M","pid":{},"args":{{"name":{}}}}},)", pid, quoted(name));
  fmt::print(out_, "\n" R"({{"name":"process_sort_index","ph":"M","pid":{},"args":{{"sort_index":{}}}}})", pid, pid);
  return pid;
}

void TraceWriter::name_thread(int pid, long long tid, std::string_view name) {
  begin_event();
  fmt::print(out_, R"({{"name":"thread_name","ph":"M","pid":{},"tid":{},"args":{{"name":{}}}}},)", pid, tid,
             quoted(name));
  fmt::print(out_, "\n" R"({{"name":"thread_sort_index","ph":"M","pid":{},"tid":{},"args":{{"sort_index":{}}}}})",
             pid, tid, tid);
}

void TraceWriter::slice(int pid, long long tid, std::string_view name, TimeNs start_ns, TimeNs end_ns,
                        long long step, long long peer) {
  begin_event();
  fmt::print(out_, R"({{"name":{},"ph":"X","pid":{},"tid":{},"ts":{},"dur":{},"args":{{"step":{})", quoted(name),
             pid, tid, us(start_ns), us(end_ns - start_ns), step);
  if (peer >= 0) fmt::print(out_, R"(,"peer":{})", peer);
  out_ << "}}";
}

void TraceWriter::flow(int pid, long long from_tid, TimeNs from_ns, long long to_tid, TimeNs to_ns) {
  const std::uint64_t id = next_flow_++;
  begin_event();
  fmt::print(out_, R"({{"name":"transfer","cat":"transfer","ph":"s","id":{},"pid":{},"tid":{},"ts":{}}},)", id, pid, from_tid,
             us(from_ns));
  fmt::print(out_, "\n" R"({{"name":"transfer","cat":"transfer","ph":"f","id":{},"pid":{},"tid":{},"ts":{}}})", id, pid, to_tid,
             us(to_ns));
}

DeviceSample DeviceSample::parse(std::string_view text) {
  DeviceSample s;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string_view part = text.substr(at, comma - at);
    const std::size_t dash = part.find('-');
    const long long first = parse_device(part.substr(0, dash), text);
    const long long last = dash == std::string_view::npos ? first : parse_device(part.substr(dash + 1), text);
    if (last < first) throw std::invalid_argument(fmt::format("range '{}' in '{}' runs backwards", part, text));
    s.ranges_.emplace_back(first, last);
    at = comma + 1;
    if (comma + 1 == text.size()) throw std::invalid_argument(fmt::format("'{}' ends with a comma", text));
  }
  std::sort(s.ranges_.begin(), s.ranges_.end());
  return s;
}

bool DeviceSample::contains(long long device) const {
  if (ranges_.empty()) return true;
  const std::pair<long long, long long> key{device, std::numeric_limits<long long>::max()};
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), key);
  return it != ranges_.begin() && device <= std::prev(it)->second;
}

PointTrace::PointTrace(TraceWriter& writer, std::string_view process_name, DeviceSample sample)
    : writer_(writer), pid_(writer.add_process(process_name)), sample_(std::move(sample)) {}

void PointTrace::name_device(long long device) {
  if (device >= static_cast<long long>(named_.size())) named_.resize(static_cast<std::size_t>(device) + 1, false);
  if (named_[device]) return;
  named_[device] = true;
  writer_.name_thread(pid_, compute_tid(device), fmt::format("device {}", device));
  writer_.name_thread(pid_, send_tid(device), fmt::format("device {} send", device));
}

void PointTrace::compute(long long device, TimeNs start_ns, TimeNs end_ns, long long step, std::string_view name) {
  if (!sample_.contains(device)) return;
  name_device(device);
  writer_.slice(pid_, compute_tid(device), name, start_ns + offset_ns_, end_ns + offset_ns_, step);
}

void PointTrace::transfer(long long src, long long dst, TimeNs start_ns, TimeNs end_ns, long long step) {
  start_ns += offset_ns_;
  end_ns += offset_ns_;
  if (!sample_.contains(src)) return;
  name_device(src);
  writer_.slice(pid_, send_tid(src), "transfer", start_ns, end_ns, step, dst);
  if (!sample_.contains(dst)) return;
  name_device(dst);
  // From inside the send slice to the receiver's next compute: the arrow's
  // end sits 1 ns before the transfer ends, so a compute that starts the
  // moment the data lands is the one it binds to.
  writer_.flow(pid_, send_tid(src), start_ns + (end_ns - start_ns) / 2, compute_tid(dst),
               std::max(start_ns, end_ns - 1));
}

}  // namespace ringsim
