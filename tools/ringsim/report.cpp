// `ringsim report SCENARIO`: the scenario's sweep simulated on its own
// profile and on each --device override, joined with a claims CSV by
// (tokens, ring_size) (or whole chunks, see claims.hpp). Claimed figures are
// labelled `claimed`: stated by someone else, not reproduced here; the
// "claimed as" column says which of the claimant's tables a row is from
// (the seed's benchmark or its extrapolation to a trillion tokens).
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <set>

#include "tools/ringsim/claims.hpp"
#include "tools/ringsim/cli_common.hpp"
#include "tools/ringsim/csv.hpp"
#include "tools/ringsim/output.hpp"
#include "tools/ringsim/output_file.hpp"
#include "tools/ringsim/progress.hpp"
#include "tools/ringsim/run_files.hpp"

namespace ringsim::cli {

namespace {

struct Variant {
  Scenario scenario;
  std::vector<PointResult> results;  // by point
  std::string label;                 // "simulated", "estimated", or "mixed" over the points
};

Scenario with_device(const Scenario& base, const std::string& name) {
  Scenario v = base;
  try {
    v.profile = load_profile(name, ".");
  } catch (const InputError& e) {
    if (e.line > 0) throw;
    throw InputError("--device", 0, name, e.what());
  }
  if (!v.profile.flops_per_s.count(v.shape.dtype))
    throw InputError(v.profile.origin, 0, "tflops",
                     fmt::format("profile '{}' has no {} rate, which {} needs", v.profile.name,
                                 dtype_name(v.shape.dtype), base.path));
  for (const Point& p : v.points) check_point(v, p, fmt::format("--device {}", name), 0);
  return v;
}

void simulate_all(std::vector<Variant>& variants, Progress& progress) {
  for (Variant& v : variants) {
    std::set<std::string> labels;
    for (const Point& p : v.scenario.points) {
      SimOptions options;
      options.progress = progress.callback();
      v.results.push_back(simulate_point(v.scenario, p, options));
      labels.insert(label_of(v.results.back().compute_source));
      progress.point_done(v.results.back().device_steps);
    }
    v.label = labels.size() == 1 ? *labels.begin() : "mixed";
  }
}

const Claim* find_claim(const std::vector<Claim>& claims, const Point& p) {
  for (const Claim& c : claims)
    if (c.matches(p.tokens, p.ring_size)) return &c;
  return nullptr;
}

std::string claimed_as(const Claim* c) { return c && !c->claimed_as.empty() ? one_line(c->claimed_as) : "-"; }

std::string gb(double bytes) { return bytes < 0 ? "-" : fmt::format("{:.3g} GB", bytes / 1e9); }

struct Report {
  const std::vector<Variant>& variants;
  const std::vector<Claim>& claims;
  const std::string& claims_path;
  std::ostream& out;
  const Scenario& base() const { return variants.front().scenario; }

  // Header lines, each kept on one line whatever a name holds.
  void header(const char* prefix) const {
    const Scenario& s = base();
    std::vector<std::string> lines{
        fmt::format("ringsim {} — report: simulated ring attention sweep vs claimed results", kVersion),
        fmt::format("scenario: {} ({}); model: {}", s.name, s.path, model_line(s)),
        fmt::format("network: {}", network_line(s)),
        fmt::format("claims: {} ({} rows)", claims_path, claims.size())};
    for (const Variant& v : variants) {
      ComputeModel model(v.scenario.profile, v.scenario.shape);
      lines.push_back(fmt::format("profile: {} — compute {}", profile_line(v.scenario),
                                  model.describe(v.label == "simulated" ? CostSource::kCalibrated : CostSource::kEstimated)));
    }
    lines.push_back(fmt::format("labels: claimed = stated in the claims file, not reproduced; {}", kLabelMeanings));
    lines.push_back("memory: claimed in GB as given (1 GB = 1e9 bytes); simulated peak per device is estimated "
                    "(memory model)");
    for (const std::string& line : lines) fmt::print(out, "{}{}\n", prefix, one_line(line));
  }

