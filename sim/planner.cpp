// The planner behind `ringsim plan`; see planner.hpp. Tests:
// tests/sim/test_planner.cpp.
#include "sim/planner.hpp"

#include <algorithm>
#include <tuple>

#include "sim/model_step.hpp"

namespace ringsim {

double row_seconds(const PointResult& r) { return r.model ? r.model->step_seconds : to_seconds(r.makespan_ns); }

namespace {

std::vector<int> tensor_degrees(const Scenario& s, long long gpus) {
  std::vector<int> out;
  const int max_t = s.size.whole() ? s.gpus_per_node : 1;
  for (int t = 1; t <= max_t; ++t)
    if (s.gpus_per_node % t == 0 && s.shape.q_heads % t == 0 && s.shape.kv_heads % t == 0 && gpus % t == 0)
      out.push_back(t);
  return out;
}

std::vector<Layout> layouts(const Scenario& s) {
  if (!s.causal) return {Layout::kContiguous};
  return {Layout::kContiguous, Layout::kZigzag, Layout::kStriped};
}

// Fastest first; ties to fewer tensor ranks, then names.
bool faster(const PlanCandidate& a, const PlanCandidate& b) {
  return std::make_tuple(a.seconds, a.tensor, a.schedule, static_cast<int>(a.layout)) <
         std::make_tuple(b.seconds, b.tensor, b.schedule, static_cast<int>(b.layout));
}

void consider(PlanRow& row, PlanCandidate c) {
  ++row.candidates;
  if (c.result.memory.fits) {
    ++row.fitting;
    if (!row.best || faster(c, *row.best)) row.best = std::move(c);
  } else if (!row.least || c.result.memory.peak_bytes < row.least->result.memory.peak_bytes) {
    row.least = std::move(c);
  }
}

PlanRow plan_row(const Scenario& base, const Point& at, long long gpus, const PlanOptions& opt) {
  PlanRow row;
  row.gpus = gpus;
  row.tokens = at.tokens;
  for (const int t : tensor_degrees(base, gpus)) {
    Scenario s = base;
    s.parallel.tensor = t;
    s.ranks_per_gpu = 1;
    for (const ScheduleInfo* info : registered_schedules()) {
      if (!opt.schedules.empty() &&
          std::find(opt.schedules.begin(), opt.schedules.end(), info->name) == opt.schedules.end())
        continue;
      for (const Layout layout : layouts(s)) {
        Point p(at.tokens, gpus / t, 1);
        p.schedule = info->name;
        p.layout = layout;
        p.cached_tokens = at.cached_tokens;
        p.where = at.where;
        p.line = at.line;
        try {
          check_point(s, p, p.where, p.line);
          checked_schedule(s, p);
        } catch (const InputError&) {
          ++row.skipped;  // this schedule or layout cannot run this point
          continue;
        }
        PointResult r;
        try {
          r = simulate_model_point(s, p, opt.sim);
        } catch (const InputError&) {
          ++row.skipped;  // a check the schedule makes only when it plans (degrees of a tensor view)
          continue;
        }
        const double seconds = row_seconds(r);
        consider(row, PlanCandidate{t, p.ring_size, info->name, layout, std::move(r), seconds});
      }
    }
  }
  return row;
}

}  // namespace

PlanResult plan_scenario(const Scenario& s, const PlanOptions& opt) {
  PlanResult out;
  std::vector<std::pair<long long, const Point*>> counts;  // GPU count, the point giving it
  for (const Point& p : s.points) {
    const long long gpus = p.ring_size / ranks_per_gpu(s, p) * s.parallel.tensor;
    if (std::none_of(counts.begin(), counts.end(), [&](const auto& c) { return c.first == gpus; }))
      counts.emplace_back(gpus, &p);
  }
  for (std::size_t i = 0; i < counts.size(); ++i) {
    out.rows.push_back(plan_row(s, *counts[i].second, counts[i].first, opt));
    if (out.rows.back().best && (!out.fewest_gpus || counts[i].first < *out.fewest_gpus))
      out.fewest_gpus = counts[i].first;
    if (opt.progress) opt.progress(i + 1, counts.size());
  }
  return out;
}

}  // namespace ringsim
