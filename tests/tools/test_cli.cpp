// ringsim CLI (tools/ringsim) driven through run_cli: exit codes, error
// lines, no output file on bad input, labelled JSON/CSV/table output.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/tools/tool_fixtures.hpp"

using ringsim::test::cli;
using ringsim::test::contains;
using ringsim::test::count;
using ringsim::test::kTiny;
using ringsim::test::replace_line;
using ringsim::test::TempDir;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("ringsim CLI: bad scenarios exit 2 with FILE:LINE: KEY and leave no output file") {
  TempDir dir;
  struct Case { int line; const char* text; const char* where; };
  const Case cases[] = {
      {4, "sequence: {tokens: 4100, ring_size: 4}", ":4: sequence.ring_size:"},
      {13, "  - {tokens: 8192, ring_size: 262145}", ":13: sweep[2].ring_size:"},
      {6, "  device: no-such-card", ":6: cluster.device:"},
      {8, "  intra_node: {bandwidth: \"450 GB/s\", latency: \"2 us\", transport: carrier-pigeon}",
       ":8: cluster.intra_node.transport:"},
      {9, "  inter_node: {bandwidth: \"50 GB/s\", latency: \"5 us\", all_to_all_transport: smoke-signals}",
       ":9: cluster.inter_node.all_to_all_transport:"},
      {1, "name: [", ":"},
  };
  for (const char* format : {"table", "csv", "json"}) {
    for (const Case& c : cases) {
      CAPTURE(format);
      CAPTURE(c.text);
      std::string scenario = dir.write("bad.yaml", replace_line(kTiny, c.line, c.text));
      std::string out = dir.file("out.txt");
      auto r = cli({"run", scenario, "--format", format, "--out", out, "--quiet"});
      CHECK(r.rc == 2);
      CHECK(contains(r.err, "error: " + scenario + c.where));
      CHECK_FALSE(std::filesystem::exists(out));
      CHECK_FALSE(std::filesystem::exists(out + ".partial"));
      CHECK(r.out.empty());
    }
  }
  auto missing = cli({"run", dir.file("missing.yaml")});
  CHECK(missing.rc == 2);
  CHECK(contains(missing.err, "error: " + dir.file("missing.yaml") + ": no such file"));
}

TEST_CASE("ringsim CLI: usage errors exit 2 and print the usage") {
  TempDir dir;
  std::string tiny = dir.write("tiny.yaml", kTiny);
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"run"},
      {"run", tiny, tiny},
      {"run", tiny, "--colour"},
      {"run", tiny, "-x"},
      {"run", tiny, "--format", "xml"},
      {"run", tiny, "--format"},
      {"run", tiny, "--mode", "fast"},
      {"run", tiny, "--threads", "-1"},
      {"run", tiny, "--threads", "many"},
      {"run", tiny, "--quiet=yes"},
      {"run", tiny, "--trace", dir.file("t.json"), "--mode", "recurrence"},
      {"report", tiny, "--bogus"},
      {"profiles", "extra"},
  };
  for (const auto& args : bad) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    CAPTURE(joined);
    auto r = cli(args);
    CHECK(r.rc == 2);
    CHECK(contains(r.err, "usage: ringsim"));
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("t.json")));
}

TEST_CASE("ringsim CLI: --help works on every command") {
  for (const char* command : {"run", "report", "profiles"}) {
    CAPTURE(command);
    auto r = cli({command, "--help"});
    CHECK(r.rc == 0);
    CHECK(contains(r.out, std::string("usage: ringsim ") + command));
  }
  auto top = cli({"--help"});
  CHECK(top.rc == 0);
  CHECK(contains(top.out, "calibrate"));
}

TEST_CASE("ringsim CLI: calibrate and validate say when this build has no CUDA") {
  for (const char* command : {"calibrate", "validate"}) {
    CAPTURE(command);
#if defined(RINGSIM_HAVE_CALIBRATE) || defined(RINGSIM_HAVE_VALIDATE)
    MESSAGE("built with CUDA tools: forwarding is tested on the GPU machine");
#else
    auto r = cli({command, "--help"});
    CHECK(r.rc == 2);
    CHECK(contains(r.err, std::string("ringsim: '") + command + "' needs CUDA and a GPU"));
#endif
  }
}

TEST_CASE("ringsim CLI: profiles lists the shipped profiles") {
  auto r = cli({"profiles"});
  CHECK(r.rc == 0);
  CHECK(contains(r.out, "h100-sxm"));
  CHECK(contains(r.out, "gtx-1080"));
  CHECK(contains(r.out, "datasheet"));
}

TEST_CASE("ringsim CLI: run --format json gives every required field, labelled") {
  TempDir dir;
  auto r = cli({"run", dir.write("tiny.yaml", kTiny), "--format", "json", "--quiet"});
  REQUIRE(r.rc == 0);
  const std::string& j = r.out;
  for (const char* header : {"\"header\"", "\"ringsim_version\"", "\"scenario\": \"tiny\"",
                             "\"profile\": \"h100-sxm-datasheet\"",
                             "\"card\"", "\"labels\"", "\"simulated\"", "\"estimated\"", "\"measured\"", "\"points\": ["})
    CHECK_MESSAGE(contains(j, header), header);
  for (const char* field : {"\"tokens\"", "\"ring_size\"", "\"ranks_per_gpu\"", "\"gpus\"", "\"chunk_tokens\"",
                            "\"simulated_seconds\"",
                            "\"tokens_per_second\"", "\"peak_memory_bytes_per_device\"", "\"fits_in_memory\"",
                            "\"memory_reason\"", "\"compute_seconds\"", "\"exposed_comm_seconds\"",
                            "\"exposed_comm_fraction\"", "\"label\"", "\"compute_source\"", "\"mode\"", "\"events\"",
                            "\"device_steps\"", "\"wall_seconds\"", "\"bound\""}) {
    CAPTURE(field);
    CHECK(count(j, field) == 4);  // one per point of kTiny
  }
  // h100-sxm-datasheet has no measured samples: nothing may claim "simulated".
  CHECK(count(j, "\"label\": \"estimated\"") == 4);
  CHECK(contains(j, "\"ring_size\": 8, \"ranks_per_gpu\": 1, \"gpus\": 8, \"chunk_tokens\": 512"));
  CHECK(j.substr(j.size() - 4) == "\n]}\n");
}

