// Result writers for `ringsim run`; see output.hpp.
#include "tools/ringsim/output.hpp"

#include "tools/ringsim/fault_columns.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>

#include "models/input_file.hpp"
#include "tools/ringsim/csv.hpp"
#include "tools/ringsim/output_model.hpp"

namespace ringsim::cli {

const char* const kLabelMeanings =
    "simulated = event model fed by a calibrated profile; estimated = compute from a roofline "
    "(datasheet rates) or a closed form; measured = timed on a real machine";

Scenario load_scenario_with_sets(const std::string& path, const std::vector<std::string>& sets) {
  std::vector<Override> overrides;
  for (const std::string& text : sets) overrides.push_back(parse_override(text));
  return load_scenario(path, overrides);
}

const char* label_of(CostSource source) {
  return source == CostSource::kCalibrated ? "simulated" : "estimated";
}

PointFigures figures_of(const PointResult& r) {
  PointFigures f;
  f.seconds = to_seconds(r.makespan_ns);
  f.tokens_per_second = f.seconds > 0 ? static_cast<double>(r.point.tokens) / f.seconds : NAN;
  f.compute_seconds = to_seconds(r.slowest_compute_ns);
  f.exposed_comm_seconds = to_seconds(r.slowest_exposed_comm_ns);
  double busy = f.compute_seconds + f.exposed_comm_seconds;
  f.exposed_comm_fraction = busy > 0 ? f.exposed_comm_seconds / busy : 0;
  f.balance = r.mean_compute_ns > 0 ? static_cast<double>(r.max_compute_ns) / r.mean_compute_ns : 1;
  f.label = label_of(r.compute_source);
  if (!r.model) return f;
  const ModelStep& m = *r.model;  // a whole step: the row's time is the step's
  f.seconds = m.step_seconds;
  f.tokens_per_second = f.seconds > 0 ? static_cast<double>(r.point.tokens) / f.seconds : NAN;
  f.compute_seconds = m.compute_seconds;
  f.exposed_comm_seconds = m.exposed_comm_seconds;
  f.exposed_comm_fraction = f.seconds > 0 ? f.exposed_comm_seconds / f.seconds : 0;
  if (!m.gemm_calibrated) f.label = "estimated";
  return f;
}

const char* bound_of(const Scenario& s, const PointResult& r) {
  if (r.slowest_exposed_comm_ns > 0 && r.slowest_exposed_comm_ns >= r.slowest_compute_ns) return "network";
  const DeviceProfile& p = s.profile;
  const auto rate = p.flops_per_s.find(s.shape.dtype);
  if (rate == p.flops_per_s.end() || !(p.hbm_bytes_per_s > 0)) return "compute";
  const double c = static_cast<double>(r.point.chunk_tokens()), d = s.shape.head_dim;
  const double qh = s.shape.q_heads, kvh = s.shape.kv_heads, dt = dtype_bytes(s.shape.dtype);
  const double bytes = c * qh * d * dt + 2 * c * kvh * d * dt + c * qh * d * 4 + c * qh * 4;
  const double flops = 4 * c * c * d * qh;
  return bytes / p.hbm_bytes_per_s > flops / (rate->second * p.attention_efficiency) ? "memory" : "compute";
}

std::string model_line(const Scenario& s) {
  return fmt::format("{} q heads / {} kv heads, head_dim {}, {}, {}", s.shape.q_heads, s.shape.kv_heads,
                     s.shape.head_dim, dtype_name(s.shape.dtype),
                     s.causal ? fmt::format("causal, {} layout", layout_name(s.layout)) : "non-causal");
}

std::string profile_line(const Scenario& s) {
  const DeviceProfile& p = s.profile;
  std::string source = p.measured ? fmt::format("measured on {}", p.card) : fmt::format("datasheet of {}", p.card);
  const std::string kernel = p.kernel.empty() ? "kernel not named" : fmt::format("kernel {}", p.kernel);
  const auto suspect = std::count_if(p.attention.begin(), p.attention.end(), [](const AttentionSample& a) { return a.suspect; });
  const std::string flagged = suspect == 0 ? "" : fmt::format("; {} suspect samples left out", suspect);
  return fmt::format("{} ({}; {}{}; {})", p.name, kernel, source, flagged, p.origin);
}

std::string network_line(const Scenario& s) {
  return fmt::format("{} GPUs/node, intra {} {}, inter {} {}", s.gpus_per_node,
                     format_rate(s.intra_node.bytes_per_s), format_seconds(to_seconds(s.intra_node.latency_ns)),
                     format_rate(s.inter_node.bytes_per_s), format_seconds(to_seconds(s.inter_node.latency_ns)));
}

std::string what_line(const Scenario& s) {
  std::vector<std::string> names, passes;
  const auto add = [](std::vector<std::string>& v, const std::string& x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  };
  for (const Point& p : s.points) {
    const PointAttention a = attention_of(s, p);
    add(names, a.schedule);
    add(passes, a.pass == Pass::kTraining ? "training (forward + backward)" : std::string(pass_name(a.pass)));
  }
  return fmt::format("simulated {} pass{} of context-parallel attention (schedule{}: {}), times {}", fmt::join(passes, ", "),
                     passes.size() > 1 ? "es" : "", names.size() > 1 ? "s" : "", fmt::join(names, ", "), scope_line(s));
}

// A pass's seconds, or NaN (JSON null, CSV empty) when the point does not run it.
double pass_seconds(const PointResult& r, Pass which) {
  const bool runs = r.pass == which || r.pass == Pass::kTraining;
  return runs ? to_seconds(which == Pass::kForward ? r.forward_ns : r.backward_ns) : NAN;
}

std::string backward_note(const Scenario& s) {
  const bool any = std::any_of(s.points.begin(), s.points.end(),
                               [&](const Point& p) { return attention_of(s, p).pass != Pass::kForward; });
  if (!any) return {};
  if (s.profile.backward.empty())
    return fmt::format("backward blocks at the forward's time x {} (profile {} has no backward samples: estimated); "
                       "gradients travel in {}", kBackwardFlopsFactor, s.profile.name, dtype_name(s.grad_dtype));
  return fmt::format("backward blocks from the profile's {} backward samples; gradients travel in {}",
                     s.profile.backward.size(), dtype_name(s.grad_dtype));
}

std::string mode_cell(const PointResult& r) {
  if (r.pass != Pass::kTraining || r.mode == r.backward_mode) return mode_name(r.mode);
  return fmt::format("{}+{}", mode_name(r.mode), mode_name(r.backward_mode));
}

std::string schedule_cell(const Scenario& s, const PointResult& r) {
  std::string cell = r.schedule;
  if (!r.schedule_detail.empty()) cell += fmt::format(" ({})", r.schedule_detail);
  if (r.layout != s.layout) cell += fmt::format(", {}", layout_name(r.layout));
  return cell;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  while (!text.empty()) {
    const std::size_t bad = invalid_utf8_at(text);
    for (char c : text.substr(0, bad)) {
      if (c == '"' || c == '\\') out += fmt::format("\\{}", c);
      else if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<int>(c));
      else out += c;
    }
    if (bad == std::string_view::npos) break;
    out += "\\ufffd";
    text.remove_prefix(bad + 1);
  }
  return out + "\"";
}

