// sim: faults (issue 15). Oracles: the closed form of one straggler in a
// compute-bound uniform ring (derived below, not read from the code), the
// event engine for the recurrence (random points with every kind of fault),
// the jitter distributions' own quantiles, and thread-count invariance.
#include <doctest/doctest.h>

#include <fmt/format.h>
#include <unistd.h>

#include <boost/math/distributions/normal.hpp>
#include <fstream>
#include <random>

#include "models/transport.hpp"
#include "sim/fault_model.hpp"
#include "sim/simulate.hpp"
#include "sim_fixtures.hpp"

using namespace ringsim;

namespace {

PointResult run(const Scenario& s, Mode mode, const FaultSpec& f, int repeat = 0, int threads = 2) {
  SimOptions o;
  o.mode = mode;
  o.keep_finish_times = true;
  o.threads = threads;
  return simulate_realisation(s, s.points[0], o, f, repeat);
}

// A non-causal pass-kv ring whose blocks take attention_s (+ merge_s from
// step 1 on: step 0 writes the accumulator) and whose transfers take about
// a microsecond: compute-bound.
Scenario compute_bound_ring(long long ring, double attention_s, double merge_s) {
  const long long chunk = 1024;
  Scenario s = test::ring_scenario(chunk * ring, ring, false, Layout::kContiguous, 8);
  test::set_block_seconds(s, chunk, chunk, MaskKind::kFull, attention_s);
  test::set_merge_seconds(s, chunk, merge_s);
  s.intra_node = LinkSpec{900e9, 500};
  s.inter_node = LinkSpec{400e9, 1000};
  return s;
}

}  // namespace

TEST_CASE("faults: one straggler slowed s-fold in a compute-bound uniform ring meets the closed form") {
  // Closed form. Let D be a device's first step (attention alone), c every
  // later step (attention + merge), t the largest transfer (t << c). The
  // straggler x computes each step in ceil(s D) resp. ceil(s c). Its
  // neighbours finish their own steps earlier (c + t <= s c), so x never
  // waits: its step k+1 starts at max(S_x + s c, max(S_x, S_nb) + t) = S_x + s c.
  // No device finishes later than x: every other walk of the event graph
  // stays on devices of cost c < s c or crosses links of weight t. Hence
  //   makespan = ceil(s D) + (P - 1) ceil(s c),
  // and with the slowdown from step f >= 1 on:
  //   makespan = D + (f - 1) c + (P - f) ceil(s c).
  const double attention_s = 1.0 / 1024, merge_s = 1.0 / 8192;  // powers of two: exact ns
  const TimeNs d_ns = test::oracle_ns(attention_s), c_ns = test::oracle_ns(attention_s, merge_s);
  for (long long ring : {16LL, 64LL}) {
    const Scenario s = compute_bound_ring(ring, attention_s, merge_s);
    for (double slow : {1.1, 1.5, 2.0, 3.0}) {
      CAPTURE(ring);
      CAPTURE(slow);
      FaultSpec f;
      f.stragglers.push_back({ring / 3, slow, 0, 1});
      const auto up = [&](TimeNs t) { return static_cast<double>(std::ceil(static_cast<double>(t) * slow)); };
      const double closed = up(d_ns) + static_cast<double>(ring - 1) * up(c_ns);
      for (Mode mode : {Mode::kEvent, Mode::kAuto}) {
        const PointResult r = run(s, mode, f);
        CHECK(static_cast<double>(r.makespan_ns) == doctest::Approx(closed).epsilon(0.02));
        CHECK(r.slowest_device == ring / 3);
      }
      f.stragglers[0].from_step = ring / 2;
      const long long from = ring / 2;
      const double closed_from = static_cast<double>(d_ns + (from - 1) * c_ns) + static_cast<double>(ring - from) * up(c_ns);
      CHECK(static_cast<double>(run(s, Mode::kAuto, f).makespan_ns) == doctest::Approx(closed_from).epsilon(0.02));
    }
  }
}

