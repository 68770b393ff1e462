// tests/models: flow network (exact lone flows, fair sharing, max-min).
#include <doctest/doctest.h>

#include <boost/multiprecision/cpp_int.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "flow_driver.hpp"
#include "models/flow_network.hpp"

using namespace ringsim;

namespace {
constexpr double kRate = 1e9;  // 1 GB/s, so bytes read as ns

ClusterSpec one_node(long long gpus = 8) {
  ClusterSpec c;
  c.gpus = gpus;
  c.gpus_per_node = 8;
  c.intra_node = {kRate, 1000};
  c.inter_node = {kRate / 10, 5000};
  return c;
}
}  // namespace

TEST_CASE("models::transfer_time_ns: rounds bytes / rate up to whole nanoseconds, exactly") {
  CHECK(transfer_time_ns(0, 1e9) == 0);
  CHECK(transfer_time_ns(1e9, 1e9) == 1000000000);
  CHECK(transfer_time_ns(1, 3e9) == 1);
  CHECK(transfer_time_ns(3, 3e9) == 1);              // exactly 1 ns; 3 / 3e9 * 1e9 in doubles is above 1
  CHECK(transfer_time_ns(1e9 + 1, 1e9) == 1000000001);  // issue 9: double seconds gave 1,000,000,002
  CHECK(transfer_time_ns(8388608, 0.5e9) == 16777216);
  CHECK(transfer_time_ns(1e-300, 1e300) == 1);       // positive, far below a nanosecond
  CHECK(transfer_time_ns(5, std::numeric_limits<double>::infinity()) == 0);
  CHECK_THROWS_AS(transfer_time_ns(1, 0), std::invalid_argument);
  CHECK_THROWS_AS(transfer_time_ns(-1, 1e9), std::invalid_argument);
  CHECK_THROWS_AS(transfer_time_ns(std::nan(""), 1e9), std::invalid_argument);
  CHECK_THROWS_AS(transfer_time_ns(1e300, 1), TimeOverflow);
  CHECK_THROWS_AS(transfer_time_ns(9.3e9, 1), TimeOverflow);  // 9.3e18 ns > 2^63 - 1
  CHECK(transfer_time_ns(9.2e9, 1) == 9200000000000000000);
}

TEST_CASE("models::transfer_time_ns: equals the exact rational ceiling on random and near-integer inputs") {
  // Oracle: Boost.Multiprecision rationals hold both doubles exactly.
  using boost::multiprecision::cpp_int;
  using boost::multiprecision::cpp_rational;
  const auto oracle = [](double bytes, double rate) {
    const cpp_rational q = cpp_rational(bytes) * 1000000000 / cpp_rational(rate);
    const cpp_int n = numerator(q), d = denominator(q);
    return static_cast<TimeNs>((n + d - 1) / d);
  };
  std::mt19937_64 rng(2026);
  for (int i = 0; i < 20000; ++i) {
    CAPTURE(i);
    double bytes, rate;
    switch (i % 4) {
      case 0:  // random sizes and rates
        bytes = std::ldexp(std::uniform_real_distribution<double>(0, 1)(rng), static_cast<int>(rng() % 40));
        rate = std::ldexp(std::uniform_real_distribution<double>(0.5, 1)(rng), 20 + static_cast<int>(rng() % 30));
        break;
      case 1:  // integer bytes at integer GB/s: often whole nanoseconds
        bytes = static_cast<double>(rng() % (1ULL << 36));
        rate = static_cast<double>(1 + rng() % 1000) * 1e9;
        break;
      case 2: {  // a whole number of ns at the rate, nudged by an ulp either way
        rate = static_cast<double>(1 + rng() % 900) * 1e9 + static_cast<double>(rng() % 1000);
        const double exact = static_cast<double>(1 + rng() % 10000000) * rate / 1e9;
        bytes = std::nextafter(exact, (rng() % 3 == 0) ? 0.0 : (rng() % 2 ? 1e300 : exact));
        break;
      }
      default:  // decimal sizes, as scenarios write them
        bytes = static_cast<double>(1 + rng() % 100000) * 1e3 + 1;
        rate = static_cast<double>(1 + rng() % 100) * 1e8;
    }
    CAPTURE(bytes);
    CAPTURE(rate);
    CHECK(transfer_time_ns(bytes, rate) == oracle(bytes, rate));
  }
  // Second oracle, in integers: whole bytes at whole bytes per second take
  // exactly ceil(bytes * 1e9 / rate) ns (128-bit, no rounding).
  std::mt19937_64 rng5(5);
  for (int i = 0; i < 10000; ++i) {
    const unsigned long long bytes = rng5() % (1ULL << 40);
    const unsigned long long rate = 1000000ULL + rng5() % 1000000000000ULL;
    CAPTURE(bytes);
    CAPTURE(rate);
    const unsigned __int128 scaled = static_cast<unsigned __int128>(bytes) * 1000000000ULL;
    const TimeNs exact = static_cast<TimeNs>((scaled + rate - 1) / rate);
    CHECK(transfer_time_ns(static_cast<double>(bytes), static_cast<double>(rate)) == exact);
  }
}

