// `ringsim run` with the model around attention (model.layers, parallel.*):
// a step's time against the roofline closed form worked out here, the memory
// breakdown adding up to the reported peak, GPUs = ring x tensor, and bad
// model/parallel keys naming file, line and key.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "tool_fixtures.hpp"

namespace ringsim::test {

namespace {

// A roofline device (no samples, no launch overhead): every time has a closed form.
const char* const kModelScenario =
    "name: model-tiny\n"                                                                              // 1
    "model: {q_heads: 4, kv_heads: 2, head_dim: 64, dtype: bf16, layers: 3, hidden: 2048, ffn_hidden: 8192}\n"  // 2
    "parallel: {tensor: 2}\n"                                                                         // 3
    "attention: {causal: false}\n"                                                                    // 4
    "sequence: {tokens: 4096, ring_size: 1}\n"                                                        // 5
    "cluster:\n"                                                                                      // 6
    "  device: {name: roof, memory: \"80 GiB\", hbm_bandwidth: \"3 TB/s\", tflops: 1000,\n"           // 7
    "           attention_efficiency: 0.25, gemm_efficiency: 0.5, reserved_memory: \"1 GiB\"}\n"   // 8
    "  gpus_per_node: 2\n"                                                                            // 9
    "  intra_node: {bandwidth: \"100 GB/s\", latency: \"1 us\"}\n"                                    // 10
    "  inter_node: {bandwidth: \"50 GB/s\", latency: \"5 us\"}\n";                                    // 11

double gemm_roofline(double m, double n, double k) {
  return std::max(2 * m * n * k / 500e12, 2 * (m * k + k * n + m * n) / 3e12);
}

nlohmann::json run_json(const std::string& path) {
  const CliResult r = cli({"run", path, "--format", "json", "--quiet"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  return nlohmann::json::parse(r.out);
}

}  // namespace

TEST_CASE("a step of a small model on a roofline device: the closed form") {
  TempDir dir;
  const nlohmann::json j = run_json(dir.write("m.yaml", kModelScenario));
  const nlohmann::json& p = j["points"][0];
  // One GPU of the tensor pair: 2 q heads, 1 kv head. Attention: one 4096 x 4096 block,
  // 4 q kv d heads flops at 25% of 1000 TFLOP/s (its bytes take 1.4 us, under that).
  const double attention = 4.0 * 4096 * 4096 * 64 * 2 / 250e12;
  const double gemms = gemm_roofline(4096, 8 * 64 / 2, 2048) + gemm_roofline(4096, 2048, 4 * 64 / 2) +
                       gemm_roofline(4096, 2 * 8192 / 2, 2048) + gemm_roofline(4096, 2048, 8192 / 2);
  // Four collectives of 4096 x 2048 x 2 bytes over 2 GPUs: one ring step of half of it each.
  const double tp = 4 * (1e-6 + 4096.0 * 2048 * 2 / 2 / 100e9);
  CHECK(p["model"]["attention_seconds_per_layer"].get<double>() == doctest::Approx(attention).epsilon(1e-6));
  CHECK(p["model"]["gemm_seconds_per_layer"].get<double>() == doctest::Approx(gemms).epsilon(1e-9));
  CHECK(p["model"]["tp_comm_seconds_per_layer"].get<double>() == doctest::Approx(tp).epsilon(1e-6));
  CHECK(p["simulated_seconds"].get<double>() == doctest::Approx(3 * (attention + gemms + tp)).epsilon(1e-6));
  CHECK(p["gpus"] == 2);
  CHECK(p["scope"] == "step");
  CHECK(p["label"] == "estimated");  // roofline
  CHECK(contains(j["header"]["what"].get<std::string>(), "per step (3 layers"));
}

TEST_CASE("training: backward GEMMs, collectives per pass, recompute with activation checkpointing") {
  TempDir dir;
  const auto gemms_of = [](bool backward) {
    // (m, n, k) of qkv, out, up, down on one GPU of the pair; a backward runs m x k x n and k x n x m.
    const double shapes[4][3] = {{4096, 256, 2048}, {4096, 2048, 128}, {4096, 8192, 2048}, {4096, 2048, 4096}};
    double sum = 0;
    for (const auto& g : shapes)
      sum += backward ? gemm_roofline(g[0], g[2], g[1]) + gemm_roofline(g[2], g[1], g[0]) : gemm_roofline(g[0], g[1], g[2]);
    return sum;
  };
  const double collective = 1e-6 + 4096.0 * 2048 * 2 / 2 / 100e9;
  for (const bool checkpointing : {false, true}) {
    CAPTURE(checkpointing);
    const std::string text = replace_line(replace_line(kModelScenario, 4, "attention: {causal: false, pass: training}"), 3,
                                          checkpointing ? "parallel: {tensor: 2, activation_checkpointing: true}"
                                                        : "parallel: {tensor: 2}");
    const nlohmann::json p = run_json(dir.write("t.yaml", text))["points"][0];
    const double forward = p["forward_seconds"], backward = p["backward_seconds"];
    const double attention = forward + backward + (checkpointing ? forward : 0);
    const double gemms = gemms_of(true) + gemms_of(false) * (checkpointing ? 2 : 1);
    const double tp = (checkpointing ? 12 : 8) * collective;
    CHECK(p["model"]["attention_seconds_per_layer"].get<double>() == doctest::Approx(attention).epsilon(1e-9));
    CHECK(p["model"]["gemm_seconds_per_layer"].get<double>() == doctest::Approx(gemms).epsilon(1e-9));
    CHECK(p["model"]["tp_comm_seconds_per_layer"].get<double>() == doctest::Approx(tp).epsilon(1e-6));
    CHECK(p["simulated_seconds"].get<double>() == doctest::Approx(3 * (attention + gemms + tp)).epsilon(1e-6));
    CHECK(p["model"]["memory_bytes"]["optimizer"].get<double>() > 0);
    CHECK(p["model"]["memory_bytes"]["kv_cache"].get<double>() == 0);
  }
}

TEST_CASE("the memory breakdown adds up to the peak, in JSON and CSV") {
  TempDir dir;
  const std::string path =
      dir.write("m.yaml", replace_line(kModelScenario, 5, "sequence: {tokens: 65536, ring_size: 4}\nsweep: [{ring_size: 1}, {ring_size: 4}]"));
  const nlohmann::json j = run_json(path);
  for (const nlohmann::json& p : j["points"]) {
    double sum = 0;
    for (const auto& [name, bytes] : p["model"]["memory_bytes"].items()) sum += bytes.get<double>();
    CHECK(sum == doctest::Approx(p["peak_memory_bytes_per_device"].get<double>()).epsilon(1e-12));
    CHECK(p["model"]["memory_bytes"]["kv_cache"].get<double>() > 0);
  }
  const CliResult csv = cli({"run", path, "--format", "csv", "--quiet"});
  REQUIRE(csv.rc == 0);
  CHECK(contains(csv.out, ",scope,layers,tensor_parallel,"));
  CHECK(count(csv.out, ",step,3,2,") == 2);
}

TEST_CASE("without model.layers a row is one attention layer, and says so") {
  TempDir dir;
  const std::string path = dir.write("a.yaml", replace_line(replace_line(kModelScenario, 2,
      "model: {q_heads: 4, kv_heads: 2, head_dim: 64, dtype: bf16}"), 3, ""));
  const CliResult r = cli({"run", path, "--quiet"});
  REQUIRE(r.rc == 0);
  CHECK(contains(r.out, "per layer (one attention layer; model.layers unset)"));
}

TEST_CASE("bad model and parallel keys name file, line and key") {
  TempDir dir;
  const auto error_of = [&](int line, const std::string& text) {
    const CliResult r = cli({"run", dir.write("bad.yaml", replace_line(kModelScenario, line, text)), "--quiet"});
    CHECK(r.rc == 2);
    return r.err;
  };
  CHECK(contains(error_of(2, "model: {q_heads: 4, kv_heads: 2, head_dim: 64, dtype: bf16, hidden: 2048}"),
                 "bad.yaml:2: model.hidden: needs model.layers"));
  CHECK(contains(error_of(2, "model: {q_heads: 4, kv_heads: 2, head_dim: 64, dtype: bf16, layers: 3, hidden: 8}"),
                 "model.ffn_hidden: missing (required with model.layers)"));
  CHECK(contains(error_of(3, "parallel: {tensor: 4}"), "bad.yaml:3: parallel.tensor: 4 does not divide cluster.gpus_per_node 2"));
  CHECK(contains(error_of(3, "parallel: {zero: 4}"), "bad.yaml:3: parallel.zero: 4 is larger than the maximum 3"));
  CHECK(contains(error_of(3, "parallel: {tensr: 2}"), "parallel.tensr: unknown key; did you mean 'tensor'?"));
  CHECK(contains(error_of(2, "model: {q_heads: 4, kv_heads: 2, head_dim: 64, dtype: bf16}"),
                 "bad.yaml:3: parallel: needs model.layers"));
}

}  // namespace ringsim::test

namespace ringsim::test {

TEST_CASE("plan: the fewest GPUs that fit, worked out by hand") {
  // 1000 layers of (1024 x 24 x 128 + 8 x 128 x 1024 + 3 x 1024 x 4096 + 2 x 1024) = 16,779,264 parameters,
  // plus the final norm: 16,779,265,024 in bf16 = 33.6 GB, over 20 GiB (21.5 GB) on one GPU; with tensor 2,
  // 16.8 GB of weights + a KV cache of 1000 x 1024 x (2 x 8 x 128 x 2) / 2 = 2.1 GB + one layer's activations fit.
  TempDir dir;
  const std::string path = dir.write("p.yaml",
      "name: plan-tiny\n"
      "model: {q_heads: 8, kv_heads: 8, head_dim: 128, dtype: bf16, layers: 1000, hidden: 1024, ffn_hidden: 4096}\n"
      "attention: {causal: false}\n"
      "sequence: {tokens: 1024, ring_size: 1}\n"
      "cluster:\n"
      "  device: {name: roof, memory: \"20 GiB\", hbm_bandwidth: \"3 TB/s\", tflops: 1000}\n"
      "  gpus_per_node: 8\n"
      "  intra_node: {bandwidth: \"100 GB/s\", latency: \"1 us\"}\n"
      "  inter_node: {bandwidth: \"50 GB/s\", latency: \"5 us\"}\n"
      "sweep: [{ring_size: 1}, {ring_size: 2}, {ring_size: 4}]\n");
  const CliResult r = cli({"plan", path, "--format", "json", "--quiet", "--schedules", "pass-kv,all-gather"});
  REQUIRE_MESSAGE(r.rc == 0, r.err);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["fewest_gpus"] == 2);
  const nlohmann::json& one = j["rows"][0];
  CHECK(one["gpus"] == 1);
  CHECK(one["fits"] == false);
  CHECK(one["model"]["memory_bytes"]["weights"].get<double>() == 2.0 * 16779265024.0);
  CHECK(contains(one["memory_reason"].get<std::string>(), "weights 31.3 GiB"));
  const nlohmann::json& two = j["rows"][1];
  CHECK(two["fits"] == true);
  CHECK(two["tensor_parallel"] == 2);
  CHECK(two["model"]["memory_bytes"]["weights"].get<double>() == 16779265024.0);
  CHECK(two["model"]["memory_bytes"]["kv_cache"].get<double>() == 1000.0 * 1024 * 2 * 8 * 128 * 2 / 2);
  // The best of 4 GPUs is no slower than each candidate run alone with `run --set`.
  const nlohmann::json& four = j["rows"][2];
  for (const char* schedule : {"pass-kv", "all-gather"})
    for (const int tensor : {2, 4}) {
      const CliResult one_run = cli({"run", path, "--format", "json", "--quiet", "--set",
                                     fmt::format("parallel.tensor={}", tensor), "--set", fmt::format("attention.schedule={}", schedule),
                                     "--set", fmt::format("sweep=[{{ring_size: {}}}]", 4 / tensor)});
      REQUIRE_MESSAGE(one_run.rc == 0, one_run.err);
      const nlohmann::json p = nlohmann::json::parse(one_run.out)["points"][0];
      if (p["fits_in_memory"] == true) CHECK(four["seconds"].get<double>() <= p["simulated_seconds"].get<double>());
    }
}

}  // namespace ringsim::test