std::string json_number(double value) { return std::isfinite(value) ? fmt::format("{}", value) : "null"; }

namespace {

// 6.63 M, 909 k: token rates at a glance (CSV and JSON keep full precision).
std::string format_count(double v) {
  if (!std::isfinite(v)) return "-";
  const char* prefixes[] = {"", " k", " M", " G", " T", " P"};
  int i = 0;
  for (; std::fabs(v) >= 1000 && i < 5; ++i) v /= 1000;
  return fmt::format("{:.3g}{}", v, prefixes[i]);
}

// Which source the first point's compute comes from: the header states it;
// each row repeats its own label.
CostSource probe_source(const Scenario& s, const ComputeModel& model) {
  const Point& p = s.points.front();
  const BlockShape block{p.chunk_tokens(), p.chunk_tokens(), MaskKind::kFull, true};
  const Pass pass = attention_of(s, p).pass;
  const bool forward_estimated = pass != Pass::kBackward && model.block_cost(block).source == CostSource::kEstimated;
  const bool backward_estimated =
      pass != Pass::kForward && model.backward_block_cost(block).source == CostSource::kEstimated;
  return forward_estimated || backward_estimated ? CostSource::kEstimated : CostSource::kCalibrated;
}

class TableWriter : public ResultWriter {
 public:
  TableWriter(std::ostream& out, const Scenario& s) : out_(out), s_(s), model_(s.profile, s.shape) {}
  void begin() override {
    fmt::print(out_, "ringsim {} — {}\n", kVersion, what_line(s_));
    fmt::print(out_, "scenario: {}\nmodel:    {}\n", one_line(fmt::format("{} ({})", s_.name, s_.path)), model_line(s_));
    fmt::print(out_, "profile:  {}\n",
               one_line(fmt::format("{} — compute {}", profile_line(s_), model_.describe(probe_source(s_, model_)))));
    if (const std::string note = backward_note(s_); !note.empty()) fmt::print(out_, "backward: {}\n", one_line(note));
    fmt::print(out_, "network:  {}\nlabels:   {}\n", network_line(s_), kLabelMeanings);
    fmt::print(out_, "columns:  time, tokens/s, compute and exposed comm (of the slowest device) carry the row's "
                     "label; bound = network (exposed comm >= compute), memory (a chunk's block moves more bytes than it computes at "
                     "the profile's rates) or compute; balance = largest / mean device compute; mem/GPU is estimated (memory model buffers of "
                     "its ranks); wall is measured (simulator run time)\n\n");
    fmt::print(out_, "{:>14} {:>13} {:>11}  {:<34} {:<8} {:<9} {:>11} {:>12} {:>11} {:>4} {:>11} {:>20} {:<8} {:>7} {:<10} {:>12} {:>9}\n",
               "tokens", "ring/gpus", "chunk", "schedule", "pass", "label", "time", "tokens/s", "mem/GPU", "fits",
               "compute", "exposed comm (%)", "bound", "balance", "mode", "events", "wall");
    out_.flush();
  }
  void point(const PointResult& r, std::size_t) override {
    PointFigures f = figures_of(r);
    fmt::print(out_, "{:>14} {:>13} {:>11}  {:<34} {:<8} {:<9} {:>11} {:>12} {:>11} {:>4} {:>11} {:>20} {:<8} {:>7} {:<10} {:>12} {:>9}\n",
               r.point.tokens, fmt::format("{}/{}", r.point.ring_size, gpus_of(s_, r)),
               r.point.chunk_tokens(), schedule_cell(s_, r), pass_name(r.pass), f.label, format_seconds(f.seconds),
               format_count(f.tokens_per_second),
               format_bytes(r.memory.peak_bytes), r.memory.fits ? "yes" : "NO", format_seconds(f.compute_seconds),
               fmt::format("{} ({:.1f}%)", format_seconds(f.exposed_comm_seconds), 100 * f.exposed_comm_fraction),
               bound_of(s_, r), fmt::format("{:.2f}", f.balance), mode_cell(r), r.events, format_seconds(r.wall_seconds));
    if (r.pass == Pass::kTraining)
      fmt::print(out_, "{:>14}   forward {}, backward {} [{}]\n", "^", format_seconds(to_seconds(r.forward_ns)),
                 format_seconds(to_seconds(r.backward_ns)), f.label);
    if (r.model) fmt::print(out_, "{:>14}   {}\n", "", model_table_line(r));
    if (!r.memory.fits)
      fmt::print(out_, "{:>14}   does not fit in {} [estimated]: {}\n", "^", format_bytes(r.memory.capacity_bytes),
                 r.memory.reason);
    out_ << fault_table_line(r);
    out_.flush();
  }
  void end() override { out_.flush(); }

