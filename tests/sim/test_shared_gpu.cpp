// sim: ranks sharing one GPU (cluster.ranks_per_gpu). Their computes run on
// the card's one compute stream as an in-order FIFO in (step, rank) order; a
// transfer between two ranks of one card goes over that card's loopback copy
// link (profile copy_bandwidth / 2 payload, copy_latency). Then transfers
// slowing compute (profile copy/link_compute_share). Hand-computed
// timelines, and a property sweep over random scenarios.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "models/flow_network.hpp"
#include "sim/simulate.hpp"
#include "sim/trace.hpp"
#include "sim_fixtures.hpp"
#include "trace_reader.hpp"

using namespace ringsim;

namespace {

Scenario shared_scenario(long long chunk, long long ring, int ranks_per_gpu, bool causal,
                         double copy_bytes_per_s, TimeNs copy_latency_ns) {
  Scenario s = test::ring_scenario(chunk * ring, ring, causal, Layout::kContiguous, 8);
  s.ranks_per_gpu = ranks_per_gpu;
  s.profile.copy_bytes_per_s = copy_bytes_per_s;
  s.profile.copy_latency_s = static_cast<double>(copy_latency_ns) * 1e-9;
  return s;
}

PointResult simulate(const Scenario& s, std::ostream* trace = nullptr) {
  SimOptions o;
  o.mode = Mode::kEvent;
  o.keep_finish_times = true;
  std::optional<TraceWriter> writer;
  std::optional<PointTrace> point_trace;
  if (trace) {
    writer.emplace(*trace);
    point_trace.emplace(*writer, "point", DeviceSample{});
    o.trace = &*point_trace;
  }
  PointResult r = simulate_point(s, s.points[0], o);
  if (writer) writer->close();
  return r;
}

// Fixes a chunk x chunk block's time by hand (a profile sample, see
// sim_fixtures): `first` is a device's first block (it writes the
// accumulator), `later` one that also merges.
struct BlockTimes {
  TimeNs first, later;
};
constexpr double kAttentionS = 0x1p-12;  // 244 us
constexpr double kMergeS = 0x1p-16;      // 15 us
BlockTimes fix_block(Scenario& s, MaskKind mask, double attention_s = kAttentionS) {
  const long long c = s.points[0].chunk_tokens();
  test::set_block_seconds(s, c, c, mask, attention_s);
  if (s.profile.merge.empty()) test::set_merge_seconds(s, c, kMergeS);
  return {test::oracle_ns(attention_s), test::oracle_ns(attention_s, kMergeS)};
}

}  // namespace

TEST_CASE("sim::shared GPU: two ranks on one card compute one after the other, in (step, rank) order") {
  // Copies far faster than a block: only the card's FIFO orders the computes.
  Scenario s = shared_scenario(4096, 2, 2, false, 3e12, 1000);
  const BlockTimes c = fix_block(s, MaskKind::kFull);
  const PointResult r = simulate(s);
  CHECK(r.mode == Mode::kEvent);
  // (step 0, rank 0) (0, 1) (1, 0) (1, 1) back to back; step 0 blocks write, step 1 blocks merge.
  CHECK(r.makespan_ns == 2 * c.first + 2 * c.later);
  CHECK(r.finish_ns == std::vector<TimeNs>{2 * c.first + c.later, 2 * c.first + 2 * c.later});
}

TEST_CASE("sim::shared GPU: copies between ranks of one card share its loopback link") {
  // Copy link slow enough that step 1 waits for both step-0 copies, which
  // start together (both ranks start step 0 at t = 0) and split the link.
  const double copy_bytes_per_s = 2e9;  // read + written: 1 GB/s of payload
  const TimeNs latency = 3000;
  Scenario s = shared_scenario(4096, 2, 2, false, copy_bytes_per_s, latency);
  const BlockTimes c = fix_block(s, MaskKind::kFull, 0x1p-10);
  const TimeNs x = test::oracle_transfer_ns(latency, test::kv_block_bytes(s, 4096), copy_bytes_per_s / 2 / 2);  // two flows
  REQUIRE(x > 2 * c.first);
  const PointResult r = simulate(s);
  CHECK(r.makespan_ns == x + 2 * c.later);
  CHECK(r.finish_ns == std::vector<TimeNs>{x + c.later, x + 2 * c.later});
}

TEST_CASE("sim::shared GPU: a masked block is an empty FIFO slot, so a rank finishes in card order") {
  // Causal contiguous, 4 ranks on one card: rank d computes its diagonal and d
  // full blocks; with fast copies the card runs every block back to back, and
  // a rank with nothing left finishes only when its empty slot comes up.
  Scenario s = shared_scenario(2048, 4, 4, true, 3e12, 1000);
  const TimeNs d = fix_block(s, MaskKind::kCausalDiagonal, 0x1p-13).first;  // the diagonal: first, writes
  const TimeNs f = fix_block(s, MaskKind::kFull).later;                     // full blocks merge
  const PointResult r = simulate(s);
  CHECK(r.makespan_ns == 4 * d + 6 * f);
  CHECK(r.finish_ns == std::vector<TimeNs>{4 * d + 5 * f, 4 * d + 5 * f, 4 * d + 5 * f, 4 * d + 6 * f});
}

TEST_CASE("sim::shared GPU: auto picks the event engine; the fast paths refuse shared cards") {
  Scenario s = shared_scenario(4096, 4, 2, false, 3e12, 1000);
  SimOptions o;
  o.mode = Mode::kAuto;
  CHECK(simulate_point(s, s.points[0], o).mode == Mode::kEvent);
  for (Mode m : {Mode::kRecurrence, Mode::kFolded}) {
    o.mode = m;
    CHECK_THROWS_AS(simulate_point(s, s.points[0], o), std::invalid_argument);
  }
}