namespace {

FaultSpec random_faults(std::mt19937_64& rng, const Scenario& s) {
  auto pick = [&](long long lo, long long hi) { return std::uniform_int_distribution<long long>(lo, hi)(rng); };
  const long long ring = s.points[0].ring_size, gpus = ring / std::max(1, s.ranks_per_gpu);
  FaultSpec f;
  f.line = 1;
  if (pick(0, 1)) f.stragglers.push_back({pick(0, ring - 1), 1.0 + static_cast<double>(pick(1, 300)) / 100, pick(0, ring), 1});
  if (pick(0, 2) == 0) f.fraction = StragglerFraction{static_cast<double>(pick(1, 50)) / 100, 1.25, static_cast<std::uint64_t>(pick(0, 99)), 1};
  if (pick(0, 1)) f.jitter = test::random_jitter(rng);
  if (gpus > 1 && pick(0, 1)) {
    const long long from = pick(0, gpus - 1);
    f.links.push_back({LinkFault::kPair, from, (from + 1) % gpus, 0, static_cast<double>(pick(5, 100)) / 100, {}, "l", 1});
  }
  if (gpus > 1 && pick(0, 2) == 0) f.links.push_back({LinkFault::kNic, 0, 0, pick(0, gpus - 1), 0.5, {}, "n", 1});
  if (!f.any()) f.stragglers.push_back({0, 2.0, 0, 1});
  return f;
}

void check_same(const PointResult& a, const PointResult& b) {
  CHECK(a.makespan_ns == b.makespan_ns);
  CHECK(a.finish_ns == b.finish_ns);
  CHECK(a.slowest_device == b.slowest_device);
  CHECK(a.slowest_compute_ns == b.slowest_compute_ns);
  CHECK(a.max_compute_ns == b.max_compute_ns);
  CHECK(a.mean_compute_ns == doctest::Approx(b.mean_compute_ns).epsilon(1e-12));
}

}  // namespace

TEST_CASE("faults: the recurrence equals the event engine on random points with every kind of fault") {
  int fast = 0;
  for (std::uint64_t seed = 1; seed <= 160; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed * 7919);
    Scenario s = test::random_scenario(rng, 24);
    s.schedule = rng() % 2 ? "pass-q" : "pass-kv";
    const FaultSpec f = random_faults(rng, s);
    CAPTURE(s.schedule);
    CAPTURE(s.points[0].ring_size);
    CAPTURE(s.gpus_per_node);
    CAPTURE(s.causal);
    CAPTURE(f.stragglers.size());
    CAPTURE(f.jitter.has_value());
    CAPTURE(f.links.size());
    const int repeat = static_cast<int>(seed % 3);
    const PointResult event = run(s, Mode::kEvent, f, repeat);
    const PointResult automatic = run(s, Mode::kAuto, f, repeat);
    check_same(automatic, event);
    if (automatic.mode == Mode::kEvent) continue;
    ++fast;
    CHECK(automatic.mode != Mode::kFolded);  // faults that make devices differ never fold
    check_same(run(s, Mode::kRecurrence, f, repeat), event);
    check_same(run(s, Mode::kFolded, f, repeat), event);  // falls back, labelled recurrence (or folded if it truly folds)
  }
  CHECK(fast > 60);
}

TEST_CASE("faults: with transports capping messages, transfer jitter gives the recurrence the event engine's times") {
  // The transport's cap (below every link's rate) sets a message's bytes time
  // alone; jitter scales the alone time, in both paths the same way.
  auto t = std::make_shared<TransportProfile>();
  t->name = "test-slow";
  t->bandwidth_bytes_per_s = 3e9;
  int fast = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed * 104729);
    Scenario s = test::random_scenario(rng, 16);
    s.intra_node.transport = t;
    s.inter_node.transport = t;
    FaultSpec f = random_faults(rng, s);
    JitterSpec j;
    j.sigma = 0.2;
    j.seed = seed;
    j.transfer = true;
    f.jitter = j;
    const PointResult event = run(s, Mode::kEvent, f);
    const PointResult automatic = run(s, Mode::kAuto, f);
    check_same(automatic, event);
    fast += automatic.mode != Mode::kEvent;
  }
  CHECK(fast > 10);
}

