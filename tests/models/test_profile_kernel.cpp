// tests/models: the profile keys of issue 9 (kernel, sm_count, tile,
// attention_efficiency, per-sample spread/suspect/reason, step_overhead,
// link_under_compute): read, and refused with file, line and key.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "models/profile.hpp"
#include "tests/models/profile_fixtures.hpp"

using namespace ringsim;

namespace {

const std::string kMinimal = test::kMinimalProfile;

const std::string kSample =
    "  - {dtype: bf16, head_dim: 128, q_heads: 32, kv_heads: 8, mask: full, q_tokens: 4096, kv_tokens: 4096,\n"
    "     REST}\n";

std::string with(std::string text, const std::string& what) {
  text.replace(text.find("REST"), 4, what);
  return text;
}

InputError error_of(const std::string& yaml) { return test::profile_error(yaml); }

}  // namespace

TEST_CASE("models::profile: kernel, SM count, tile and attention efficiency are read") {
  const DeviceProfile p = profile_from_yaml(
      YAML::Load(kMinimal + "kernel: pytorch-sdpa-cudnn\nsm_count: 132\n"
                            "tile: {block_m: 128, block_n: 64, ctas_per_sm: 2}\nattention_efficiency: 0.34\n"),
      "p.yaml");
  CHECK(p.kernel == "pytorch-sdpa-cudnn");
  CHECK(p.sm_count == 132);
  CHECK(p.tile.block_m == 128);
  CHECK(p.tile.block_n == 64);
  CHECK(p.tile.ctas_per_sm == 2);
  CHECK(p.attention_efficiency == 0.34);
  const DeviceProfile bare = profile_from_yaml(YAML::Load(kMinimal), "p.yaml");
  CHECK(bare.kernel.empty());
  CHECK(bare.sm_count == 0);
  CHECK(bare.tile.block_m == 0);
  CHECK(bare.attention_efficiency == 1.0);
}

TEST_CASE("models::profile: sample spread and suspect flags are read; a flag needs its reason") {
  const DeviceProfile p = profile_from_yaml(
      YAML::Load(kMinimal + "attention:\n" + with(kSample, "seconds: 0.001, spread: 0.02") +
                 with(kSample, "seconds: 0.002, suspect: true, reason: \"rate dips\"")),
      "p.yaml");
  REQUIRE(p.attention.size() == 2);
  CHECK(p.attention[0].spread == 0.02);
  CHECK_FALSE(p.attention[0].suspect);
  CHECK(p.attention[1].suspect);
  CHECK(p.attention[1].reason == "rate dips");
}

TEST_CASE("models::profile: step_overhead and link_under_compute samples are read") {
  const DeviceProfile p = profile_from_yaml(
      YAML::Load(kMinimal + "step_overhead:\n" + with(kSample, "transport: nccl, messages: 2, bytes: \"8 MiB\", seconds: \"6 us\"") +
                 "link_under_compute:\n" + with(kSample, "transport: copy, bytes: 4096, factor: 0.8")),
      "p.yaml");
  REQUIRE(p.step_overhead.size() == 1);
  const StepOverheadSample& s = p.step_overhead[0];
  CHECK(s.transport == StepTransport::kNccl);
  CHECK(s.messages == 2);
  CHECK(s.bytes == 8.0 * 1024 * 1024);
  CHECK(s.q_heads == 32);
  CHECK(s.kv_heads == 8);
  CHECK(s.seconds == doctest::Approx(6e-6));
  REQUIRE(p.link_under_compute.size() == 1);
  CHECK(p.link_under_compute[0].transport == StepTransport::kCopy);
  CHECK(p.link_under_compute[0].bytes == 4096);
  CHECK(p.link_under_compute[0].factor == 0.8);
  for (StepTransport t : {StepTransport::kNccl, StepTransport::kCopy}) CHECK(parse_step_transport(step_transport_name(t)) == t);
}

TEST_CASE("models::profile: bad kernel facts and step samples name the line and key") {
  struct Case {
    std::string yaml;
    int line;
    std::string key;
  };
  const std::string step = "step_overhead:\n";
  const std::string link = "link_under_compute:\n";
  const Case cases[] = {
      {kMinimal + "sm_count: 0\n", 5, "sm_count"},
      {kMinimal + "tile: {block_m: 128, block_n: 64}\n", 5, "tile.ctas_per_sm"},
      {kMinimal + "tile: {block_m: 0, block_n: 64, ctas_per_sm: 2}\n", 5, "tile.block_m"},
      {kMinimal + "tile: {block_m: 128, block_n: 64, ctas_per_sm: 2, warps: 4}\n", 5, "tile.warps"},
      {kMinimal + "attention_efficiency: 1.5\n", 5, "attention_efficiency"},
      {kMinimal + "attention_efficiency: 0\n", 5, "attention_efficiency"},
      {kMinimal + "kernel: [a, b]\n", 5, "kernel"},
      {kMinimal + "attention:\n" + with(kSample, "seconds: 0.001, suspect: true"), 7, "attention[0].reason"},
      {kMinimal + "attention:\n" + with(kSample, "seconds: 0.001, suspect: maybe"), 7, "attention[0].suspect"},
      {kMinimal + step + with(kSample, "transport: ucx, messages: 1, bytes: 1, seconds: 0"), 7, "step_overhead[0].transport"},
      {kMinimal + step + with(kSample, "transport: nccl, messages: 3, bytes: 1, seconds: 0"), 7, "step_overhead[0].messages"},
      {kMinimal + step + with(kSample, "transport: nccl, messages: 1, bytes: 1"), 6, "step_overhead[0].seconds"},
      {kMinimal + step + with(kSample, "transport: nccl, messages: 1, bytes: 0, seconds: 0"), 7, "step_overhead[0].bytes"},
      {kMinimal + link + with(kSample, "transport: nccl, bytes: 1, factor: 0"), 7, "link_under_compute[0].factor"},
      {kMinimal + link + with(kSample, "transport: nccl, bytes: 1, factor: 1.2"), 7, "link_under_compute[0].factor"},
      {kMinimal + link + with(kSample, "transport: nccl, bytes: 1, factor: 0.9, messages: 1"), 7,
       "link_under_compute[0].messages"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.yaml);
    const InputError e = error_of(c.yaml);
    CHECK(e.file == "p.yaml");
    CHECK(e.line == c.line);
    CHECK(e.key == c.key);
  }
}