 private:
  std::ostream& out_;
  const Scenario& s_;
  ComputeModel model_;
};

class CsvWriter : public ResultWriter {
 public:
  CsvWriter(std::ostream& out, const Scenario& s, CsvHeader header)
      : out_(out), s_(s), model_(s.profile, s.shape), header_(header) {}
  void begin() override {
    if (header_ == CsvHeader::kComments) {
      std::vector<std::string> lines{
          fmt::format("ringsim {} — {}", kVersion, what_line(s_)),
          fmt::format("scenario: {} ({}); model: {}", s_.name, s_.path, model_line(s_)),
          fmt::format("profile: {}; network: {}", profile_line(s_), network_line(s_))};
      if (const std::string note = backward_note(s_); !note.empty()) lines.push_back("backward: " + note);
      lines.push_back(fmt::format("labels: {}; memory figures are estimated; wall_seconds is measured", kLabelMeanings));
      for (const std::string& line : lines) fmt::print(out_, "# {}\n", one_line(line));
    }
    out_ << "tokens,ring_size,ranks_per_gpu,gpus,chunk_tokens,label,simulated_seconds,tokens_per_second,"
            "peak_memory_bytes_per_device,memory_capacity_bytes,fits_in_memory,memory_reason,compute_seconds,"
            "exposed_comm_seconds,exposed_comm_fraction,slowest_device,compute_source,mode,events,device_steps,"
            "wall_seconds,schedule,schedule_detail,layout,compute_balance,mean_compute_seconds,max_compute_seconds,"
            "total_flops,bound,pass,forward_seconds,backward_seconds" << kModelCsvColumns;
    if (any_faults(s_))
      for (const std::string& name : fault_column_names()) out_ << "," << name;
    out_ << "\n";
    out_.flush();
  }
  void point(const PointResult& r, std::size_t) override {
    PointFigures f = figures_of(r);
    long long rpg = ranks_per_gpu(s_, r.point);
    fmt::print(out_, "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},", r.point.tokens, r.point.ring_size,
               rpg, gpus_of(s_, r), r.point.chunk_tokens(), f.label, f.seconds,
               json_number(f.tokens_per_second), r.memory.peak_bytes, r.memory.capacity_bytes,
               r.memory.fits ? "true" : "false", csv_field(r.memory.reason), f.compute_seconds, f.exposed_comm_seconds,
               f.exposed_comm_fraction, r.slowest_device, csv_field(model_.describe(r.compute_source)), mode_cell(r),
               r.events, r.device_steps, r.wall_seconds);
    fmt::print(out_, "{},{},{},{},{},{},{},{},{},{},{}{}", csv_field(r.schedule), csv_field(r.schedule_detail),
               layout_name(r.layout), f.balance, r.mean_compute_ns / kNsPerSecond, to_seconds(r.max_compute_ns),
               r.total_flops, bound_of(s_, r), pass_name(r.pass), csv_number(pass_seconds(r, Pass::kForward)),
               csv_number(pass_seconds(r, Pass::kBackward)), model_csv_cells(r));
    if (any_faults(s_))
      for (const auto& [name, value] : fault_columns(r)) out_ << "," << (value == "null" ? "" : value);
    out_ << "\n";
    out_.flush();
  }
  void end() override { out_.flush(); }