TEST_CASE("faults: the same seed gives the same result on any thread count; repeats differ") {
  // 32,768 devices: the recurrence splits them over 2 threads (16,384 each).
  const long long ring = 32768;
  const Scenario s = compute_bound_ring(ring, 1.0 / 65536, 0);
  FaultSpec f;
  JitterSpec j;
  j.sigma = 0.05;
  j.seed = 11;
  j.transfer = true;
  f.jitter = j;
  f.fraction = StragglerFraction{0.001, 1.5, 3, 1};
  const PointResult one = run(s, Mode::kRecurrence, f, 1, 1), two = run(s, Mode::kRecurrence, f, 1, 2);
  CHECK(one.threads == 1);
  CHECK(two.threads == 2);
  CHECK(one.finish_ns == two.finish_ns);
  CHECK(one.max_compute_ns == two.max_compute_ns);
  const Scenario small = compute_bound_ring(64, 1.0 / 65536, 0);
  CHECK(run(small, Mode::kEvent, f, 1).finish_ns == run(small, Mode::kEvent, f, 1).finish_ns);
  CHECK(run(small, Mode::kEvent, f, 2).finish_ns != run(small, Mode::kEvent, f, 1).finish_ns);
}

TEST_CASE("faults: jitter factors are the distribution's quantiles; fractions draw round(f P) devices") {
  FaultSpec f;
  JitterSpec j;
  j.distribution = JitterDistribution::kLognormal;
  j.sigma = 0.05;
  f.jitter = j;
  const FaultModel m(f, 100, 0);
  const std::vector<double>& q = m.quantiles();
  REQUIRE(q.size() == FaultModel::kQuantiles);
  // Lognormal: median exp(0) = 1; the quantile at u is exp(sigma z_u).
  CHECK((q[511] + q[512]) / 2 == doctest::Approx(1.0).epsilon(1e-4));
  const boost::math::normal_distribution<double> unit;
  CHECK(q[0] == doctest::Approx(std::exp(0.05 * boost::math::quantile(unit, 0.5 / 1024))));
  // Hashed indices spread evenly: each quantile about equally often.
  std::vector<int> hits(FaultModel::kQuantiles, 0);
  for (long long d = 0; d < 1024; ++d)
    for (long long s = 0; s < 256; ++s) ++hits[FaultModel::quantile_index(d, m.compute_step_hash(s))];
  CHECK(*std::min_element(hits.begin(), hits.end()) > 256 - 6 * 16);  // mean 256, sd 16
  CHECK(*std::max_element(hits.begin(), hits.end()) < 256 + 6 * 16);

  FaultSpec g;
  g.fraction = StragglerFraction{0.01, 2.0, 5, 1};
  for (int rep = 0; rep < 3; ++rep) {
    const FaultModel draw(g, 10000, rep);
    CHECK(std::count(draw.device_levels().begin(), draw.device_levels().end(), 1) == 100);
  }
  CHECK(FaultModel(g, 10000, 0).device_levels() != FaultModel(g, 10000, 1).device_levels());
}

TEST_CASE("faults: a failed NIC reroutes through its node, or ends the run with a verdict") {
  Scenario s = compute_bound_ring(16, 1.0 / 65536, 0);  // 2 nodes of 8
  s.inter_node = LinkSpec{50e9, 5000};
  FaultSpec f;
  f.links.push_back({LinkFault::kNic, 0, 0, 7, 1.0, TimeNs{0}, "faults.links[0]", 1});  // GPU 7 sends to node 2
  const PointResult free = run(s, Mode::kEvent, FaultSpec{});
  const PointResult rerouted = run(s, Mode::kAuto, f);
  CHECK(rerouted.makespan_ns >= free.makespan_ns);
  f.links[0].fail_at_ns = free.makespan_ns / 2;  // mid-run: only the engine changes routes with time
  const PointResult later = run(s, Mode::kAuto, f);
  CHECK(later.mode == Mode::kEvent);
  CHECK(later.makespan_ns >= free.makespan_ns);
  Scenario lone = s;
  lone.gpus_per_node = 1;  // no node fabric: nothing to reroute through
  f.links[0].fail_at_ns = 0;
  CHECK_THROWS_WITH_AS(run(lone, Mode::kAuto, f), doctest::Contains("its NIC failed"), NoRoute);
}

