// ringsim CLI (tools/ringsim) driven through run_cli: usage errors and their
// suggestions, help with examples, profile lookup, and the JSON, CSV and
// table outputs (JSON read back with nlohmann-json).
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/tools/tool_fixtures.hpp"

using ringsim::test::cli;
using ringsim::test::contains;
using ringsim::test::count;
using ringsim::test::kTiny;
using ringsim::test::read_file;
using ringsim::test::replace_line;
using ringsim::test::TempDir;
using nlohmann::json;

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
      CHECK(dir.entries() == std::vector<std::string>{"bad.yaml"});
      CHECK(r.out.empty());
    }
  }
  auto missing = cli({"run", dir.file("missing.yaml")});
  CHECK(missing.rc == 2);
  CHECK(contains(missing.err, "error: " + dir.file("missing.yaml") + ": no such file"));
}

TEST_CASE("ringsim CLI: usage errors exit 2, print the usage and write nothing") {
  TempDir dir;
  std::string tiny = dir.write("tiny.yaml", kTiny);
  const std::string t = dir.file("t.json");
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
      {"run", tiny, "--threads", "4097"},
      {"run", tiny, "--csv-header", "none"},
      {"run", tiny, "--trace", t, "--mode", "recurrence"},
      {"run", tiny, "--trace-devices", "0-3"},
      {"run", tiny, "--trace", t, "--trace-devices", "3-1"},
      {"run", tiny, "--trace", t, "--trace-devices", "a"},
      {"report", tiny, "--bogus"},
      {"profiles", "extra"},
      {"--profile-dir"},
  };
  for (const auto& args : bad) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    CAPTURE(joined);
    auto r = cli(args);
    CHECK(r.rc == 2);
    CHECK(contains(r.err, "usage: ringsim"));
    CHECK(r.out.empty());
  }
  CHECK(dir.entries() == std::vector<std::string>{"tiny.yaml"});
}

