// `ringsim plan` output; see plan_output.hpp.
#include "tools/ringsim/plan_output.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "tools/ringsim/output.hpp"
#include "tools/ringsim/output_model.hpp"

namespace ringsim::cli {

namespace {

const PlanCandidate* shown(const PlanRow& row) { return row.best ? &*row.best : row.least ? &*row.least : nullptr; }

std::string answer_line(const Scenario& s, const PlanResult& plan) {
  if (!plan.fewest_gpus) return "no GPU count of the sweep fits in memory (each row names what overflows)";
  const PlanRow& row = *std::find_if(plan.rows.begin(), plan.rows.end(),
                                     [&](const PlanRow& r) { return r.gpus == *plan.fewest_gpus; });
  const PlanCandidate& c = *row.best;
  return fmt::format("fewest GPUs that fit: {} ({} x {} GPUs of {} GiB; {} tensor x ring {}, {} {}, {} per {})",
                     *plan.fewest_gpus, s.profile.name, *plan.fewest_gpus, s.profile.memory_bytes / (1 << 30),
                     c.tensor, c.ring_size, c.schedule, layout_name(c.layout), format_seconds(c.seconds),
                     s.size.whole() ? "step" : "layer");
}

void header(std::ostream& out, const Scenario& s, const char* prefix) {
  fmt::print(out, "{}ringsim {} — plan: {}\n", prefix, kVersion, what_line(s));
  fmt::print(out, "{}scenario: {} ({}); model: {}\n", prefix, s.name, s.path, model_line(s));
  fmt::print(out, "{}profile: {}; network: {}\n", prefix, profile_line(s), network_line(s));
  fmt::print(out, "{}labels: {}; memory figures are estimated\n", prefix, kLabelMeanings);
}

void table(std::ostream& out, const Scenario& s, const PlanResult& plan) {
  header(out, s, "");
  fmt::print(out, "answer:   {}\n\n", answer_line(s, plan));
  fmt::print(out, "{:>7} {:>12}  {:<5} {:>6} {:>6} {:>9}  {:<26} {:<10} {:<9} {:>11} {:>11} {:>11} {:>16}\n", "gpus",
             "tokens", "fits", "tensor", "ring", "chunk", "schedule", "layout", "label", "time", "mem/GPU", "capacity",
             "exposed comm");
  for (const PlanRow& row : plan.rows) {
    const PlanCandidate* c = shown(row);
    if (!c) {
      fmt::print(out, "{:>7} {:>12}  no candidate runs ({} refused by checks)\n", row.gpus, row.tokens, row.skipped);
      continue;
    }
    const PointFigures f = figures_of(c->result);
    fmt::print(out, "{:>7} {:>12}  {:<5} {:>6} {:>6} {:>9}  {:<26} {:<10} {:<9} {:>11} {:>11} {:>11} {:>16}\n", row.gpus,
               row.tokens, row.best ? "yes" : "NO", c->tensor, c->ring_size, row.tokens / c->ring_size,
               schedule_cell(s, c->result), layout_name(c->layout), f.label, format_seconds(c->seconds),
               format_bytes(c->result.memory.peak_bytes), format_bytes(c->result.memory.capacity_bytes),
               fmt::format("{} ({:.1f}%)", format_seconds(f.exposed_comm_seconds), 100 * f.exposed_comm_fraction));
    if (!row.best) fmt::print(out, "{:>7}   none of {} fits; least memory: {}\n", "^", row.candidates, c->result.memory.reason);
    else if (c->result.model) fmt::print(out, "{:>7}   {}\n", "", model_table_line(c->result));
  }
}

const char* const kCsvColumns =
    "gpus,tokens,fits,candidates,fitting,skipped,tensor_parallel,ring_size,chunk_tokens,schedule,layout,label,seconds,"
    "peak_memory_bytes_per_device,memory_capacity_bytes,memory_reason,compute_seconds,exposed_comm_seconds,"
    "exposed_comm_fraction";

void csv(std::ostream& out, const Scenario& s, const PlanResult& plan) {
  header(out, s, "# ");
  fmt::print(out, "# answer: {}\n{}{}\n", answer_line(s, plan), kCsvColumns, kModelCsvColumns);
  for (const PlanRow& row : plan.rows) {
    const PlanCandidate* c = shown(row);
    if (!c) {
      fmt::print(out, "{},{},false,{},0,{}{}\n", row.gpus, row.tokens, row.candidates, row.skipped, std::string(13, ','));
      continue;
    }
    const PointFigures f = figures_of(c->result);
    fmt::print(out, "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}{}\n", row.gpus, row.tokens,
               row.best ? "true" : "false", row.candidates, row.fitting, row.skipped, c->tensor, c->ring_size,
               row.tokens / c->ring_size, c->schedule, layout_name(c->layout), f.label, c->seconds,
               c->result.memory.peak_bytes, c->result.memory.capacity_bytes, json_string(c->result.memory.reason),
               f.compute_seconds, f.exposed_comm_seconds, f.exposed_comm_fraction, model_csv_cells(c->result));
  }
}

void json(std::ostream& out, const Scenario& s, const PlanResult& plan) {
  fmt::print(out, "{{\"header\": {{\"ringsim_version\": {}, \"what\": {}, \"scenario\": {}, \"scenario_file\": {}, "
                  "\"model\": {}, \"profile\": {}, \"network\": {}, \"labels\": {}}},\n",
             json_string(kVersion), json_string("plan: " + what_line(s)), json_string(s.name), json_string(s.path),
             json_string(model_line(s)), json_string(profile_line(s)), json_string(network_line(s)),
             json_string(kLabelMeanings));
  fmt::print(out, "\"fewest_gpus\": {}, \"answer\": {},\n\"rows\": [\n",
             plan.fewest_gpus ? fmt::format("{}", *plan.fewest_gpus) : "null", json_string(answer_line(s, plan)));
  for (std::size_t i = 0; i < plan.rows.size(); ++i) {
    const PlanRow& row = plan.rows[i];
    const PlanCandidate* c = shown(row);
    fmt::print(out, "{}  {{\"gpus\": {}, \"tokens\": {}, \"fits\": {}, \"candidates\": {}, \"fitting\": {}, \"skipped\": {}",
               i ? ",\n" : "", row.gpus, row.tokens, row.best ? "true" : "false", row.candidates, row.fitting, row.skipped);
    if (c) {
      const PointFigures f = figures_of(c->result);
      fmt::print(out, ", \"tensor_parallel\": {}, \"ring_size\": {}, \"chunk_tokens\": {}, \"schedule\": {}, "
                      "\"layout\": {}, \"label\": {}, \"seconds\": {}, \"peak_memory_bytes_per_device\": {}, "
                      "\"memory_capacity_bytes\": {}, \"memory_reason\": {}, \"compute_seconds\": {}, "
                      "\"exposed_comm_seconds\": {}, \"exposed_comm_fraction\": {}{}",
                 c->tensor, c->ring_size, row.tokens / c->ring_size, json_string(c->schedule),
                 json_string(layout_name(c->layout)), json_string(f.label), json_number(c->seconds),
                 json_number(c->result.memory.peak_bytes), json_number(c->result.memory.capacity_bytes),
                 c->result.memory.fits ? "null" : json_string(c->result.memory.reason), json_number(f.compute_seconds),
                 json_number(f.exposed_comm_seconds), json_number(f.exposed_comm_fraction), model_json(c->result));
    }
    out << "}";
  }
  out << "\n]}\n";
}

}  // namespace

void write_plan(std::ostream& out, Format format, const Scenario& s, const PlanResult& plan) {
  switch (format) {
    case Format::kCsv: return csv(out, s, plan);
    case Format::kJson: return json(out, s, plan);
    default: return table(out, s, plan);
  }
}

}  // namespace ringsim::cli
