// Validation report: see validate_report.hpp.
#include "tools/validate/validate_report.hpp"

#include <fmt/format.h>

#include <cmath>
#include <utility>

#include "models/units.hpp"

namespace ringsim::validate {

namespace {

std::vector<const ring::LinkFit*> all_links(const Links& l) {
  std::vector<const ring::LinkFit*> out{&l.d2d};
  for (const auto* o : {&l.nccl_both, &l.nccl_one, &l.peer_both, &l.peer_one})
    if (*o) out.push_back(&**o);
  return out;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Report::Report(std::string format, std::string card, int gpus, std::string versions, const StoredModel* stored)
    : format_(std::move(format)), card_(std::move(card)), versions_(std::move(versions)), gpus_(gpus), stored_(stored) {
  if (format_ != "table") return;
  fmt::print("ringsim validate: measured on {} x{} ({})\n", card_, gpus_, versions_);
  fmt::print("  self-calibrated: every block shape of the point timed here, links measured here\n");
  if (stored_)
    fmt::print("  out of sample:   {} (not recalibrated), links from the {}\n", stored_name(), stored_->links);
  fmt::print("\n");
}

std::string Report::stored_name() const {
  if (!stored_) return "";
  const DeviceProfile& p = stored_->profile;
  return fmt::format("profile {} ({}, {})", p.name, p.card, p.measured ? "measured" : "datasheet");
}

void Report::Tally::add(double error_pct) {
  const double a = std::fabs(error_pct);
  worst_abs_pct = std::isnan(a) ? a : std::max(worst_abs_pct, a);
  within_5 += a <= 5.0;
  within_2 += a <= 2.0;
}

void Report::links(const Links& l) {
  for (const ring::LinkFit* f : all_links(l)) {
    if (format_ == "table") {
      if (f == &l.d2d)
        fmt::print("links measured on {} (payload bytes per direction; fit: bandwidth over >= 16 MiB, "
                   "latency at <= 64 KiB)\n  {:<44} {:>14} {:>10}\n", card_, "link", "bandwidth", "latency");
      fmt::print("  {:<44} {:>14} {:>10}\n", f->name, format_rate(f->bytes_per_s), format_seconds(f->latency_s));
    } else if (format_ == "csv") {
      fmt::print("# link measured on {}: {}, {:.6g} bytes/s, latency {:.6g} s\n", card_, f->name,
                 f->bytes_per_s, f->latency_s);
    } else {
      std::string samples;
      for (const auto& s : f->samples)
        samples += fmt::format("{}[{:.0f},{:.9g}]", samples.empty() ? "" : ",", s.bytes, s.seconds);
      json_links_.push_back(fmt::format(
          R"({{"link":"{}","source":"measured on {}","bytes_per_s":{:.6g},"latency_s":{:.6g},"samples_bytes_seconds":[{}]}})",
          json_escape(f->name), json_escape(card_), f->bytes_per_s, f->latency_s, samples));
    }
  }
  for (const auto& [name, m] : {std::pair{"copy_compute_share (d2d copy beside an 8K block)", l.copy_share},
                                std::pair{"link_compute_share (nccl both ways beside an 8K block)", l.link_share}}) {
    if (!m) continue;
    if (format_ == "table")
      fmt::print("  {:<58} {:.3f}  (block {} alone, {} with transfers, {} moved meanwhile)\n", name, m->share,
                 format_seconds(m->alone_s), format_seconds(m->loaded_s), format_bytes(m->bytes_moved));
    else if (format_ == "csv")
      fmt::print("# measured on {}: {} = {:.4f} (block {:.6g} s alone, {:.6g} s loaded)\n", card_, name, m->share,
                 m->alone_s, m->loaded_s);
    else
      json_links_.push_back(fmt::format(R"({{"interference":"{}","share":{:.4f},"alone_s":{:.6g},"loaded_s":{:.6g}}})",
                                        name, m->share, m->alone_s, m->loaded_s));
  }
  if (l.all_to_all && format_ != "json") {
    for (const TransportSample& t : l.all_to_all->samples)
      fmt::print("{}  {} at {} per rank: bus bandwidth {}\n", format_ == "csv" ? "#" : "", l.all_to_all->name,
                 format_bytes(t.bytes), format_rate(t.bytes_per_s));
  }
  if (format_ == "table")
    fmt::print("  (the simulator uses: intra_node = nccl send/recv both ways, its all-to-alls the line above; copy link of ranks "
               "sharing a card = d2d copy; profile interference samples = each point's shares per block shape, "
               "the '#' lines; the 8K shares above are the scalar fallback)\n\n");
}

void Report::shares(const Point& pt, const PointShares& sh) {
  if (format_ == "json") return;
  for (const ShapeShare& s : sh.shares) {
    const ring::ShareMeasurement& m = s.m;
    fmt::print("# P{} chunk {}: {}_compute_share {:.3f} beside a {} {}x{} block, {} K/V ({} blocks: {} alone, "
               "{} with transfers, {} moved)\n", pt.ring_size, pt.chunk_tokens(), transfer_kind_name(s.kind),
               m.share, mask_name(mask_kind(s.shape.mask)), s.shape.q_tokens, s.shape.kv_tokens,
               format_bytes(s.bytes), m.train, format_seconds(m.alone_s), format_seconds(m.loaded_s),
               format_bytes(m.bytes_moved));
  }
}

void Report::steps(const Point& pt, const PointSteps& st) {
  if (format_ == "json") return;
  for (const StepSample& s : st.samples) {
    const ring::StepCostMeasurement& m = s.overhead;
    fmt::print("# P{} chunk {}: {} step beside a {} {}x{} block, {} K/V: overhead {} per step (coupled {}, blocks "
               "alone {}, free compute {}, free transfer {}); transfer at {:.3f} of its rate alone ({} beside, {} alone)\n",
               pt.ring_size, pt.chunk_tokens(), step_transport_name(s.transport), mask_name(mask_kind(s.shape.mask)),
               s.shape.q_tokens, s.shape.kv_tokens, format_bytes(s.bytes), format_seconds(m.overhead_s),
               format_seconds(m.coupled_s), format_seconds(m.alone_compute_s), format_seconds(m.free_compute_s),
               format_seconds(m.free_transfer_s),
               s.link.factor, format_seconds(s.link.beside_s), format_seconds(s.link.alone_s));
  }
}
namespace {
double error_pct(double simulated, double measured) { return 100.0 * (simulated - measured) / measured; }
}  // namespace

void Report::point(const Outcome& o, std::uint64_t seed) {
  ++points_;
  self_.add(o.self.error_pct);
  if (o.stored) oos_.add(o.stored->error_pct);
  failed_ += !o.passed;
  const double spread_pct = 100.0 * (o.measured_max_s - o.measured_min_s) / o.measured_s;
  if (format_ == "table") table_row(o, spread_pct);
  else if (format_ == "csv") csv_row(o, spread_pct, seed);
  else json_points_.push_back(json_row(o, seed));
}

void Report::table_row(const Outcome& o, double spread_pct) {
  if (!header_done_) {
    fmt::print("{:<26} {:<10} {:<17} {:>6} {:>3} {:>3} {:>4} {:>6} | {:>10} {:>7} | {:>10} {:>7} | {:>10} {:<9} {:>7} | "
               "{:>9} {:>5}\n", "scenario", "schedule", "layout", "tokens", "P", "r/g", "gpus", "chunk", "measured", "spread%",
               "self ms", "err %", stored_ ? "stored ms" : "", stored_ ? "label" : "", stored_ ? "err %" : "",
               "out err", "check");
    header_done_ = true;
  }
  std::string oos = fmt::format("{:>10} {:<9} {:>7}", "", "", "");
  if (o.stored) oos = fmt::format("{:>10.3f} {:<9} {:>+7.2f}", o.stored->seconds * 1e3, o.stored->label, o.stored->error_pct);
  fmt::print("{:<26} {:<10} {:<17} {:>6} {:>3} {:>3} {:>4} {:>6} | {:>10.3f} {:>7.2f} | {:>10.3f} {:>+7.2f} | {} | "
             "{:>9.2e} {:>5}\n", o.scenario, o.schedule, o.layout, o.point.tokens, o.point.ring_size, o.ranks_per_gpu,
             o.gpus, o.chunk_tokens, o.measured_s * 1e3, spread_pct, o.self.seconds * 1e3, o.self.error_pct, oos,
             o.check.rel_error, o.passed ? "ok" : "FAIL");
  if (o.training) {
    const TrainingOutcome& t = *o.training;
    fmt::print("    training: forward {:.3f} ms (self {:.3f}, {:+.2f}%), backward {:.3f} ms (self {:.3f}, {:+.2f}%); "
               "dQ err {:.2e}, dK/dV err {:.2e} ({} + {} rows, fp64)\n", t.forward_s * 1e3, o.self.forward_s * 1e3,
               error_pct(o.self.forward_s, t.forward_s), t.backward_s * 1e3, o.self.backward_s * 1e3,
               error_pct(o.self.backward_s, t.backward_s), t.grad.dq_rel_error, t.grad.dkv_rel_error, t.grad.dq_rows,
               t.grad.dkv_rows);
  }
  if (!o.trace_path.empty()) fmt::print("    trace: {}\n", o.trace_path);
  std::fflush(stdout);
}

void Report::csv_row(const Outcome& o, double spread_pct, std::uint64_t seed) {
  if (!header_done_) {
    fmt::print("scenario,schedule,schedule_detail,layout,tokens,ring_size,ranks_per_gpu,gpus,chunk_tokens,card,"
               "measured_ms,measured_spread_pct,self_simulated_ms,self_label,self_error_pct,stored_profile,stored_links,"
               "stored_simulated_ms,stored_label,stored_error_pct,output_rel_error,output_max_lse_error,rows_checked,"
               "check,seed,trace,forward_ms,backward_ms,self_forward_ms,self_backward_ms,dq_rel_error,dkv_rel_error\n");
    header_done_ = true;
  }
  const std::string stored = o.stored ? fmt::format("{},{},{:.6f},{},{:.3f}", stored_->profile.name, stored_->links,
                                                     o.stored->seconds * 1e3, o.stored->label, o.stored->error_pct)
                                      : ",,,,";
  const std::string training = o.training ? fmt::format("{:.6f},{:.6f},{:.6f},{:.6f},{:.3e},{:.3e}", o.training->forward_s * 1e3,
                                                         o.training->backward_s * 1e3, o.self.forward_s * 1e3,
                                                         o.self.backward_s * 1e3, o.training->grad.dq_rel_error,
                                                         o.training->grad.dkv_rel_error)
                                          : ",,,,,";
  fmt::print("{},{},\"{}\",{},{},{},{},{},{},\"{}\",{:.6f},{:.3f},{:.6f},{},{:.3f},{},{:.3e},{:.3e},{},{},{},{},{}\n",
             o.scenario, o.schedule, o.detail, o.layout, o.point.tokens, o.point.ring_size, o.ranks_per_gpu, o.gpus,
             o.chunk_tokens, card_, o.measured_s * 1e3, spread_pct, o.self.seconds * 1e3, o.self.label,
             o.self.error_pct, stored, o.check.rel_error, o.check.max_lse_error, o.check.rows,
             o.passed ? "ok" : "FAIL", seed, o.trace_path, training);
  std::fflush(stdout);
}

std::string Report::json_row(const Outcome& o, std::uint64_t seed) const {
  const std::string stored =
      o.stored ? fmt::format(R"(,"stored":{{"profile":"{}","links":"{}","simulated_s":{:.9g},"label":"{}","error_pct":{:.4f}}})",
                             json_escape(stored_->profile.name), json_escape(stored_->links), o.stored->seconds,
                             o.stored->label, o.stored->error_pct)
               : "";
  std::string training;
  if (o.training) {
    const TrainingOutcome& t = *o.training;
    training = fmt::format(
        R"(,"forward_seconds":{:.9g},"backward_seconds":{:.9g},"simulated_forward_seconds":{:.9g},)"
        R"("simulated_backward_seconds":{:.9g},"forward_error_pct":{:.4f},"backward_error_pct":{:.4f},)"
        R"("dq_rel_error":{:.4e},"dkv_rel_error":{:.4e},"dq_rows_checked":{},"dkv_rows_checked":{},"grad_nonfinite":{})",
        t.forward_s, t.backward_s, o.self.forward_s, o.self.backward_s, error_pct(o.self.forward_s, t.forward_s),
        error_pct(o.self.backward_s, t.backward_s), t.grad.dq_rel_error, t.grad.dkv_rel_error, t.grad.dq_rows,
        t.grad.dkv_rows, t.grad.nonfinite);
  }
  return fmt::format(
      R"({{"scenario":"{}","schedule":"{}","schedule_detail":"{}","layout":"{}","tokens":{},"ring_size":{},)"
      R"("ranks_per_gpu":{},"gpus":{},"chunk_tokens":{},"measured_s":{:.9g},"measured_min_s":{:.9g},)"
      R"("measured_max_s":{:.9g},"measured_on":"{}","self":{{"simulated_s":{:.9g},"label":"{}","error_pct":{:.4f},)"
      R"("profile":"calibrated on {}"}}{},"output_rel_error":{:.4e},"output_max_lse_error":{:.4e},"rows_checked":{},)"
      R"("nonfinite":{},"check":"{}","seed":{},"trace":"{}"{}}})",
      json_escape(o.scenario), o.schedule, json_escape(o.detail), o.layout, o.point.tokens, o.point.ring_size,
      o.ranks_per_gpu, o.gpus, o.chunk_tokens, o.measured_s, o.measured_min_s, o.measured_max_s, json_escape(card_),
      o.self.seconds, o.self.label, o.self.error_pct, json_escape(card_), stored, o.check.rel_error,
      o.check.max_lse_error, o.check.rows, o.check.nonfinite, o.passed ? "ok" : "FAIL", seed, json_escape(o.trace_path),
      training);
}

void Report::finish() {
  if (format_ == "table") {
    fmt::print("\n{} points; self-calibrated: worst |simulated - measured| = {:.2f}% of measured, {} within 5%, {} "
               "within 2%\n", points_, self_.worst_abs_pct, self_.within_5, self_.within_2);
    if (stored_)
      fmt::print("out of sample ({}; links: {}): worst {:.2f}%, {} within 5%, {} within 2%\n", stored_name(),
                 stored_->links, oos_.worst_abs_pct, oos_.within_5, oos_.within_2);
    fmt::print("{} point(s) failed to run or failed the output check (fp64 reference, tolerance {:.0e})\n", failed_,
               kCheckTolerance);
  } else if (format_ == "json") {
    std::string links, points;
    for (const auto& l : json_links_) links += (links.empty() ? "" : ",\n    ") + l;
    for (const auto& p : json_points_) points += (points.empty() ? "" : ",\n    ") + p;
    fmt::print("{{\"card\":\"{}\",\"gpus\":{},\"versions\":\"{}\",\"worst_abs_error_pct\":{:.4f},"
               "\"stored_worst_abs_error_pct\":{:.4f},\n  \"links\":[\n    {}],\n  \"points\":[\n    {}]}}\n",
               json_escape(card_), gpus_, json_escape(versions_), self_.worst_abs_pct, oos_.worst_abs_pct, links, points);
  }
}

}  // namespace ringsim::validate