  void table() const {
    header("");
    std::string cols = fmt::format("\n{:>13} {:>9} {:>6} {:>12} {:>13}", "tokens", "ring", "chunk", "claimed s", "claimed as");
    for (const Variant& v : variants)
      cols += fmt::format(" {:>22} {:>9}", one_line(fmt::format("{} [{}]", v.scenario.profile.name, v.label)), "ratio");
    cols += fmt::format(" {:>11}", "claimed mem");
    for (const Variant& v : variants) cols += fmt::format(" {:>18} {:>4}", one_line(v.scenario.profile.name + " mem"), "fits");
    fmt::print(out, "{}\n{:>13} {:>9} {:>6} {:>12} {:>13}", cols, "", "", "", "[claimed]", "");
    for (std::size_t i = 0; i < variants.size(); ++i) fmt::print(out, " {:>22} {:>9}", "", "sim/claim");
    fmt::print(out, " {:>11}", "[claimed]");
    for (std::size_t i = 0; i < variants.size(); ++i) fmt::print(out, " {:>18} {:>4}", "[estimated]", "");
    out << '\n';
    const auto& points = base().points;
    for (std::size_t i = 0; i < points.size(); ++i) {
      const Point& p = points[i];
      const Claim* c = find_claim(claims, p);
      fmt::print(out, "{:>13} {:>9} {:>6} {:>12} {:>13}", p.tokens, p.ring_size, p.chunk_tokens(),
                 c ? format_seconds(c->seconds) : "-", claimed_as(c));
      for (const Variant& v : variants) {
        PointFigures f = figures_of(v.results[i]);
        std::string cell = format_seconds(f.seconds) + (v.label == "mixed" ? fmt::format(" {:.3}", f.label) : "");
        fmt::print(out, " {:>22} {:>9}", cell, c ? fmt::format("{:.3g}", f.seconds / c->seconds) : "-");
      }
      fmt::print(out, " {:>11}", gb(c ? c->memory_bytes : -1));
      for (const Variant& v : variants)
        fmt::print(out, " {:>18} {:>4}", gb(v.results[i].memory.peak_bytes), v.results[i].memory.fits ? "yes" : "NO");
      out << '\n';
    }
    unmatched("\nclaims with no point in the scenario: ");
    rounded("claims in part chunks, matched to whole ones: ");
  }

  bool matched(const Claim& c) const {
    for (const Point& p : base().points)
      if (c.matches(p.tokens, p.ring_size)) return true;
    return false;
  }

  // Claims no point matches, from the claimant's tables the scenario replays
  // (all of them if it replays none): the billion-token sweep is not told
  // about the extrapolation rows, nor the trillion-token one about the sweep.
  void unmatched(const char* prefix) const {
    std::set<std::string> replayed;
    for (const Claim& c : claims)
      if (matched(c)) replayed.insert(c.claimed_as);
    std::vector<std::string> rows;
    for (const Claim& c : claims)
      if (!matched(c) && (replayed.empty() || replayed.count(c.claimed_as)))
        rows.push_back(fmt::format("line {} (tokens {}, ring {})", c.line, c.tokens, c.ring_size));
    if (!rows.empty()) fmt::print(out, "{}{}\n", prefix, fmt::join(rows, "; "));
  }

  void rounded(const char* prefix) const {
    std::vector<std::string> rows;
    for (const Claim& c : claims)
      if (!c.whole_chunks() && matched(c))
        rows.push_back(fmt::format("line {} claims {} tokens on {} devices of {}; simulated {} x {} = {}", c.line,
                                   c.tokens, c.ring_size, c.chunk_tokens, c.ring_size, c.chunk_tokens,
                                   c.ring_size * c.chunk_tokens));
    if (!rows.empty()) fmt::print(out, "{}{}\n", prefix, fmt::join(rows, "; "));
  }

  void csv(CsvHeader style) const {
    if (style == CsvHeader::kComments) {
      header("# ");
      unmatched("# claims with no point in the scenario: ");
      rounded("# claims in part chunks, matched to whole ones: ");
    }
    out << "tokens,ring_size,chunk_tokens,claimed_seconds,claimed_memory_bytes_per_device,claimed_as,claimed_tokens";
    for (const Variant& v : variants) {
      for (const char* column : {"seconds", "label", "ratio_to_claimed", "peak_memory_bytes_per_device", "fits_in_memory"})
        out << ',' << csv_field(fmt::format("{}_{}", v.scenario.profile.name, column));
    }
    out << '\n';
    const auto& points = base().points;
    for (std::size_t i = 0; i < points.size(); ++i) {
      const Claim* c = find_claim(claims, points[i]);
      fmt::print(out, "{},{},{},{},{},{},{}", points[i].tokens, points[i].ring_size, points[i].chunk_tokens(),
                 c ? fmt::format("{}", c->seconds) : "", c && c->memory_bytes >= 0 ? fmt::format("{}", c->memory_bytes) : "",
                 c ? csv_field(c->claimed_as) : "", c ? fmt::format("{}", c->tokens) : "");
      for (const Variant& v : variants) {
        PointFigures f = figures_of(v.results[i]);
        fmt::print(out, ",{},{},{},{},{}", f.seconds, f.label, c ? fmt::format("{}", f.seconds / c->seconds) : "",
                   v.results[i].memory.peak_bytes, v.results[i].memory.fits ? "true" : "false");
      }
      out << '\n';
    }
  }