TEST_CASE("models::FlowNetwork: a lone flow completes exactly at start + transfer_time_ns") {
  ClusterSpec c = one_node(64);
  c.intra_node = {450e9, 2000};
  c.inter_node = {50e9, 5000};
  const Topology topo(c);
  std::mt19937_64 rng(99);
  for (int seed = 0; seed < 200; ++seed) {
    CAPTURE(seed);
    test::FlowDriver net(topo);
    const TimeNs start = static_cast<TimeNs>(rng() % 1000000000000ULL);
    const double bytes = static_cast<double>(rng() % (1ULL << 34)) + std::uniform_real_distribution<double>(0, 1)(rng);
    const long long src = static_cast<long long>(rng() % 64);
    const long long dst = (src + 1 + static_cast<long long>(rng() % 63)) % 64;
    const Route r = topo.route(src, dst);
    net.advance_to(start);
    const FlowId id = net.start_flow(start, r, bytes, 42);
    CHECK(net.flow_rate(id) == r.bytes_per_s);
    const TimeNs expect = start + transfer_time_ns(bytes, r.bytes_per_s);
    CHECK(net.next_completion_ns() == expect);
    CHECK(net.advance_to(expect - 1).empty());
    CHECK(net.advance_to(expect) == std::vector<std::uint64_t>{42});
    CHECK(net.active_flows() == 0);
    CHECK(net.next_completion_ns() == kTimeNever);
  }
}

TEST_CASE("models::FlowNetwork: two flows on one link each get half, and the survivor gets it all back") {
  const Topology topo(one_node());
  test::FlowDriver net(topo);
  const FlowId a = net.start_flow(0, topo.route(0, 1), 1e9, 1);    // links 0, 5
  const FlowId b = net.start_flow(0, topo.route(2, 1), 0.5e9, 2);  // links 8, 5: shares 5
  CHECK(net.flow_rate(a) == kRate / 2);
  CHECK(net.flow_rate(b) == kRate / 2);
  // b: 0.5e9 B at 0.5 GB/s -> 1 s. a then has 0.5e9 B left at 1 GB/s -> 1.5 s.
  CHECK(net.next_completion_ns() == 1000000000);
  CHECK(net.advance_to(1000000000) == std::vector<std::uint64_t>{2});
  CHECK(net.flow_rate(a) == kRate);
  CHECK(net.next_completion_ns() == 1500000000);
  CHECK(net.advance_to(2000000000) == std::vector<std::uint64_t>{1});
}

TEST_CASE("models::FlowNetwork: a flow starting later takes half from then on") {
  const Topology topo(one_node());
  test::FlowDriver net(topo);
  net.start_flow(0, topo.route(0, 1), 1e9, 1);
  net.advance_to(400000000);  // a has 0.6e9 left
  net.start_flow(400000000, topo.route(2, 1), 0.2e9, 2);
  // both at 0.5 GB/s: b done at 0.4 + 0.4 = 0.8 s; a has 0.4e9 left then, alone: 1.2 s.
  CHECK(net.advance_to(800000000) == std::vector<std::uint64_t>{2});
  CHECK(net.next_completion_ns() == 1200000000);
}

TEST_CASE("models::FlowNetwork: max-min with three flows on two links") {
  const Topology topo(one_node());
  test::FlowDriver net(topo);
  net.start_flow(0, topo.route(0, 1), 1e9, 1);    // link 5 (into GPU 1)
  net.start_flow(0, topo.route(2, 1), 0.5e9, 2);  // links 8 and 5
  net.start_flow(0, topo.route(2, 3), 2e9, 3);    // link 8 (out of GPU 2)
  // Everyone at 0.5 GB/s; flow 2 ends at 1 s; then 1 and 3 run alone at 1 GB/s:
  // flow 1: 0.5e9 left -> 1.5 s; flow 3: 1.5e9 left -> 2.5 s.
  CHECK(net.advance_to(1000000000) == std::vector<std::uint64_t>{2});
  CHECK(net.advance_to(1500000000) == std::vector<std::uint64_t>{1});
  CHECK(net.next_completion_ns() == 2500000000);
  CHECK(net.advance_to(3000000000) == std::vector<std::uint64_t>{3});
}