TEST_CASE("ringsim CLI: run --out writes the whole file and no .partial") {
  TempDir dir;
  std::string out = dir.file("result.csv");
  auto r = cli({"run", dir.write("tiny.yaml", kTiny), "--format", "csv", "--out", out, "--quiet"});
  REQUIRE(r.rc == 0);
  CHECK(r.out.empty());
  CHECK_FALSE(std::filesystem::exists(out + ".partial"));
  std::string csv = read(out);
  CHECK(contains(csv, "tokens,ring_size,ranks_per_gpu,gpus,chunk_tokens,label,simulated_seconds,"));
  CHECK(count(csv, "\n4096,") + count(csv, "\n8192,") == 4);
  CHECK(count(csv, ",estimated,") == 4);
  CHECK(contains(csv, "# profile: h100-sxm-datasheet"));
}

TEST_CASE("ringsim CLI: the table says what every figure is") {
  TempDir dir;
  auto r = cli({"run", dir.write("tiny.yaml", kTiny), "--quiet"});
  REQUIRE(r.rc == 0);
  for (const char* line : {"simulated forward pass of context-parallel attention (schedule: pass-kv)", "scenario: tiny",
                           "profile:  h100-sxm-datasheet",
                           "compute estimated", "network:  2 GPUs/node", "labels:", "mem/GPU is estimated",
                           "wall is measured"})
    CHECK_MESSAGE(contains(r.out, line), line);
  CHECK(count(r.out, " estimated ") >= 4);
}

TEST_CASE("ringsim CLI: a point that does not fit in memory is a result, not an error") {
  TempDir dir;
  std::string small = "  device: {name: small-card, card: Small Card, source: datasheet, memory: \"1 MiB\", "
                      "hbm_bandwidth: \"1 TB/s\", tflops: 100}";
  auto r = cli({"run", dir.write("small.yaml", replace_line(kTiny, 6, small)), "--format", "json", "--quiet"});
  REQUIRE(r.rc == 0);
  CHECK(count(r.out, "\"fits_in_memory\": false") == 4);
  CHECK(count(r.out, "\"memory_reason\": null") == 0);
  auto table = cli({"run", dir.file("small.yaml"), "--quiet"});
  CHECK(table.rc == 0);
  CHECK(contains(table.out, "does not fit"));
}

TEST_CASE("ringsim CLI: --trace writes one JSON array from the event engine") {
  TempDir dir;
  std::string trace = dir.file("trace.json");
  std::string yaml = replace_line(kTiny, 10, "");
  for (int l = 11; l <= 14; ++l) yaml = replace_line(yaml, l, "");
  auto r = cli({"run", dir.write("one.yaml", yaml), "--trace", trace, "--format", "json", "--quiet"});
  REQUIRE(r.rc == 0);
  CHECK(contains(r.out, "\"mode\": \"event\""));
  std::string t = read(trace);
  REQUIRE(t.size() > 4);
  CHECK(t.front() == '[');
  CHECK(t.substr(t.size() - 2) == "]\n");
  CHECK(contains(t, "\"ts\""));
}

TEST_CASE("ringsim CLI: rows read simulated only when the profile's samples cover the compute") {
  TempDir dir;
  const std::string sample = "  - {dtype: fp16, head_dim: 64, q_heads: 4, kv_heads: 2, mask: full, ";
  dir.write("card.yaml",
            "name: test-card\ncard: Test Card 1\nsource: measured\ncalibration: {date: 2026-11-26, tool: test}\n"
            "memory: \"16 GiB\"\nhbm_bandwidth: \"1 TB/s\"\ntflops: 100\nattention:\n" +
                sample + "q_tokens: 256, kv_tokens: 256, seconds: 0.00001}\n" +
                sample + "q_tokens: 256, kv_tokens: 8192, seconds: 0.0002}\n" +
                sample + "q_tokens: 8192, kv_tokens: 256, seconds: 0.0002}\n" +
                sample + "q_tokens: 8192, kv_tokens: 8192, seconds: 0.004}\n"
                "merge:\n  - {q_tokens: 256, q_heads: 4, head_dim: 64, seconds: 0.000002}\n"
                "  - {q_tokens: 8192, q_heads: 4, head_dim: 64, seconds: 0.00002}\n");
  std::string yaml = replace_line(replace_line(kTiny, 3, "attention: {causal: false}"), 6, "  device: card.yaml");
  auto r = cli({"run", dir.write("calibrated.yaml", yaml), "--format", "json", "--quiet"});
  REQUIRE(r.rc == 0);
  CHECK(count(r.out, "\"label\": \"simulated\"") == 4);
  CHECK(count(r.out, "\"label\": \"estimated\"") == 0);
  CHECK(contains(r.out, "calibrated on Test Card 1"));
  CHECK(contains(r.out, "\"profile_source\": \"measured\""));
}
