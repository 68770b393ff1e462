// tests/models: the flow network's rate caps, pools of flows on one copy link,
// and every regime against an independent fluid max-min simulation.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "flow_driver.hpp"
#include "models/flow_network.hpp"

using namespace ringsim;

namespace {

constexpr double kRate = 1e9;  // 1 GB/s: bytes read as ns
constexpr double kCopyRate = 3e9;

// 4 GPUs in one node, each with a copy link (ids 16..19) for ranks sharing it.
ClusterSpec node_with_copy_links() {
  ClusterSpec c;
  c.gpus = 4;
  c.gpus_per_node = 4;
  c.intra_node = {kRate, 1000};
  c.inter_node = {kRate / 10, 5000};
  c.copy_link = {kCopyRate, 0};
  return c;
}

// Independent oracle: a fluid simulation in continuous time (double ns) that
// re-solves max-min rates (progressive filling with caps) over every active
// flow at every start and end.
struct FluidFlow {
  double start_ns;
  std::vector<LinkId> links;
  double bytes, cap;
};

std::vector<double> max_min(const Topology& topo, const std::vector<FluidFlow>& flows, const std::vector<bool>& active) {
  std::vector<double> rate(flows.size(), -1), capacity(static_cast<std::size_t>(topo.link_count()));
  for (LinkId l = 0; l < topo.link_count(); ++l) capacity[l] = topo.link_bytes_per_s(l);
  for (;;) {
    std::vector<int> unfrozen(capacity.size(), 0);
    double level = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < flows.size(); ++i) {
      if (!active[i] || rate[i] >= 0) continue;
      level = std::min(level, flows[i].cap);
      for (LinkId l : flows[i].links) ++unfrozen[l];
    }
    for (std::size_t l = 0; l < capacity.size(); ++l) {
      if (unfrozen[l] > 0) level = std::min(level, capacity[l] / unfrozen[l]);
    }
    if (std::isinf(level)) return rate;  // nothing left unfrozen
    std::vector<std::size_t> tight;  // decided before any capacity changes
    for (std::size_t i = 0; i < flows.size(); ++i) {
      if (!active[i] || rate[i] >= 0) continue;
      bool at_level = flows[i].cap <= level;
      for (LinkId l : flows[i].links) at_level = at_level || capacity[l] / unfrozen[l] <= level;
      if (at_level) tight.push_back(i);
    }
    for (std::size_t i : tight) {
      rate[i] = level;
      for (LinkId l : flows[i].links) capacity[l] -= level;
    }
  }
}

std::vector<double> fluid_completions(const Topology& topo, const std::vector<FluidFlow>& flows) {
  const std::size_t n = flows.size();
  std::vector<double> remaining(n), done(n, -1);
  std::vector<bool> active(n, false);
  for (std::size_t i = 0; i < n; ++i) remaining[i] = flows[i].bytes;
  double t = 0;
  for (std::size_t finished = 0; finished < n;) {
    const std::vector<double> rate = max_min(topo, flows, active);
    double next = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < n; ++i) {
      if (done[i] < 0 && !active[i]) next = std::min(next, flows[i].start_ns);
      if (active[i]) next = std::min(next, t + remaining[i] / rate[i] * 1e9);
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!active[i]) continue;
      remaining[i] -= rate[i] * (next - t) / 1e9;
      if (remaining[i] <= flows[i].bytes * 1e-12) active[i] = false, done[i] = next, ++finished;
    }
    t = next;
    for (std::size_t i = 0; i < n; ++i) {
      if (done[i] < 0 && !active[i] && flows[i].start_ns <= t) active[i] = true;
    }
  }
  return done;
}

// The flows (in start order) through the network; when each ended.
std::vector<TimeNs> run_flows(const Topology& topo, const std::vector<FluidFlow>& flows,
                              const std::vector<Route>& routes, bool settle_every_change = false) {
  test::FlowDriver net(topo, settle_every_change);
  for (std::size_t i = 0; i < flows.size(); ++i) {
    const auto start = static_cast<TimeNs>(flows[i].start_ns);
    net.advance_to(start);
    net.start_flow(start, routes[i], flows[i].bytes, i, flows[i].cap);
  }
  net.advance_to(kTimeNever - 1);
  CHECK(net.active_flows() == 0);
  std::vector<TimeNs> end;
  for (std::size_t i = 0; i < flows.size(); ++i) end.push_back(net.end_ns(i));
  return end;
}

}  // namespace

TEST_CASE("models::FlowNetwork: a rate cap holds even for a flow alone on its links") {
  const Topology topo(node_with_copy_links());
  for (const Route& r : {topo.route(0, 1), topo.loopback(2)}) {
    CAPTURE(r.links.size());
    test::FlowDriver net(topo);
    const FlowId capped = net.start_flow(100, r, 1e6, 1, 0.25e9);
    CHECK(net.flow_rate(capped) == 0.25e9);
    const TimeNs end = 100 + transfer_time_ns(1e6, 0.25e9);
    CHECK(net.next_completion_ns() == end);
    CHECK(net.advance_to(end) == std::vector<std::uint64_t>{1});
    const FlowId loose = net.start_flow(end, r, 1e6, 2, 1e15);
    CHECK(net.flow_rate(loose) == r.bytes_per_s);  // a cap above the links changes nothing
  }
  test::FlowDriver net(topo);
  CHECK_THROWS_AS(net.start_flow(0, topo.route(0, 1), 1, 1, 0), std::invalid_argument);
  CHECK_THROWS_AS(net.start_flow(0, topo.route(0, 1), 1, 1, std::nan("")), std::invalid_argument);
}

