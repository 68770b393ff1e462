// tests/models: device profiles (shipped files, YAML validation, errors).
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "models/profile.hpp"
#include "tests/models/profile_fixtures.hpp"

using namespace ringsim;

namespace {
const char* const kMinimal = test::kMinimalProfile;
InputError error_of(const std::string& yaml, const std::string& prefix = "") { return test::profile_error(yaml, prefix); }
}  // namespace

TEST_CASE("models::profile: dtype and mask names round-trip") {
  for (DType t : {DType::kBf16, DType::kFp16, DType::kFp32}) CHECK(parse_dtype(dtype_name(t)) == t);
  for (MaskKind m : {MaskKind::kFull, MaskKind::kCausalDiagonal, MaskKind::kZigzagDiagonal}) {
    CHECK(parse_mask(mask_name(m)) == m);
  }
  CHECK(dtype_bytes(DType::kBf16) == 2);
  CHECK(dtype_bytes(DType::kFp32) == 4);
  CHECK_FALSE(parse_dtype("fp8"));
  CHECK_FALSE(parse_mask("diagonal"));
}

TEST_CASE("models::profile: every shipped profile loads and is sane") {
  const auto names = shipped_profile_names();
  REQUIRE(names.size() >= 3);
  for (const std::string& name : names) {
    CAPTURE(name);
    const DeviceProfile p = load_profile(name, "");
    CHECK(p.memory_bytes > p.reserved_memory_bytes);
    CHECK(p.hbm_bytes_per_s > 0);
    CHECK_FALSE(p.flops_per_s.empty());
    CHECK(p.origin.find(name + ".yaml") != std::string::npos);
  }
}

TEST_CASE("models::profile: the H100 datasheet profile carries the datasheet figures") {
  const DeviceProfile p = load_profile("h100-sxm-datasheet", "");
  CHECK(p.name == "h100-sxm-datasheet");
  CHECK_FALSE(p.measured);
  CHECK(p.memory_bytes == 80.0 * 1073741824.0);
  CHECK(p.hbm_bytes_per_s == doctest::Approx(3.35e12));
  CHECK(p.flops_per_s.at(DType::kBf16) == doctest::Approx(989.4e12));
  CHECK(p.flops_per_s.at(DType::kFp32) == doctest::Approx(66.9e12));
  CHECK(p.launch_overhead_s == 4e-6);
  CHECK(p.reserved_memory_bytes == 1073741824.0);
}

TEST_CASE("models::profile: the GTX 1080 has no bf16 rate; its fp16 runs on the FP32 pipes as PyTorch's does") {
  const DeviceProfile p = load_profile("gtx-1080", "");
  CHECK(p.flops_per_s.count(DType::kBf16) == 0);
  // 2560 cores x 1733 MHz x 2: PyTorch's fp16 GEMMs compute in fp32 (CUDA_R_32F), not at the 1/64 HFMA2 rate.
  CHECK(p.flops_per_s.at(DType::kFp16) == doctest::Approx(2560 * 1.733e9 * 2).epsilon(0.001));
  CHECK(p.flops_per_s.at(DType::kFp16) == p.flops_per_s.at(DType::kFp32));
  CHECK(p.attention_efficiency == doctest::Approx(0.59 * 0.43).epsilon(0.02));
  CHECK(p.hbm_bytes_per_s == 320e9);
  CHECK_FALSE(p.measured);
}

TEST_CASE("models::profile: datasheet profiles carry an efficiency from a calibrated card and name their kernel") {
  const DeviceProfile sheet = load_profile("h100-sxm-datasheet", "");
  const DeviceProfile measured = load_profile("h100-sxm", "");
  CHECK(sheet.kernel == measured.kernel);
  // 4096 x 4096 bf16 d128 32 heads on the calibrated H100, against the datasheet rate.
  for (const AttentionSample& a : measured.attention) {
    if (a.dtype != DType::kBf16 || a.head_dim != 128 || a.q_heads != 32 || a.mask != MaskKind::kFull ||
        a.q_tokens != 4096 || a.kv_tokens != 4096)
      continue;
    const double tflops = 4.0 * 4096 * 4096 * 128 * 32 / a.seconds;
    CHECK(sheet.attention_efficiency == doctest::Approx(tflops / sheet.flops_per_s.at(DType::kBf16)).epsilon(0.01));
  }
}