  void json() const {
    const Scenario& s = base();
    fmt::print(out, "{{\"header\": {{\"ringsim_version\": {}, \"what\": {}, \"scenario\": {}, \"scenario_file\": {}, "
                    "\"model\": {}, \"network\": {}, \"claims_file\": {},\n  \"profiles\": [",
               json_string(kVersion), json_string("simulated ring attention sweep vs claimed results"),
               json_string(s.name), json_string(s.path), json_string(model_line(s)), json_string(network_line(s)),
               json_string(claims_path));
    for (std::size_t k = 0; k < variants.size(); ++k)
      fmt::print(out, "{}{{\"profile\": {}, \"card\": {}, \"label\": {}}}", k ? ", " : "",
                 json_string(variants[k].scenario.profile.name), json_string(variants[k].scenario.profile.card),
                 json_string(variants[k].label));
    fmt::print(out, "],\n  \"labels\": {{\"claimed\": {}, \"simulated\": {}, \"estimated\": {}}}}},\n\"rows\": [\n",
               json_string("stated in the claims file, not reproduced"),
               json_string("event model fed by a calibrated profile"),
               json_string("compute from a roofline (datasheet rates) or a closed form"));
    const auto& points = s.points;
    for (std::size_t i = 0; i < points.size(); ++i) {
      const Claim* c = find_claim(claims, points[i]);
      fmt::print(out, "{}  {{\"tokens\": {}, \"ring_size\": {}, \"chunk_tokens\": {}, \"claimed\": ", i ? ",\n" : "",
                 points[i].tokens, points[i].ring_size, points[i].chunk_tokens());
      if (c) fmt::print(out, "{{\"label\": \"claimed\", \"seconds\": {}, \"memory_bytes_per_device\": {}, "
                             "\"claimed_as\": {}, \"tokens\": {}}}",
                        json_number(c->seconds), c->memory_bytes >= 0 ? json_number(c->memory_bytes) : "null",
                        c->claimed_as.empty() ? "null" : json_string(c->claimed_as), c->tokens);
      else out << "null";
      out << ", \"results\": [";
      for (std::size_t k = 0; k < variants.size(); ++k) {
        const PointResult& r = variants[k].results[i];
        PointFigures f = figures_of(r);
        fmt::print(out, "{}{{\"profile\": {}, \"label\": {}, \"seconds\": {}, \"ratio_to_claimed\": {}, "
                        "\"peak_memory_bytes_per_device\": {}, \"fits_in_memory\": {}, \"memory_reason\": {}}}",
                   k ? ", " : "", json_string(variants[k].scenario.profile.name), json_string(f.label),
                   json_number(f.seconds), c ? json_number(f.seconds / c->seconds) : "null",
                   json_number(r.memory.peak_bytes), r.memory.fits ? "true" : "false",
                   r.memory.fits ? "null" : json_string(r.memory.reason));
      }
      out << "]}";
    }
    out << "\n]}\n";
  }
};

}  // namespace

int report_command(const ReportOptions& o, Io io) {
  std::vector<Variant> variants;
  variants.push_back({load_scenario_with_sets(o.scenario, o.sets), {}, ""});
  with_sets_named(variants[0].scenario, [&] { check_schedules(variants[0].scenario); });
  const std::string claims_path =
      o.claims.value_or((std::filesystem::path(o.scenario).parent_path() / "seed-claims.csv").string());
  std::vector<Claim> claims = load_claims(claims_path);
  for (const std::string& device : o.devices) variants.push_back({with_device(variants[0].scenario, device), {}, ""});
  if (o.out) {
    std::vector<InputSpec> inputs{{"the scenario", o.scenario}, {"the claims file", claims_path}};
    for (const Variant& v : variants)
      if (v.scenario.profile.origin != "inline") inputs.push_back({"a profile", v.scenario.profile.origin});
    check_outputs({{"--out", *o.out}}, inputs);
  }

  RunFiles files(o.out, std::nullopt, io.out);
  std::uint64_t steps = 0;
  for (const Point& p : variants[0].scenario.points) steps += static_cast<std::uint64_t>(p.ring_size) * p.ring_size;
  Progress progress(io.err, !o.quiet, io.err_is_tty, steps * variants.size(),
                    variants[0].scenario.points.size() * variants.size());
  simulate_all(variants, progress);
  progress.finish();
  Report report{variants, claims, claims_path, files.results()};
  if (o.format == Format::kCsv) report.csv(o.csv_header);
  else if (o.format == Format::kJson) report.json();
  else report.table();
  files.commit();
  return 0;
}

}  // namespace ringsim::cli
