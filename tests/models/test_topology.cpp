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

TEST_CASE("models::Topology: a faster inter-node fabric wins even inside a node") {
  ClusterSpec c = cluster(16);
  c.inter_node = {900e9, 2000};  // same latency, faster: 1 MiB weight decides
  const Topology t(c);
  CHECK(t.route(0, 1).links == std::vector<LinkId>{2, 4 + 3});
  c.inter_node = {450e9, 2000};  // a perfect tie: deterministic, the NVSwitch edges come first
  const Topology tie(c);
  CHECK(tie.route(0, 1).links == tie.route(0, 1).links);
  CHECK(tie.route(0, 1).latency_ns == 2000);
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