 private:
  static std::string csv_number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); }
  std::ostream& out_;
  const Scenario& s_;
  ComputeModel model_;
  CsvHeader header_;
};

// Streams {"header": {...}, "points": [ ... ]}: a run stopped early leaves a
// file without the closing "]}".
class JsonWriter : public ResultWriter {
 public:
  JsonWriter(std::ostream& out, const Scenario& s, Mode mode) : out_(out), s_(s), mode_(mode), model_(s.profile, s.shape) {}
  void begin() override {
    const DeviceProfile& p = s_.profile;
    fmt::print(out_, "{{\"header\": {{\"ringsim_version\": {}, \"what\": {}, \"scenario\": {}, \"scenario_file\": {},\n",
               json_string(kVersion), json_string(what_line(s_)),
               json_string(s_.name), json_string(s_.path));
    fmt::print(out_, "  \"model\": {}, \"profile\": {}, \"card\": {}, \"profile_source\": {}, \"profile_file\": {},\n",
               json_string(model_line(s_)), json_string(p.name), json_string(p.card),
               json_string(p.measured ? "measured" : "datasheet"), json_string(p.origin));
    fmt::print(out_, "  \"network\": {}, \"requested_mode\": {}, \"backward\": {},\n", json_string(network_line(s_)),
               json_string(mode_name(mode_)), json_string(backward_note(s_)));
    fmt::print(out_, "  \"labels\": {{\"simulated\": {}, \"estimated\": {}, \"measured\": {}}},\n",
               json_string("event model fed by a calibrated profile"),
               json_string("compute from a roofline (datasheet rates) or a closed form"),
               json_string("timed on a real machine (here: wall_seconds, the simulator's own run time)"));
    fmt::print(out_, "  \"notes\": {}}},\n\"points\": [\n",
               json_string("time figures carry each point's label; memory figures are estimated (memory model)"));
    out_.flush();
  }
  void point(const PointResult& r, std::size_t index) override {
    PointFigures f = figures_of(r);
    long long rpg = ranks_per_gpu(s_, r.point);
    fmt::print(out_, "{}  {{\"tokens\": {}, \"ring_size\": {}, \"ranks_per_gpu\": {}, \"gpus\": {}, "
                     "\"chunk_tokens\": {}, \"label\": {}, ", index == 0 ? "" : ",\n", r.point.tokens, r.point.ring_size,
               rpg, gpus_of(s_, r), r.point.chunk_tokens(), json_string(f.label));
    fmt::print(out_, "\"simulated_seconds\": {}, \"tokens_per_second\": {}, \"peak_memory_bytes_per_device\": {}, ",
               json_number(f.seconds), json_number(f.tokens_per_second), json_number(r.memory.peak_bytes));
    fmt::print(out_, "\"memory_capacity_bytes\": {}, \"fits_in_memory\": {}, \"memory_reason\": {}, ",
               json_number(r.memory.capacity_bytes), r.memory.fits ? "true" : "false",
               r.memory.fits ? "null" : json_string(r.memory.reason));
    fmt::print(out_, "\"compute_seconds\": {}, \"exposed_comm_seconds\": {}, \"exposed_comm_fraction\": {}, ",
               json_number(f.compute_seconds), json_number(f.exposed_comm_seconds), json_number(f.exposed_comm_fraction));
    fmt::print(out_, "\"slowest_device\": {}, \"compute_source\": {}, \"mode\": {}, \"events\": {}, "
                     "\"device_steps\": {}, \"wall_seconds\": {}, ",
               r.slowest_device, json_string(model_.describe(r.compute_source)), json_string(mode_cell(r)),
               r.events, r.device_steps, json_number(r.wall_seconds));
    fmt::print(out_, "\"schedule\": {}, \"schedule_detail\": {}, \"layout\": {}, \"compute_balance\": {}, "
                     "\"mean_compute_seconds\": {}, \"max_compute_seconds\": {}, \"total_flops\": {}, ",
               json_string(r.schedule), json_string(r.schedule_detail), json_string(layout_name(r.layout)),
               json_number(f.balance), json_number(r.mean_compute_ns / kNsPerSecond),
               json_number(to_seconds(r.max_compute_ns)), json_number(r.total_flops));
    fmt::print(out_, "\"pass\": {}, \"forward_seconds\": {}, \"backward_seconds\": {}, \"bound\": {}{}",
               json_string(pass_name(r.pass)), json_number(pass_seconds(r, Pass::kForward)),
               json_number(pass_seconds(r, Pass::kBackward)), json_string(bound_of(s_, r)), model_json(r));
    if (r.faults) {
      std::string fields;
      for (const auto& [name, value] : fault_columns(r)) fields += fmt::format("{}{}: {}", fields.empty() ? "" : ", ", json_string(name), value);
      fmt::print(out_, ", \"faults\": {{{}}}", fields);
    }
    out_ << "}";
    out_.flush();
  }
  void end() override {
    out_ << "\n]}\n";
    out_.flush();
  }

 private:
  std::ostream& out_;
  const Scenario& s_;
  Mode mode_;
  ComputeModel model_;
};

}  // namespace

std::unique_ptr<ResultWriter> make_writer(Format format, std::ostream& out, const Scenario& s, Mode mode,
                                          CsvHeader csv_header) {
  switch (format) {
    case Format::kCsv: return std::make_unique<CsvWriter>(out, s, csv_header);
    case Format::kJson: return std::make_unique<JsonWriter>(out, s, mode);
    default: return std::make_unique<TableWriter>(out, s);
  }
}

}  // namespace ringsim::cli
