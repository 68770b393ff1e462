// tests/models: the profile's `backward:` samples (measured block backwards,
// written by ringsim calibrate; same fields as `attention:`).
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include "models/profile.hpp"

using namespace ringsim;

TEST_CASE("models::profile: backward samples are read like attention samples, errors name their key") {
  const std::string head = "name: x\nmemory: 8\nhbm_bandwidth: 1\ntflops: 1\n";
  const DeviceProfile p = profile_from_yaml(YAML::Load(
      head + "backward:\n  - {dtype: fp16, head_dim: 64, q_heads: 32, kv_heads: 8, mask: zigzag_diagonal,\n"
             "     q_tokens: 2048, kv_tokens: 2048, seconds: \"1.5 ms\", tflops: 120.0}\n"), "p.yaml");
  REQUIRE(p.backward.size() == 1);
  CHECK(p.attention.empty());
  CHECK(p.backward[0].dtype == DType::kFp16);
  CHECK(p.backward[0].head_dim == 64);
  CHECK(p.backward[0].kv_heads == 8);
  CHECK(p.backward[0].mask == MaskKind::kZigzagDiagonal);
  CHECK(p.backward[0].q_tokens == 2048);
  CHECK(p.backward[0].seconds == doctest::Approx(1.5e-3));
  try {
    profile_from_yaml(YAML::Load(head + "backward:\n  - {dtype: bf16, head_dim: 128, q_heads: 8, kv_heads: 8,\n"
                                        "     mask: full, q_tokens: 1024, kv_tokens: 1024}\n"), "p.yaml");
    FAIL("a backward sample without seconds was accepted");
  } catch (const InputError& e) {
    CHECK(e.key == "backward[0].seconds");
    CHECK(e.line == 6);
  }
}
