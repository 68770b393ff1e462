// tests/models: a profile written by write_profile_yaml reads back (through
// the independent reader, profile_from_yaml) with every field it set, to the
// digits the writer keeps.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <sstream>

#include "models/profile_writer.hpp"
#include "tests/models/profile_fixtures.hpp"

using namespace ringsim;
using ringsim::test::full_profile;

TEST_CASE("models::write_profile_yaml: every field reads back through profile_from_yaml") {
  const DeviceProfile p = full_profile();
  std::ostringstream text;
  write_profile_yaml(text, p, {"Measured by a test.", "Second line."});
  CAPTURE(text.str());
  CHECK(text.str().rfind("# Measured by a test.\n# Second line.\n", 0) == 0);
  const DeviceProfile r = profile_from_yaml(YAML::Load(text.str()), "w.yaml");
  CHECK(r.name == p.name);
  CHECK(r.card == p.card);
  CHECK(r.measured);
  CHECK(r.calibration == p.calibration);
  CHECK(r.kernel == p.kernel);
  CHECK(r.sm_count == 132);
  CHECK(r.tile.block_m == 128);
  CHECK(r.tile.block_n == 64);
  CHECK(r.tile.ctas_per_sm == 2);
  CHECK(r.attention_efficiency == 0.5);
  CHECK(r.memory_bytes == doctest::Approx(p.memory_bytes).epsilon(1e-4));
  CHECK(r.hbm_bytes_per_s == doctest::Approx(3.35e12));
  CHECK(r.copy_bytes_per_s == doctest::Approx(2.99e12));
  CHECK(r.copy_latency_s == doctest::Approx(5e-6));
  CHECK(r.copy_compute_share == 0.3);
  CHECK(r.link_compute_share == 0.25);
  CHECK(r.flops_per_s.at(DType::kBf16) == doctest::Approx(780.2e12));
  CHECK(r.flops_per_s.at(DType::kFp32) == doctest::Approx(51.3e12));
  CHECK(r.flops_per_s.count(DType::kFp16) == 0);
  CHECK(r.launch_overhead_s == doctest::Approx(3.14e-6));
  CHECK(r.reserved_memory_bytes == doctest::Approx(p.reserved_memory_bytes).epsilon(1e-3));
  REQUIRE(r.attention.size() == 2);
  CHECK(r.attention[0].mask == MaskKind::kZigzagDiagonal);
  CHECK(r.attention[0].dtype == DType::kFp16);
  CHECK(r.attention[0].seconds == doctest::Approx(1.6192e-05));
  CHECK_FALSE(r.attention[0].suspect);
  CHECK(r.attention[1].q_tokens == 16384);
  CHECK(r.attention[1].kv_tokens == 8192);
  CHECK(r.attention[1].seconds == doctest::Approx(0.00696925));
  CHECK(r.attention[1].spread == doctest::Approx(0.0123));
  CHECK(r.attention[1].suspect);
  CHECK(r.attention[1].reason == p.attention[1].reason);
  REQUIRE(r.backward.size() == 1);
  CHECK(r.backward[0].kv_heads == 8);
  CHECK(r.backward[0].mask == MaskKind::kCausalDiagonal);
  CHECK(r.backward[0].seconds == doctest::Approx(0.0012));
  // The backward's derived rate counts 2.5x the forward's flops (halved on the diagonal).
  CHECK(text.str().find(fmt::format("tflops: {:.1f}", 2.5 * 4.0 * 4096 * 4096 * 128 * 32 / 2 / 0.0012 * 1e-12)) !=
        std::string::npos);
  REQUIRE(r.merge.size() == 1);
  CHECK(r.merge[0].seconds == doctest::Approx(7.2864e-05));
  REQUIRE(r.interference.size() == 1);
  CHECK(r.interference[0].mask == MaskKind::kCausalDiagonal);
  CHECK(r.interference[0].share == 0.29);
  REQUIRE(r.step_overhead.size() == 1);
  CHECK(r.step_overhead[0].transport == StepTransport::kNccl);
  CHECK(r.step_overhead[0].messages == 2);
  CHECK(r.step_overhead[0].bytes == 33554432);
  CHECK(r.step_overhead[0].seconds == doctest::Approx(6.25e-6));
  REQUIRE(r.link_under_compute.size() == 1);
  CHECK(r.link_under_compute[0].transport == StepTransport::kCopy);
  CHECK(r.link_under_compute[0].factor == 0.8125);
}

TEST_CASE("models::write_profile_yaml: a datasheet profile writes only what it sets") {
  DeviceProfile p;
  p.name = "sheet";
  p.memory_bytes = 8.0 * 1024 * 1024 * 1024;
  p.hbm_bytes_per_s = 320e9;
  p.flops_per_s = {{DType::kFp16, 8.873e12}};
  std::ostringstream text;
  write_profile_yaml(text, p, {});
  for (const char* absent : {"attention", "merge", "kernel", "tile", "step_overhead", "copy_bandwidth", "attention_efficiency"})
    CHECK(text.str().find(absent) == std::string::npos);
  const DeviceProfile r = profile_from_yaml(YAML::Load(text.str()), "w.yaml");
  CHECK_FALSE(r.measured);
  CHECK(r.flops_per_s.at(DType::kFp16) == doctest::Approx(8.873e12).epsilon(1e-3));
}