TEST_CASE("models::profile: unknown names list the shipped profiles; paths resolve against base_dir") {
  try {
    load_profile("a100-nonexistent", "");
    FAIL("no throw");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("h100-sxm") != std::string::npos);
    CHECK(std::string(e.what()).find("gtx-1080") != std::string::npos);
  }
  CHECK_THROWS_AS(load_profile("missing/dir/p.yaml", ""), InputError);

  const auto dir = std::filesystem::temp_directory_path() / "ringsim-test-profile";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "mine.yaml") << kMinimal;
  const DeviceProfile p = load_profile("mine.yaml", dir.string());
  CHECK(p.name == "test");
  CHECK(p.flops_per_s.at(DType::kFp16) == 100e12);

  std::ofstream(dir / "broken.yaml") << "name: x\nmemory: [1, 2\n";
  CHECK_THROWS_AS(load_profile("broken.yaml", dir.string()), InputError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("models::profile: quantities may be bare numbers or strings with units") {
  const DeviceProfile p = profile_from_yaml(YAML::Load(
      "name: x\nmemory: 1000\nhbm_bandwidth: 2e12\ntflops: {bf16: \"500 TFLOP/s\", fp32: 50}\n"
      "launch_overhead: 0.000003\nsource: measured\ncalibration: {date: 2026-11-26, cuda: \"13.0\"}\n"
      "attention:\n  - {dtype: bf16, head_dim: 128, q_heads: 8, kv_heads: 8, mask: causal,\n"
      "     q_tokens: 1024, kv_tokens: 2048, seconds: \"100 us\", tflops: 1.0}\n"
      "merge:\n  - {q_tokens: 1024, q_heads: 8, head_dim: 128, seconds: 0.00001}\n"),
      "p.yaml");
  CHECK(p.memory_bytes == 1000);
  CHECK(p.hbm_bytes_per_s == 2e12);
  CHECK(p.flops_per_s.at(DType::kBf16) == 500e12);
  CHECK(p.flops_per_s.at(DType::kFp32) == 50e12);
  CHECK(p.flops_per_s.count(DType::kFp16) == 0);
  CHECK(p.measured);
  CHECK(p.calibration.at("date") == "2026-11-26");
  REQUIRE(p.attention.size() == 1);
  CHECK(p.attention[0].mask == MaskKind::kCausalDiagonal);
  CHECK(p.attention[0].seconds == 100e-6);
  REQUIRE(p.merge.size() == 1);
  CHECK(p.merge[0].q_heads == 8);
}

TEST_CASE("models::profile: bad inputs name the line and key") {
  struct Case {
    std::string yaml;
    int line;
    std::string key;
  };
  const std::string m = kMinimal;
  const Case cases[] = {
      {m + "colour: red\n", 5, "colour"},
      {"name: x\nhbm_bandwidth: 1\ntflops: 1\n", 1, "memory"},
      {"name: x\nmemory: \"8 GiB/s\"\nhbm_bandwidth: 1\ntflops: 1\n", 2, "memory"},
      {"name: x\nmemory: -8\nhbm_bandwidth: 1\ntflops: 1\n", 2, "memory"},
      {"name: x\nmemory: 0\nhbm_bandwidth: 1\ntflops: 1\n", 2, "memory"},
      {"name: x\nmemory: 8\nhbm_bandwidth: \"50 GB\"\ntflops: 1\n", 3, "hbm_bandwidth"},
      {"name: x\nmemory: 8\nhbm_bandwidth: 1\ntflops: {bf16: 1, fp8: 2}\n", 4, "tflops.fp8"},
      {"name: x\nmemory: 8\nhbm_bandwidth: 1\ntflops: [1, 2]\n", 4, "tflops"},
      {"name: x\nmemory: 8\nhbm_bandwidth: 1\ntflops: {fp16: 0}\n", 4, "tflops.fp16"},
      {m + "source: guessed\n", 5, "source"},
      {m + "launch_overhead: \"4 GB\"\n", 5, "launch_overhead"},
      {m + "reserved_memory: \"32 GiB\"\n", 5, "reserved_memory"},
      {m + "calibration: [a]\n", 5, "calibration"},
      {m + "attention: {a: 1}\n", 5, "attention"},
      {m + "attention:\n  - {dtype: bf16, head_dim: 128, q_heads: 8, kv_heads: 8, mask: full,\n"
           "     q_tokens: 1024, kv_tokens: 1024, seconds: 0.001}\n"
           "  - {dtype: bf16, head_dim: 128, q_heads: 8, kv_heads: 8, mask: full,\n"
           "     q_tokens: 1024, kv_tokens: 1024}\n",
       8, "attention[1].seconds"},
      {m + "attention:\n  - {dtype: bf16, head_dim: 128, q_heads: 8, kv_heads: 8, mask: sideways,\n"
           "     q_tokens: 1024, kv_tokens: 1024, seconds: 0.001}\n",
       6, "attention[0].mask"},
      {m + "attention:\n  - {dtype: bf16, head_dim: 12.5, q_heads: 8, kv_heads: 8, mask: full,\n"
           "     q_tokens: 1024, kv_tokens: 1024, seconds: 0.001}\n",
       6, "attention[0].head_dim"},
      {m + "attention:\n  - {dtype: bf16, head_dim: 128, q_heads: 8, kv_heads: 8, mask: full,\n"
           "     q_tokens: 0, kv_tokens: 1024, seconds: 0.001}\n",
       7, "attention[0].q_tokens"},
      {m + "attention:\n  - {dtype: bf16, head_dim: 128, q_heads: 8, kv_heads: 8, mask: full, bogus: 1,\n"
           "     q_tokens: 1, kv_tokens: 1024, seconds: 0.001}\n",
       6, "attention[0].bogus"},
      {m + "merge:\n  - {q_tokens: 1024, q_heads: 8, head_dim: 128, seconds: \"-1 us\"}\n", 6, "merge[0].seconds"},
      {"- just\n- a list\n", 1, ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.yaml);
    const InputError e = error_of(c.yaml);
    CHECK(e.file == "p.yaml");
    CHECK(e.line == c.line);
    CHECK(e.key == c.key);
  }
}

TEST_CASE("models::profile: an inline device map reports keys under its prefix") {
  const InputError e = error_of("name: x\nmemory: 8\nhbm_bandwidth: 1\ntflops: \"fast\"\n", "cluster.device");
  CHECK(e.key == "cluster.device.tflops");
  CHECK(e.line == 4);
  const InputError e2 = error_of(std::string(kMinimal) +
                                     "attention:\n  - {dtype: bf16, head_dim: 128, q_heads: 8, kv_heads: 8, mask: full,\n"
                                     "     q_tokens: 1024, kv_tokens: 1024, seconds: nope}\n",
                                 "cluster.device");
  CHECK(e2.key == "cluster.device.attention[0].seconds");
  const DeviceProfile p = profile_from_yaml(YAML::Load(kMinimal), "s.yaml", "cluster.device");
  CHECK(p.origin == "inline");
}

TEST_CASE("models::profile: interference samples per block shape are read and checked") {
  const std::string m = kMinimal;
  const DeviceProfile p = profile_from_yaml(YAML::Load(
      m + "link_compute_share: 0.1\n"
          "interference:\n"
          "  - {kind: link, dtype: bf16, head_dim: 128, q_heads: 32, kv_heads: 8, mask: causal,\n"
          "     q_tokens: 2048, kv_tokens: 2048, bytes: \"8 MiB\", share: 0.29}\n"
          "  - {kind: copy, dtype: bf16, head_dim: 128, q_heads: 32, kv_heads: 8, mask: full,\n"
          "     q_tokens: 4096, kv_tokens: 2048, bytes: 16777216, share: 0}\n"),
      "p.yaml");
  CHECK(p.link_compute_share == 0.1);
  REQUIRE(p.interference.size() == 2);
  CHECK(p.interference[0].kind == TransferKind::kLink);
  CHECK(p.interference[0].mask == MaskKind::kCausalDiagonal);
  CHECK(p.interference[0].kv_heads == 8);
  CHECK(p.interference[0].bytes == 8.0 * 1024 * 1024);
  CHECK(p.interference[0].share == 0.29);
  CHECK(p.interference[1].kind == TransferKind::kCopy);
  CHECK(p.interference[1].q_tokens == 4096);
  CHECK(has_interference(p));
  CHECK_FALSE(has_interference(profile_from_yaml(YAML::Load(m), "p.yaml")));
  for (TransferKind k : {TransferKind::kLink, TransferKind::kCopy}) CHECK(parse_transfer_kind(transfer_kind_name(k)) == k);

  struct Case {
    std::string fields;  // replaces "share: 0.5" in a good sample (on its second line)
    int line;
    std::string key;
  };
  const Case cases[] = {
      {"share: 1.5", 7, "interference[0].share"},
      {"share: -0.1", 7, "interference[0].share"},
      {"share: lots", 7, "interference[0].share"},
      {"kind: nvlink, share: 0.5", 7, "interference[0].kind"},
      {"share: 0.5, speed: 3", 7, "interference[0].speed"},
  };
  for (const Case& c : cases) {
    std::string sample = "  - {kind: link, dtype: bf16, head_dim: 128, q_heads: 32, kv_heads: 8, mask: full,\n"
                         "     q_tokens: 2048, kv_tokens: 2048, bytes: \"8 MiB\", share: 0.5}\n";
    sample.replace(sample.find("share: 0.5"), 10, c.fields);
    if (c.fields.rfind("kind:", 0) == 0) sample.replace(sample.find("kind: link, "), 12, "");
    CAPTURE(sample);
    const InputError e = error_of(m + "interference:\n" + sample);
    CHECK(e.file == "p.yaml");
    CHECK(e.line == c.line);
    CHECK(e.key == c.key);
  }
  // A sample without its message size.
  const InputError e = error_of(m + "interference:\n  - {kind: link, dtype: bf16, head_dim: 128, q_heads: 32,\n"
                                    "     kv_heads: 8, mask: full, q_tokens: 2048, kv_tokens: 2048, share: 0.5}\n");
  CHECK(e.key == "interference[0].bytes");
  CHECK(e.line == 6);
}
