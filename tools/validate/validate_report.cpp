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

Report::Report(std::string format, std::string card, int gpus, std::string versions)
    : format_(std::move(format)), card_(std::move(card)), versions_(std::move(versions)), gpus_(gpus) {
  if (format_ == "table")
    fmt::print("ringsim validate: measured on {} x{} ({})\n\n", card_, gpus_, versions_);
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
  if (format_ == "table")
    fmt::print("  (the simulator uses: intra_node = nccl send/recv both ways; copy link of ranks "
               "sharing a card = d2d copy; profile interference samples = each point's shares per block shape, "
               "the '#' lines; the 8K shares above are the scalar fallback)\n\n");
}

void Report::shares(const ring::RingConfig& cfg, const PointShares& sh) {
  if (format_ == "json") return;
  for (const ShapeShare& s : sh.shares) {
    const ring::ShareMeasurement& m = s.m;
    fmt::print("# P{} chunk {}: {}_compute_share {:.3f} beside a {} {}x{} block, {} K/V ({} blocks: {} alone, "
               "{} with transfers, {} moved)\n", cfg.ring_size, cfg.chunk_tokens, transfer_kind_name(s.kind),
               m.share, mask_name(mask_kind(s.shape.mask)), s.shape.q_tokens, s.shape.kv_tokens,
               format_bytes(s.bytes), m.train, format_seconds(m.alone_s), format_seconds(m.loaded_s),
               format_bytes(m.bytes_moved));
  }
}

void Report::point(const Outcome& o, std::uint64_t seed) {
  ++points_;
  const double abs_err = std::fabs(o.error_pct);
  worst_abs_error_pct_ = std::max(worst_abs_error_pct_, abs_err);
  within_5_ += abs_err <= 5.0;
  within_2_ += abs_err <= 2.0;
  failed_ += !o.passed;
  const double spread_pct = 100.0 * (o.measured_max_s - o.measured_min_s) / o.measured_s;
  const std::string meas_col = fmt::format("measured on {} (ms)", card_);
  const std::string sim_col = fmt::format("simulated, profile calibrated on {} (ms)", card_);
  if (format_ == "table") {
    if (!header_done_) {
      fmt::print("{:<28} {:<18} {:>8} {:>4} {:>9} {:>4} {:>6} | {:>{}} {:>8} | {:>{}} | {:>8} | {:>12} {:>5}\n",
                 "scenario", "layout", "tokens", "P", "ranks/gpu", "gpus", "chunk", meas_col,
                 meas_col.size(), "spread%", sim_col, sim_col.size(), "error %", "out rel err", "check");
      header_done_ = true;
    }
    fmt::print("{:<28} {:<18} {:>8} {:>4} {:>9} {:>4} {:>6} | {:>{}.3f} {:>8.2f} | {:>{}.3f} | {:>+8.2f} | {:>12.2e} {:>5}\n",
               o.scenario, o.layout, o.point.tokens, o.point.ring_size, o.ranks_per_gpu, o.gpus,
               o.chunk_tokens, o.measured_s * 1e3, meas_col.size(), spread_pct, o.simulated_s * 1e3,
               sim_col.size(), o.error_pct, o.check.rel_error, o.passed ? "ok" : "FAIL");
    if (!o.trace_path.empty()) fmt::print("    trace: {}\n", o.trace_path);
    std::fflush(stdout);
  } else if (format_ == "csv") {
    if (!header_done_) {
      fmt::print("scenario,layout,tokens,ring_size,ranks_per_gpu,gpus,chunk_tokens,\"{}\",measured_spread_pct,"
                 "\"{}\",error_pct,output_rel_error,output_max_lse_error,rows_checked,check,seed,trace\n",
                 meas_col, sim_col);
      header_done_ = true;
    }
    fmt::print("{},{},{},{},{},{},{},{:.6f},{:.3f},{:.6f},{:.3f},{:.3e},{:.3e},{},{},{},{}\n", o.scenario,
               o.layout, o.point.tokens, o.point.ring_size, o.ranks_per_gpu, o.gpus, o.chunk_tokens,
               o.measured_s * 1e3, spread_pct, o.simulated_s * 1e3, o.error_pct, o.check.rel_error,
               o.check.max_lse_error, o.check.rows, o.passed ? "ok" : "FAIL", seed, o.trace_path);
    std::fflush(stdout);
  } else {
    json_points_.push_back(fmt::format(
        R"({{"scenario":"{}","layout":"{}","tokens":{},"ring_size":{},"ranks_per_gpu":{},"gpus":{},"chunk_tokens":{},)"
        R"("measured_s":{:.9g},"measured_min_s":{:.9g},"measured_max_s":{:.9g},"measured_on":"{}",)"
        R"("simulated_s":{:.9g},"simulated_with":"profile calibrated on {}","error_pct":{:.4f},)"
        R"("output_rel_error":{:.4e},"output_max_lse_error":{:.4e},"rows_checked":{},"nonfinite":{},"check":"{}","seed":{},"trace":"{}"}})",
        json_escape(o.scenario), o.layout, o.point.tokens, o.point.ring_size, o.ranks_per_gpu, o.gpus,
        o.chunk_tokens, o.measured_s, o.measured_min_s, o.measured_max_s, json_escape(card_), o.simulated_s,
        json_escape(card_), o.error_pct, o.check.rel_error, o.check.max_lse_error, o.check.rows,
        o.check.nonfinite, o.passed ? "ok" : "FAIL", seed, json_escape(o.trace_path)));
  }
}

void Report::finish() {
  if (format_ == "table") {
    fmt::print("\n{} points: worst |simulated - measured| = {:.2f}% of measured; {} within 5%, {} within 2%; "
               "{} output check(s) failed (fp64 reference, tolerance {:.0e})\n",
               points_, worst_abs_error_pct_, within_5_, within_2_, failed_, kCheckTolerance);
  } else if (format_ == "json") {
    std::string links, points;
    for (const auto& l : json_links_) links += (links.empty() ? "" : ",\n    ") + l;
    for (const auto& p : json_points_) points += (points.empty() ? "" : ",\n    ") + p;
    fmt::print("{{\"card\":\"{}\",\"gpus\":{},\"versions\":\"{}\",\"worst_abs_error_pct\":{:.4f},\n"
               "  \"links\":[\n    {}],\n  \"points\":[\n    {}]}}\n",
               json_escape(card_), gpus_, json_escape(versions_), worst_abs_error_pct_, links, points);
  }
}

}  // namespace ringsim::validate
