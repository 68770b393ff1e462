// tests/models: transports (named link profiles), their rate curve, the
// per-flow cap and how routes carry them. Expected rates are the figures the
// profiles quote (issue 9: 27 / 64 / 124 / 259 GB/s at 4 / 16 / 64 / 256 MiB)
// and closed forms of the documented rules.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <limits>

#include "models/topology.hpp"
#include "models/input_error.hpp"
#include "models/transport.hpp"

using namespace ringsim;

namespace {

constexpr double kMiB = 1024.0 * 1024;

InputError error_of(const std::string& yaml) {
  try {
    transport_from_yaml(YAML::Load(yaml), "l.yaml");
  } catch (const InputError& e) {
    return e;
  }
  FAIL("no InputError for:\n" << yaml);
  return InputError("", 0, "", "");
}

}  // namespace

TEST_CASE("models::transport: the shipped batch_isend_irecv profile reproduces the quoted rates") {
  const TransportProfile t = load_transport("torch-batch-isend-irecv-h200", "");
  CHECK(t.api == "torch-batch-isend-irecv");
  CHECK_FALSE(t.measured);  // reported figures until transport_bench.py re-measures them
  const double quoted[][2] = {{4, 27e9}, {16, 64e9}, {64, 124e9}, {256, 259e9}};
  for (const auto& [mib, rate] : quoted) {
    CAPTURE(mib);
    CHECK(effective_bytes_per_s(t, mib * kMiB) == doctest::Approx(rate).epsilon(1e-9));
  }
  // Between samples the rate is linear in log bytes: 8 MiB is halfway from 4 to 16.
  CHECK(effective_bytes_per_s(t, 8 * kMiB) == doctest::Approx((27e9 + 64e9) / 2).epsilon(1e-9));
  // Above the largest it saturates.
  CHECK(effective_bytes_per_s(t, 4096 * kMiB) == doctest::Approx(259e9).epsilon(1e-9));
  // Below the smallest: down the line through 4 and 16 MiB to its fixed part.
  const double t4 = 4 * kMiB / 27e9, t16 = 16 * kMiB / 64e9;
  const double fixed = t4 - (t16 - t4) / 3;  // ~119 us
  CHECK(transport_seconds(t, 1 * kMiB) == doctest::Approx(fixed + (t4 - fixed) / 4).epsilon(1e-9));
  CHECK(fixed > 100e-6);
  for (const std::string& name : shipped_transport_names()) CHECK_NOTHROW(load_transport(name, ""));
  CHECK(shipped_transport_names().size() >= 3);
}

TEST_CASE("models::transport: a bandwidth and a latency alone give latency + bytes / bandwidth") {
  const TransportProfile t = load_transport("nccl-send-recv-h200", "");
  for (double mib : {0.004, 1.0, 64.0, 1024.0}) {
    CAPTURE(mib);
    CHECK(transport_seconds(t, mib * kMiB) == doctest::Approx(10e-6 + mib * kMiB / 376e9).epsilon(1e-12));
  }
  CHECK(effective_bytes_per_s(t, 4096 * kMiB) == doctest::Approx(376e9).epsilon(0.001));
}

TEST_CASE("models::transport: the flow cap plus the latency gives the transport's step time") {
  for (const std::string& name : shipped_transport_names()) {
    CAPTURE(name);
    const TransportProfile t = load_transport(name, "");
    for (double mib : {0.5, 4.0, 10.0, 256.0, 2048.0}) {
      CAPTURE(mib);
      const double b = mib * kMiB;
      const double cap = transport_rate_cap(t, b);
      CHECK(t.latency_s + b / cap == doctest::Approx(transport_seconds(t, b)).epsilon(1e-12));
      CHECK(cap >= effective_bytes_per_s(t, b));
    }
  }
  TransportProfile all_latency;
  all_latency.latency_s = 1e-3;
  all_latency.bandwidth_bytes_per_s = 1e12;
  CHECK(transport_rate_cap(all_latency, 1e6) == doctest::Approx(1e12));
}

