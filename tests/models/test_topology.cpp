// tests/models: topology (routes, link ids, scale).
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>

#include "models/topology.hpp"

using namespace ringsim;

namespace {
ClusterSpec cluster(long long gpus, int gpn = 8) {
  ClusterSpec c;
  c.gpus = gpus;
  c.gpus_per_node = gpn;
  c.intra_node = {450e9, 2000};
  c.inter_node = {50e9, 5000};
  return c;
}
}  // namespace

TEST_CASE("models::Topology: intra-node routes use NVLink, inter-node routes use InfiniBand") {
  const Topology t(cluster(32));
  CHECK(t.link_count() == 128);
  const Route intra = t.route(3, 4);
  CHECK(intra.links == std::vector<LinkId>{4 * 3 + 0, 4 * 4 + 1});
  CHECK(intra.latency_ns == 2000);
  CHECK(intra.bytes_per_s == 450e9);
  const Route inter = t.route(7, 8);
  CHECK(inter.links == std::vector<LinkId>{4 * 7 + 2, 4 * 8 + 3});
  CHECK(inter.latency_ns == 5000);
  CHECK(inter.bytes_per_s == 50e9);
  CHECK(t.link_bytes_per_s(4 * 3 + 1) == 450e9);
  CHECK(t.link_bytes_per_s(4 * 3 + 3) == 50e9);
}

TEST_CASE("models::Topology: inside a node traffic stays on the node's fabric, however fast InfiniBand is") {
  for (double inter_bytes_per_s : {50e9, 450e9, 900e9, 5e12}) {
    for (TimeNs inter_latency_ns : {TimeNs{100}, TimeNs{2000}, TimeNs{50000}}) {
      CAPTURE(inter_bytes_per_s);
      CAPTURE(inter_latency_ns);
      ClusterSpec c = cluster(16);
      c.inter_node = {inter_bytes_per_s, inter_latency_ns};
      const Topology t(c);
      // GPU 0 -> 1 (node 0) and 9 -> 14 (node 1): GPU -> its NVSwitch -> GPU.
      CHECK(t.route(0, 1).links == std::vector<LinkId>{4 * 0 + 0, 4 * 1 + 1});
      CHECK(t.route(9, 14).links == std::vector<LinkId>{4 * 9 + 0, 4 * 14 + 1});
      CHECK(t.route(0, 1).latency_ns == 2000);
      CHECK(t.route(0, 1).bytes_per_s == 450e9);
      // Across nodes: NIC -> IB switch -> NIC.
      CHECK(t.route(7, 8).links == std::vector<LinkId>{4 * 7 + 2, 4 * 8 + 3});
      CHECK(t.route(7, 8).latency_ns == inter_latency_ns);
    }
  }
}

TEST_CASE("models::Topology: a node without its own fabric sends through its NICs") {
  ClusterSpec c = cluster(16);
  c.intra_node = {0, 0};  // e.g. PCIe-only nodes modelled without NVLink
  const Topology t(c);
  CHECK(t.route(0, 1).links == std::vector<LinkId>{4 * 0 + 2, 4 * 1 + 3});
  CHECK(t.route(0, 1).bytes_per_s == 50e9);
  CHECK(t.route(0, 1).latency_ns == 5000);
}

TEST_CASE("models::Topology: cached routes re-target to the same links Dijkstra finds") {
  for (int seed = 0; seed < 20; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    const long long gpus = 2 + static_cast<long long>(rng() % 60);
    const int gpn = 1 + static_cast<int>(rng() % 8);
    const Topology cached(cluster(gpus, gpn));
    for (int i = 0; i < 100; ++i) {
      const long long a = static_cast<long long>(rng() % gpus), b = static_cast<long long>(rng() % gpus);
      if (a == b) continue;
      CAPTURE(a);
      CAPTURE(b);
      const Route r = cached.route(a, b);
      const Route fresh = Topology(cluster(gpus, gpn)).route(a, b);  // a fresh cache: Dijkstra on (a, b)
      CHECK(r.links == fresh.links);
      CHECK(r.latency_ns == fresh.latency_ns);
      CHECK(r.bytes_per_s == fresh.bytes_per_s);
      CHECK(r.latency_ns == (a / gpn == b / gpn ? 2000 : 5000));
    }
  }
}

TEST_CASE("models::Topology: ring neighbours use disjoint links") {
  for (long long gpus : {2LL, 5LL, 16LL, 37LL}) {
    CAPTURE(gpus);
    const Topology t(cluster(gpus, 4));
    std::set<LinkId> used;
    for (long long g = 0; g < gpus; ++g) {
      for (const LinkId l : t.route(g, (g + 1) % gpus).links) CHECK(used.insert(l).second);
    }
  }
}

TEST_CASE("models::Topology: bad routes and specs are rejected") {
  const Topology t(cluster(8));
  CHECK_THROWS_AS(t.route(2, 2), std::invalid_argument);
  CHECK_THROWS_AS(t.route(-1, 2), std::invalid_argument);
  CHECK_THROWS_AS(t.route(0, 8), std::invalid_argument);
  CHECK_THROWS_AS(Topology(cluster(0)), std::invalid_argument);
  CHECK_THROWS_AS(Topology(cluster(8, 0)), std::invalid_argument);
}

TEST_CASE("models::Topology: a 262,144-GPU ring builds and routes every neighbour") {
  const long long gpus = 262144;
  const Topology t(cluster(gpus));
  CHECK(t.link_count() == 4 * gpus);
  long long inter = 0;
  for (long long g = 0; g < gpus; ++g) {
    const Route r = t.route(g, (g + 1) % gpus);
    REQUIRE(r.links.size() == 2);
    inter += r.latency_ns == 5000;
  }
  CHECK(inter == gpus / 8);
  CHECK(t.route(gpus - 1, 0).links == std::vector<LinkId>{4 * (gpus - 1) + 2, 3});
}
