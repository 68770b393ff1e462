// `ringsim plan`: for a scenario's model and cluster, which GPU counts of its
// sweep fit, and the fastest way to run each.
//
// GPU counts: those of the scenario's points (ring_size x parallel.tensor,
// ranks_per_gpu 1), each with the point's tokens. For every count G the
// candidates are every tensor degree t (dividing gpus_per_node, both head
// counts and G; t > 1 only with model.layers) with ring G / t, every
// registered schedule and, for causal attention, every layout; a candidate the
// schedule or the layout cannot run (InputError from the same checks `run`
// makes) is skipped and counted. Each is simulated like a `run` point
// (simulate_model_point); the best of G is the fastest that fits in memory,
// ties to fewer tensor ranks, then schedule and layout names. The answer is
// the smallest G with a fitting candidate; when none fits, each row keeps the
// candidate that overflows least and its verdict names what overflows.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/simulate.hpp"

namespace ringsim {

struct PlanCandidate {
  int tensor = 1;
  long long ring_size = 0;
  std::string schedule;
  Layout layout = Layout::kContiguous;
  PointResult result;
  double seconds = 0;  // the row's time: the step with model.layers, else one attention layer
};

struct PlanRow {
  long long gpus = 0, tokens = 0;
  int candidates = 0, skipped = 0, fitting = 0;  // simulated, refused by a check, fitting
  std::optional<PlanCandidate> best;   // fastest that fits
  std::optional<PlanCandidate> least;  // when none fits: the smallest peak memory
};

struct PlanResult {
  std::vector<PlanRow> rows;           // by GPU count, as the sweep gives them
  std::optional<long long> fewest_gpus;  // smallest count with a fitting candidate
};

struct PlanOptions {
  SimOptions sim;  // mode and threads for every candidate
  // Schedules to try (registered names); empty: every registered schedule.
  // (pass-q runs in the event engine on profiles with interference samples:
  // 10 s a candidate at 64 GPUs, 2026-11-27, this 2-core machine.)
  std::vector<std::string> schedules;
  // Called after each GPU count with (counts done, counts in all).
  std::function<void(std::size_t, std::size_t)> progress;
};

double row_seconds(const PointResult& r);  // step seconds with a model, else the attention makespan
PlanResult plan_scenario(const Scenario&, const PlanOptions&);

}  // namespace ringsim