TEST_CASE("ringsim CLI: a misspelled option or command gets the closest name") {
  TempDir dir;
  std::string tiny = dir.write("tiny.yaml", kTiny);
  struct Case { std::vector<std::string> args; const char* hint; };
  const Case cases[] = {
      {{"run", tiny, "--thread", "2"}, "(did you mean --threads?)"},
      {{"run", tiny, "--fromat", "csv"}, "(did you mean --format?)"},
      {{"run", tiny, "--trace-device=1"}, "(did you mean --trace-devices?)"},
      {{"report", tiny, "--claim", "x.csv"}, "(did you mean --claims?)"},
      {{"rnu", tiny}, "unknown command 'rnu' (did you mean run?)"},
      {{"profile"}, "(did you mean profiles?)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.hint);
    auto r = cli(c.args);
    CHECK(r.rc == 2);
    CHECK(contains(r.err, c.hint));
  }
  CHECK_FALSE(contains(cli({"run", tiny, "--zzzzzzzz"}).err, "did you mean"));
}

TEST_CASE("ringsim CLI: every command's --help has its usage and examples") {
  for (const char* command : {"run", "report", "profiles"}) {
    CAPTURE(command);
    for (const std::vector<std::string>& args : {std::vector<std::string>{command, "--help"},
                                                 std::vector<std::string>{"help", command}}) {
      auto r = cli(args);
      CHECK(r.rc == 0);
      CHECK(contains(r.out, std::string("usage: ringsim ") + command));
      CHECK(contains(r.out, std::string("Examples:\n  ringsim ")));
    }
  }
  auto top = cli({"--help"});
  CHECK(top.rc == 0);
  for (const char* part : {"usage: ringsim", "calibrate", "validate", "--profile-dir", "Examples:"})
    CHECK_MESSAGE(contains(top.out, part), part);
  auto version = cli({"--version"});
  CHECK(version.rc == 0);
  CHECK(contains(version.out, "ringsim "));
}

TEST_CASE("ringsim CLI: calibrate and validate are separate programs, looked for beside ringsim and on PATH") {
  TempDir empty;
  const char* old_path = std::getenv("PATH");
  const std::string saved = old_path ? old_path : "";
  setenv("PATH", empty.file("").c_str(), 1);  // nothing there
  for (const char* command : {"calibrate", "validate"}) {
    CAPTURE(command);
    auto r = cli({command, "--help"});
    CHECK(r.rc == 2);
    CHECK(contains(r.err, std::string("'") + command + "' is the separate program ringsim-" + command));
    CHECK(contains(r.err, "built only where CUDA (nvcc) is found"));
  }
  setenv("PATH", saved.c_str(), 1);
}

TEST_CASE("ringsim CLI: profiles says where it looked, in order, and where each profile comes from") {
  auto r = cli({"profiles"});
  REQUIRE(r.rc == 0);
  for (const char* part : {"1. --profile-dir", "2. RINGSIM_PROFILE_DIR", "3. next to the executable", "4. source tree",
                           "h100-sxm", "gtx-1080", "datasheet", "models/profiles/gtx-1080.yaml"})
    CHECK_MESSAGE(contains(r.out, part), part);
}

TEST_CASE("ringsim CLI: --profile-dir wins over RINGSIM_PROFILE_DIR, which wins over the shipped profiles") {
  TempDir flag_dir, env_dir, work;
  const std::string card = "name: gtx-1080\ncard: {}\nsource: datasheet\nmemory: \"8 GiB\"\nhbm_bandwidth: \"320 GB/s\"\n"
                           "tflops: {fp16: 0.1386, fp32: 8.873}\n";
  auto with_card = [&](const char* name) { return replace_line(card, 2, std::string("card: ") + name); };
  flag_dir.write("gtx-1080.yaml", with_card("Card From The Flag"));
  env_dir.write("gtx-1080.yaml", with_card("Card From The Environment"));
  env_dir.write("only-in-env.yaml", replace_line(with_card("Env Only"), 1, "name: only-in-env"));
  const std::string scenario = work.write("s.yaml", replace_line(kTiny, 6, "  device: gtx-1080"));
  setenv("RINGSIM_PROFILE_DIR", env_dir.file("").c_str(), 1);
  auto both = cli({"--profile-dir", flag_dir.file(""), "run", scenario, "--format", "json", "--quiet"});
  auto env = cli({"run", scenario, "--format", "json", "--quiet"});
  auto listing = cli({"--profile-dir", flag_dir.file(""), "profiles"});
  unsetenv("RINGSIM_PROFILE_DIR");
  auto shipped = cli({"run", scenario, "--format", "json", "--quiet"});
  REQUIRE(both.rc == 0);
  REQUIRE(env.rc == 0);
  REQUIRE(shipped.rc == 0);
  CHECK(json::parse(both.out)["header"]["card"] == "Card From The Flag");
  CHECK(json::parse(env.out)["header"]["card"] == "Card From The Environment");
  CHECK(json::parse(shipped.out)["header"]["card"] == "NVIDIA GeForce GTX 1080");
  CHECK(contains(listing.out, "1. --profile-dir           " + flag_dir.file("")));
  CHECK(contains(listing.out, "only-in-env"));
  CHECK(contains(listing.out, flag_dir.file("gtx-1080.yaml")));  // the file the name resolves to
  auto missing = cli({"--profile-dir", flag_dir.file("nope"), "profiles"});
  CHECK(missing.rc == 2);
  CHECK(contains(missing.err, "error: --profile-dir: " + flag_dir.file("nope") + " is not a directory"));
}

TEST_CASE("ringsim CLI: run --format json gives every required field, labelled") {
  TempDir dir;
  auto r = cli({"run", dir.write("tiny.yaml", kTiny), "--format", "json", "--quiet"});
  REQUIRE(r.rc == 0);
  const json j = json::parse(r.out);
  const json& h = j.at("header");
  CHECK(h.at("scenario") == "tiny");
  CHECK(h.at("profile") == "h100-sxm-datasheet");
  for (const char* key : {"ringsim_version", "card", "profile_source", "profile_file", "network", "requested_mode"})
    CHECK_MESSAGE(h.contains(key), key);
  for (const char* label : {"simulated", "estimated", "measured"}) CHECK(h.at("labels").contains(label));
  REQUIRE(j.at("points").size() == 4);
  for (const json& p : j.at("points")) {
    for (const char* field : {"tokens", "ring_size", "ranks_per_gpu", "gpus", "chunk_tokens", "simulated_seconds",
                              "tokens_per_second", "peak_memory_bytes_per_device", "fits_in_memory", "memory_reason",
                              "compute_seconds", "exposed_comm_seconds", "exposed_comm_fraction", "compute_source",
                              "mode", "events", "device_steps", "wall_seconds", "bound"})
      CHECK_MESSAGE(p.contains(field), field);
    // h100-sxm-datasheet has no measured samples: nothing may claim "simulated".
    CHECK(p.at("label") == "estimated");
    CHECK(p.at("device_steps") == p.at("ring_size").get<long long>() * p.at("ring_size").get<long long>());
  }
  const json& last = j.at("points")[3];
  CHECK(last.at("ring_size") == 8);
  CHECK(last.at("gpus") == 8);
  CHECK(last.at("chunk_tokens") == 512);
}

TEST_CASE("ringsim CLI: CSV with '#' comment lines, or plain for pandas") {
  TempDir dir;
  const std::string tiny = dir.write("tiny.yaml", kTiny);
  auto comments = cli({"run", tiny, "--format", "csv", "--quiet"});
  auto plain = cli({"run", tiny, "--format", "csv", "--csv-header", "plain", "--quiet"});
  REQUIRE(comments.rc == 0);
  REQUIRE(plain.rc == 0);
  const std::string header = "tokens,ring_size,ranks_per_gpu,gpus,chunk_tokens,label,simulated_seconds,";
  CHECK(plain.out.rfind(header, 0) == 0);  // the very first line
  CHECK(count(plain.out, "\n") == 5);      // header + 4 points
  CHECK(count(plain.out, "#") == 0);
  CHECK(comments.out.rfind("# ringsim", 0) == 0);
  CHECK(contains(comments.out, "# profile: h100-sxm-datasheet"));
  CHECK(count(comments.out, ",estimated,") == 4);
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
  const json j = json::parse(r.out);
  for (const json& p : j.at("points")) {
    CHECK(p.at("fits_in_memory") == false);
    CHECK(p.at("memory_reason").is_string());
  }
  auto table = cli({"run", dir.file("small.yaml"), "--quiet"});
  CHECK(table.rc == 0);
  CHECK(contains(table.out, "does not fit"));
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
  const json j = json::parse(r.out);
  for (const json& p : j.at("points")) CHECK(p.at("label") == "simulated");
  CHECK(contains(r.out, "calibrated on Test Card 1"));
  CHECK(j.at("header").at("profile_source") == "measured");
}