TEST_CASE("models::FlowNetwork: max-min gives the unbottlenecked flow the leftover capacity") {
  const Topology topo(one_node());
  test::FlowDriver net(topo);
  const FlowId a = net.start_flow(0, topo.route(0, 1), 1e9, 1);  // link 5
  const FlowId b = net.start_flow(0, topo.route(2, 1), 1e9, 2);  // links 8, 5
  const FlowId e = net.start_flow(0, topo.route(4, 1), 1e9, 3);  // link 5
  const FlowId c = net.start_flow(0, topo.route(2, 3), 1e9, 4);  // link 8
  CHECK(net.flow_rate(a) == doctest::Approx(kRate / 3));
  CHECK(net.flow_rate(b) == doctest::Approx(kRate / 3));
  CHECK(net.flow_rate(e) == doctest::Approx(kRate / 3));
  CHECK(net.flow_rate(c) == doctest::Approx(2 * kRate / 3));
}

TEST_CASE("models::FlowNetwork: flows on disjoint links keep their exact completion") {
  const Topology topo(one_node());
  test::FlowDriver net(topo);
  net.start_flow(0, topo.route(0, 1), 777777777, 1);
  net.start_flow(5, topo.route(2, 3), 1e9, 2);  // disjoint: no effect on flow 1
  net.start_flow(9, topo.route(4, 3), 1e9, 3);  // shares with flow 2 only
  CHECK(net.next_completion_ns() == transfer_time_ns(777777777, kRate));
}

TEST_CASE("models::FlowNetwork: random flows get max-min rates and all complete in order") {
  ClusterSpec c = one_node(16);
  c.gpus_per_node = 4;
  const Topology topo(c);
  for (int seed = 0; seed < 30; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    test::FlowDriver net(topo);
    std::map<FlowId, Route> routes;
    TimeNs now = 0, last_done = 0;
    std::size_t completed = 0;
    for (int i = 0; i < 60; ++i) {
      now += static_cast<TimeNs>(rng() % 20000000);
      const TimeNs next = net.next_completion_ns();
      if (next <= now) {
        CHECK(next >= last_done);
        last_done = next;
      }
      completed += net.advance_to(now).size();
      const long long s = static_cast<long long>(rng() % 16), d = (s + 1 + static_cast<long long>(rng() % 15)) % 16;
      routes[net.start_flow(now, topo.route(s, d), 1e6 + static_cast<double>(rng() % 100000000), i)] = topo.route(s, d);
      // Max-min: no link over capacity, and each flow has a saturated link where it is the largest.
      std::map<LinkId, double> load, largest;
      for (const auto& [id, r] : routes) {
        for (LinkId l : r.links) {
          load[l] += net.flow_rate(id);
          largest[l] = std::max(largest[l], net.flow_rate(id));
        }
      }
      for (const auto& [l, bytes_per_s] : load) CHECK(bytes_per_s <= topo.link_bytes_per_s(l) * (1 + 1e-9));
      for (const auto& [id, r] : routes) {
        if (net.flow_rate(id) == 0) continue;  // finished
        const bool bottlenecked = std::any_of(r.links.begin(), r.links.end(), [&](LinkId l) {
          return load[l] >= topo.link_bytes_per_s(l) * (1 - 1e-9) && net.flow_rate(id) >= largest[l] * (1 - 1e-9);
        });
        CHECK(bottlenecked);
      }
    }
    completed += net.advance_to(kTimeNever - 1).size();
    CHECK(completed == 60);
    CHECK(net.active_flows() == 0);
  }
}

TEST_CASE("models::FlowNetwork: a flow's rate cap is a private link: the others share what it leaves") {
  const Topology topo(one_node());
  test::FlowDriver net(topo);
  const FlowId a = net.start_flow(0, topo.route(0, 1), 1e9, 1, 0.2 * kRate);  // link 5, capped
  const FlowId b = net.start_flow(0, topo.route(2, 1), 1e9, 2);              // links 8, 5
  CHECK(net.flow_rate(a) == doctest::Approx(0.2 * kRate));
  CHECK(net.flow_rate(b) == doctest::Approx(0.8 * kRate));
  // A cap above the fair share changes nothing: two flows at half each.
  test::FlowDriver fair(topo);
  const FlowId c = fair.start_flow(0, topo.route(0, 1), 1e9, 1, 0.9 * kRate);
  const FlowId d = fair.start_flow(0, topo.route(2, 1), 1e9, 2);
  CHECK(fair.flow_rate(c) == kRate / 2);
  CHECK(fair.flow_rate(d) == kRate / 2);
  // Alone: 1e9 B at the cap of 0.25 GB/s ends at 4 s.
  test::FlowDriver lone(topo);
  lone.start_flow(0, topo.route(0, 1), 1e9, 7, 0.25 * kRate);
  CHECK(lone.next_completion_ns() == 4000000000);
}