namespace {

// A scenario file with `faults_yaml` (lines 10+) under a 16-device ring.
std::string faults_file(const std::string& faults_yaml) {
  static int n = 0;
  const std::string path = fmt::format("/tmp/ringsim-test-faults-{}-{}.yaml", ::getpid(), n++);
  std::ofstream(path) << "name: faults\n"
                         "model: {q_heads: 8, kv_heads: 8, head_dim: 64, dtype: bf16}\n"
                         "attention: {causal: false}\n"
                         "sequence: {tokens: 16384, ring_size: 16}\n"
                         "cluster:\n"
                         "  device: h100-sxm\n"
                         "  gpus_per_node: 8\n"
                         "  intra_node: {bandwidth: \"450 GB/s\", latency: \"2 us\"}\n"
                         "  inter_node: {bandwidth: \"50 GB/s\", latency: \"5 us\"}\n"
                      << faults_yaml;
  return path;
}

#define CHECK_HAS(text, part)                              \
  do {                                                     \
    const std::string got_ = (text);                       \
    CHECK_MESSAGE(got_.find(part) != std::string::npos, got_); \
  } while (0)

// The InputError the file raises: "key @ line: message".
std::string error_of(const std::string& faults_yaml) {
  try {
    load_scenario(faults_file(faults_yaml));
  } catch (const InputError& e) {
    return fmt::format("{} @ {}: {}", e.key, e.line, e.what());
  }
  return "no error";
}

}  // namespace

TEST_CASE("faults: bad input names file, line and key") {
  CHECK_HAS(error_of("faults:\n  stragglers: [{device: 16, slowdown: 2}]\n"), "faults.stragglers[0].device @ 11:");
  CHECK_HAS(error_of("faults:\n  stragglers: [{device: 16, slowdown: 2}]\n"), "out of range");
  CHECK_HAS(error_of("faults:\n  stragglers:\n    - {device: 3, slowdown: 0}\n"), "faults.stragglers[0].slowdown @ 12: ");
  CHECK_HAS(error_of("faults:\n  links: [{from: 3, to: 4, bandwidth_factor: -1}]\n"), "faults.links[0].bandwidth_factor @ 11:");
  CHECK_HAS(error_of("faults:\n  links:\n    - {from: 3, to: 40, bandwidth_factor: 0.5}\n"), "faults.links[0].to @ 12: ");
  CHECK_HAS(error_of("faults:\n  links:\n    - {from: 3, to: 40, bandwidth_factor: 0.5}\n"), "no such link");
  CHECK_HAS(error_of("faults:\n  links: [{nic: 99, fail_at: 2 ms}]\n"), "faults.links[0].nic @ 11:");
  CHECK_HAS(error_of("faults:\n  jitter: {distribution: gamma, sigma: 0.1}\n"), "faults.jitter.distribution @ 11: ");
  CHECK_HAS(error_of("faults:\n  jitter: {distribution: gamma, sigma: 0.1}\n"), "unknown distribution 'gamma'");
  CHECK_HAS(error_of("faults:\n  jitter: {distribution: empirical, file: /nonexistent}\n"), "faults.jitter.file @ 11:");
  CHECK_HAS(error_of("faults:\n  jitter: {distribution: normal, sigma: 0.1, applies_to: [disk]}\n"), "faults.jitter.applies_to[0]");
  CHECK_HAS(error_of("faults:\n  repeats: 0\n"), "faults.repeats @ 11:");
  CHECK_HAS(error_of("faults:\n  stragglerz: []\n"), "did you mean 'stragglers'");
  // A good section loads whole.
  const Scenario s = load_scenario(faults_file(
      "faults:\n  stragglers: [{device: 15, slowdown: 1.5, from_step: 2}]\n"
      "  straggler_fraction: {fraction: 0.25, slowdown: 1.1, seed: 3}\n"
      "  jitter: {distribution: lognormal, sigma: 0.02, seed: 7, applies_to: [compute, transfer]}\n"
      "  links: [{from: 7, to: 8, bandwidth_factor: 0.25}, {nic: 12, fail_at: \"2 ms\"}]\n  repeats: 5\n"));
  CHECK(s.faults.stragglers.at(0).from_step == 2);
  CHECK(s.faults.jitter->transfer);
  CHECK(s.faults.links.at(1).fail_at_ns == TimeNs{2'000'000});
  CHECK(s.faults.repeats == 5);
}