TEST_CASE("models::FlowNetwork: a capped flow leaves the rest of a shared link to the others") {
  const Topology topo(node_with_copy_links());
  test::FlowDriver net(topo);
  const FlowId a = net.start_flow(0, topo.route(0, 1), 1e9, 1, kRate / 4);  // links 0, 5
  const FlowId b = net.start_flow(0, topo.route(2, 1), 1e9, 2);             // links 8, 5
  CHECK(net.flow_rate(a) == kRate / 4);
  CHECK(net.flow_rate(b) == 3 * kRate / 4);
  // Three copies on one GPU's copy link, one capped below its fair share.
  const FlowId c = net.start_flow(0, topo.loopback(3), 1e9, 3, kCopyRate / 6);
  const FlowId d = net.start_flow(0, topo.loopback(3), 1e9, 4);
  const FlowId e = net.start_flow(0, topo.loopback(3), 1e9, 5);
  CHECK(net.flow_rate(c) == kCopyRate / 6);
  CHECK(net.flow_rate(d) == doctest::Approx(kCopyRate * 5 / 12));
  CHECK(net.flow_rate(e) == doctest::Approx(kCopyRate * 5 / 12));
}

TEST_CASE("models::FlowNetwork: n copies on one link started together share it and end at the closed form") {
  const Topology topo(node_with_copy_links());
  for (int n : {1, 2, 3, 7, 1000}) {
    CAPTURE(n);
    test::FlowDriver net(topo);
    const double bytes = 8388608;
    std::vector<FlowId> ids;
    for (int i = 0; i < n; ++i) ids.push_back(net.start_flow(2500, topo.loopback(1), bytes, i));
    for (FlowId id : ids) CHECK(net.flow_rate(id) == kCopyRate / n);
    const TimeNs end = 2500 + transfer_time_ns(bytes, kCopyRate / n);
    CHECK(net.next_completion_ns() == end);
    CHECK(net.advance_to(end - 1).empty());
    CHECK(net.advance_to(end).size() == static_cast<std::size_t>(n));
    CHECK(net.active_flows() == 0);
  }
}

TEST_CASE("models::FlowNetwork: copies of different sizes end as processor sharing says") {
  // Sizes k x 1e9 bytes started together: flow k ends when the k-th smallest is served,
  // T_k = T_{k-1} + (b_k - b_{k-1}) x (n - k + 1) / C.
  const Topology topo(node_with_copy_links());
  test::FlowDriver net(topo);
  const int n = 5;
  for (int k = n; k >= 1; --k) net.start_flow(0, topo.loopback(0), k * 1e9, static_cast<std::uint64_t>(k));
  double expect_s = 0;
  for (int k = 1; k <= n; ++k) {
    CAPTURE(k);
    expect_s += 1e9 * (n - k + 1) / kCopyRate;
    const TimeNs t = net.next_completion_ns();
    CHECK(std::abs(static_cast<double>(t) - expect_s * 1e9) <= k);  // whole ns at every change
    CHECK(net.advance_to(t) == std::vector<std::uint64_t>{static_cast<std::uint64_t>(k)});
  }
}

TEST_CASE("models::FlowNetwork: random flows, pools, caps and mixed links match a fluid max-min oracle") {
  const Topology topo(node_with_copy_links());
  for (int seed = 0; seed < 40; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    std::vector<FluidFlow> flows;
    std::vector<Route> routes;
    double t = 0;
    for (int i = 0; i < 40; ++i) {
      t += static_cast<double>(rng() % (seed % 2 ? 3000000 : 300000));  // odd seeds: fewer overlaps
      const long long g = static_cast<long long>(rng() % 4), h = (g + 1 + static_cast<long long>(rng() % 3)) % 4;
      Route r = topo.route(g, h);
      const int kind = static_cast<int>(rng() % 5);
      if (kind <= 1) r = topo.loopback(g);
      if (kind == 2) {  // a route through a copy link: pools dissolve
        r.links.push_back(topo.loopback(g).links[0]);
        r.bytes_per_s = std::min(r.bytes_per_s, kCopyRate);  // Route's contract: the smallest link's rate
      }
      const double cap = rng() % 3 == 0 ? static_cast<double>(1 + rng() % 4) * 0.25e9 : kNoRateCap;
      flows.push_back(FluidFlow{std::floor(t), r.links, 1e5 + static_cast<double>(rng() % 5000000), cap});
      routes.push_back(r);
    }
    const std::vector<double> want = fluid_completions(topo, flows);
    const std::vector<TimeNs> end = run_flows(topo, flows, routes);
    for (std::size_t i = 0; i < flows.size(); ++i) {
      CAPTURE(i);
      // Completions land on whole nanoseconds, so each rate change may come
      // up to 1 ns late: a few ns over 40 flows.
      CHECK(std::abs(static_cast<double>(end[i]) - want[i]) <= 8 + 1e-9 * want[i]);
    }
  }
}