TEST_CASE("models::Topology: routes carry their fabric's transport; the flow cap follows it") {
  ClusterSpec c;
  c.gpus = 16;
  c.gpus_per_node = 8;
  c.intra_node = {450e9, 2000, std::make_shared<const TransportProfile>(load_transport("torch-batch-isend-irecv-h200", ""))};
  c.inter_node = {50e9, 5000};
  const Topology t(c);
  for (int pass = 0; pass < 2; ++pass) {  // the second pass reads the route cache
    CAPTURE(pass);
    const Route intra = t.route(2, 3), inter = t.route(7, 8);
    REQUIRE(intra.transport != nullptr);
    CHECK(intra.transport->name == "torch-batch-isend-irecv-h200");
    CHECK(inter.transport == nullptr);
    CHECK(flow_rate_cap_bytes_per_s(intra, 16 * kMiB) == doctest::Approx(64e9).epsilon(1e-9));
    CHECK(std::isinf(flow_rate_cap_bytes_per_s(inter, 16 * kMiB)));
  }
}

TEST_CASE("models::transport: bad link profiles and names are refused with file, line and key") {
  struct Case {
    std::string yaml;
    int line;
    std::string key;
  };
  const std::string head = "name: t\napi: nccl-send-recv\n";
  const Case cases[] = {
      {head + "bandwidth: \"1 TB/s\"\ncolour: red\n", 4, "colour"},
      {head + "latency: 1\n", 1, "samples"},
      {head + "bandwidth: \"1 TB\"\n", 3, "bandwidth"},
      {head + "bandwidth: 1\nsource: guessed\n", 4, "source"},
      {head + "samples:\n  - {bytes: 2048, bytes_per_s: 1e9}\n  - {bytes: 1024, bytes_per_s: 2e9}\n", 5, "samples[1].bytes"},
      {head + "samples:\n  - {bytes: 2048, rate: 1e9}\n", 4, "samples[0].rate"},
      {"api: x\nbandwidth: 1\n", 1, "name"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.yaml);
    const InputError e = error_of(c.yaml);
    CHECK(e.file == "l.yaml");
    CHECK(e.line == c.line);
    CHECK(e.key == c.key);
  }
  try {
    load_transport("infiniband-magic", "");
    FAIL("no throw");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("torch-batch-isend-irecv-h200") != std::string::npos);
  }
}

TEST_CASE("models::transport: a scenario's link map names its transport, or errors under its key") {
  const YAML::Node with = YAML::Load("intra_node: {bandwidth: \"450 GB/s\", latency: \"2 us\",\n"
                                     "             transport: nccl-send-recv-h200}\n");
  const auto t = read_link_transport(with["intra_node"], "s.yaml", "cluster.intra_node", "");
  REQUIRE(t != nullptr);
  CHECK(t->bandwidth_bytes_per_s == 376e9);
  CHECK(read_link_transport(YAML::Load("{bandwidth: 1, latency: 0}"), "s.yaml", "cluster.inter_node", "") == nullptr);
  const YAML::Node bad = YAML::Load("intra_node:\n  bandwidth: 1\n  transport: carrier-pigeon\n");
  try {
    read_link_transport(bad["intra_node"], "s.yaml", "cluster.intra_node", "");
    FAIL("no throw");
  } catch (const InputError& e) {
    CHECK(e.file == "s.yaml");
    CHECK(e.line == 3);
    CHECK(e.key == "cluster.intra_node.transport");
    CHECK(std::string(e.what()).find("unknown transport") != std::string::npos);
  }
}

TEST_CASE("models::flow cap: all-to-all messages split the collective's bus bandwidth over the peers") {
  // Bus bandwidth B per rank at B_rank = (peers + 1) m: the collective takes
  // T = (latency + B_rank / B) peers / (peers + 1); each of the peers
  // messages moves in parallel at m / (T - latency).
  auto a2a = std::make_shared<TransportProfile>();
  a2a->name = "test-a2a";
  a2a->pattern = "all-to-all";
  a2a->bandwidth_bytes_per_s = 120e9;
  ClusterSpec c;
  c.gpus = 4;
  c.gpus_per_node = 4;
  c.intra_node = {450e9, 0, nullptr, a2a};
  c.inter_node = {50e9, 0};
  const Topology topo(c);
  const Route r = topo.route(0, 1);
  const double m = 8 * kMiB;
  CHECK(flow_rate_cap_bytes_per_s(r, m, 3) == doctest::Approx(40e9).epsilon(1e-12));  // B / peers
  CHECK(std::isinf(flow_rate_cap_bytes_per_s(r, m)));  // point to point: no transport on the link
  a2a->latency_s = 10e-6;
  const double t = (10e-6 + 4 * m / 120e9) * 3 / 4;
  CHECK(flow_rate_cap_bytes_per_s(r, m, 3) == doctest::Approx(m / (t - 10e-6)).epsilon(1e-12));
}