TEST_CASE("sim::shared GPU: one rank per card gives the same times as before") {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Scenario s = test::random_scenario(rng, 16);
    s.profile.copy_bytes_per_s = 1e9;  // unused with one rank per card
    SimOptions o;
    o.mode = Mode::kEvent;
    const TimeNs event = simulate_point(s, s.points[0], o).makespan_ns;
    o.mode = Mode::kRecurrence;
    CHECK(simulate_point(s, s.points[0], o).makespan_ns == event);
  }
}

TEST_CASE("sim::shared GPU: computes of one card never overlap and start in (step, rank) order") {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Scenario s = test::random_scenario(rng, 8);
    const int rpg_choices[] = {1, 2, 4};
    const int rpg = rpg_choices[seed % 3];
    const long long ring = s.points[0].ring_size;
    if (ring % rpg != 0) continue;
    s.ranks_per_gpu = rpg;
    s.profile.copy_bytes_per_s = std::uniform_real_distribution<double>(1e9, 3e12)(rng);
    s.profile.copy_latency_s = std::uniform_int_distribution<int>(0, 10000)(rng) * 1e-9;
    CAPTURE(ring);
    CAPTURE(rpg);
    std::ostringstream trace;
    const PointResult r = simulate(s, &trace);
    std::map<long long, std::vector<test::TraceSlice>> by_gpu;
    for (const test::TraceSlice& sl : test::compute_slices(test::parse_trace(trace.str())))
      by_gpu[sl.tid / 2 / rpg].push_back(sl);
    for (auto& [gpu, slices] : by_gpu) {
      CAPTURE(gpu);
      // Every (step, rank) of the card; one rank per card skips masked blocks.
      if (rpg > 1) CHECK(slices.size() == static_cast<std::size_t>(ring * rpg));
      std::sort(slices.begin(), slices.end(), [](const test::TraceSlice& a, const test::TraceSlice& b) {
        return std::tie(a.step, a.tid) < std::tie(b.step, b.tid);
      });
      for (std::size_t i = 1; i < slices.size(); ++i) CHECK(slices[i].start_ns >= slices[i - 1].end_ns);
    }
    CHECK(r.makespan_ns > 0);
  }
}

TEST_CASE("sim::shared GPU: the scenario keys ranks_per_gpu are read and checked with file, line and key") {
  const std::string path = "test_shared_gpu_scenario.yaml";
  const auto write = [&](const std::string& sweep) {
    std::ofstream(path) << "name: t\nmodel: {q_heads: 8, kv_heads: 8, head_dim: 64, dtype: bf16}\n"
                           "attention: {causal: false, layout: contiguous}\n"
                           "sequence: {tokens: 4096, ring_size: 4}\n"
                           "cluster:\n  device: h100-sxm\n  gpus_per_node: 8\n  ranks_per_gpu: 2\n"
                           "  intra_node: {bandwidth: \"450 GB/s\", latency: \"2 us\"}\n"
                           "  inter_node: {bandwidth: \"50 GB/s\", latency: \"5 us\"}\n"
                        << sweep;
  };
  write("sweep:\n  - {ring_size: 4}\n  - {ring_size: 4, ranks_per_gpu: 4}\n");
  const Scenario s = load_scenario(path);
  CHECK(ranks_per_gpu(s, s.points[0]) == 2);
  CHECK(ranks_per_gpu(s, s.points[1]) == 4);
  CHECK(cluster_for(s, s.points[0]).gpus == 2);
  CHECK(cluster_for(s, s.points[1]).gpus == 1);
  write("sweep:\n  - {ring_size: 4}\n  - {ring_size: 2, ranks_per_gpu: 4}\n");
  try {
    load_scenario(path);
    FAIL("a ring of 2 on 4 ranks per GPU loaded");
  } catch (const InputError& e) {
    CHECK(e.line == 13);
    CHECK(e.key == "sweep[1].ranks_per_gpu");
  }
  std::remove(path.c_str());
}

TEST_CASE("sim::interference: transfers in flight slow the computes of the GPUs they touch") {
  // Two GPUs, one rank each; each GPU is one end of two transfers (its send
  // and its receive), so a link share of 0.5 stops its compute while they run.
  Scenario s = test::ring_scenario(8192, 2, false, Layout::kContiguous, 8);
  s.intra_node = LinkSpec{450e9, 2000};
  const BlockTimes c = fix_block(s, MaskKind::kFull);
  const TimeNs x = test::oracle_transfer_ns(0, test::kv_block_bytes(s, 4096), 450e9);  // bytes in flight
  REQUIRE(c.first > s.intra_node.latency_ns + x);
  CHECK(simulate(s).makespan_ns == c.first + c.later);  // no interference: the transfer is hidden
  s.profile.link_compute_share = 0.5;
  const PointResult r = simulate(s);
  CHECK(r.makespan_ns == c.first + x + c.later);  // step 0's compute stalls for the transfer
  SimOptions o;
  o.mode = Mode::kRecurrence;
  CHECK_THROWS_AS(simulate_point(s, s.points[0], o), std::invalid_argument);
}

TEST_CASE("sim::interference: a copy between ranks of one GPU takes its copy share") {
  Scenario s = shared_scenario(4096, 2, 2, false, 2e12, 1000);
  const BlockTimes c = fix_block(s, MaskKind::kFull);
  const TimeNs x = test::oracle_transfer_ns(0, test::kv_block_bytes(s, 4096), 2e12 / 2 / 2);  // two copies share the loopback
  REQUIRE(c.first > 1000 + x);
  s.profile.copy_compute_share = 0.5;  // two copies in flight: the GPU's compute stops
  CHECK(simulate(s).makespan_ns == 2 * c.first + 2 * c.later + x);
}