TEST_CASE("models::FlowNetwork: flows told their start when matched end exactly as flows started then") {
  // Second implementation as oracle: the same flows, once announced at their
  // match (reserved when their links are free, else waiting) and once started
  // only at their start; many share links, pools and caps.
  const Topology topo(node_with_copy_links());
  const TimeNs latencies[] = {0, 1000, 1000, 5000};
  for (int seed = 0; seed < 60; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(1000 + seed);
    struct Planned {
      TimeNs match_ns, start_ns;
      Route route;
      double bytes, cap;
    };
    std::vector<Planned> plan;
    TimeNs t = 0;
    for (int i = 0; i < 50; ++i) {
      t += static_cast<TimeNs>(rng() % (seed % 2 ? 4000000 : 400000));
      const long long g = static_cast<long long>(rng() % 4), h = (g + 1 + static_cast<long long>(rng() % 3)) % 4;
      const Route r = rng() % 3 == 0 ? topo.loopback(g) : topo.route(g, h);
      const TimeNs latency = rng() % 4 == 0 ? static_cast<TimeNs>(rng() % 3000000) : latencies[rng() % 4];
      const double cap = rng() % 4 == 0 ? 0.5e9 : kNoRateCap;
      plan.push_back(Planned{t, t + latency, r, 1e5 + static_cast<double>(rng() % 5000000), cap});
    }
    const auto run = [&](bool announce) {
      test::FlowDriver net(topo);
      std::vector<std::size_t> order(plan.size());
      for (std::size_t i = 0; i < plan.size(); ++i) order[i] = i;
      const auto when = [&](std::size_t i) { return announce ? plan[i].match_ns : plan[i].start_ns; };
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return when(a) < when(b); });
      for (std::size_t i : order) {
        net.advance_to(when(i));
        const Planned& p = plan[i];
        net.start_flow(when(i), p.route, p.bytes, i, p.cap, announce ? p.start_ns : FlowNetwork::kStartNow);
      }
      net.advance_to(kTimeNever - 1);
      CHECK(net.active_flows() == 0);
      std::vector<TimeNs> end;
      for (std::size_t i = 0; i < plan.size(); ++i) end.push_back(net.end_ns(i));
      return end;
    };
    CHECK(run(true) == run(false));
  }
}

TEST_CASE("models::FlowNetwork: bursts of flows that start and end together settle once per instant") {
  // All-to-all phases: every ordered GPU pair (and some copies) starts a flow
  // at the same instant, sizes from a short list so that many end together.
  // Oracles: the fluid max-min simulation, and the same network re-solved
  // after every start and completion (FlowDriver's settle_every_change).
  const Topology topo(node_with_copy_links());
  for (int seed = 0; seed < 30; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(500 + seed);
    std::vector<FluidFlow> flows;
    std::vector<Route> routes;
    double t = 0;
    for (int phase = 0; phase < 6; ++phase) {
      t += static_cast<double>(rng() % 3 == 0 ? 0 : rng() % 4000000);  // some phases overlap
      for (long long g = 0; g < 4; ++g) {
        for (long long h = 0; h < 4; ++h) {
          if (g == h && rng() % 2) continue;
          const Route r = g == h ? topo.loopback(g) : topo.route(g, h);
          const double cap = rng() % 5 == 0 ? 0.25e9 : kNoRateCap;
          flows.push_back(FluidFlow{t, r.links, 1e6 * static_cast<double>(1 + rng() % 3), cap});
          routes.push_back(r);
        }
      }
    }
    const std::vector<double> want = fluid_completions(topo, flows);
    const std::vector<TimeNs> once = run_flows(topo, flows, routes, false);
    const std::vector<TimeNs> every = run_flows(topo, flows, routes, true);
    for (std::size_t i = 0; i < flows.size(); ++i) {
      CAPTURE(i);
      CHECK(std::abs(static_cast<double>(once[i]) - want[i]) <= 8 + 1e-9 * want[i]);
      // A rate that changes and changes back within an instant keeps its
      // projection here, but is re-rounded when re-solved per change.
      CHECK(std::abs(once[i] - every[i]) <= 6);
    }
  }
}

TEST_CASE("models::FlowNetwork: time cannot move on while an instant's rates are unsettled") {
  const Topology topo(node_with_copy_links());
  FlowNetwork net(topo);
  net.start_flow(0, topo.route(0, 1), 1e6, 1);
  net.start_flow(0, topo.route(0, 1), 1e6, 2);  // shares both links: solved when the instant settles
  CHECK(net.unsettled());
  CHECK_THROWS_AS(net.start_flow(10, topo.route(2, 3), 1e6, 3), std::logic_error);
  net.settle();
  CHECK_FALSE(net.unsettled());
  CHECK_NOTHROW(net.start_flow(10, topo.route(2, 3), 1e6, 3));
}
