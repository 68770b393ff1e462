// `ringsim report`: the simulated sweep joined with a claims CSV, with
// --device overrides; bad claims files name file, line and column.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <fstream>

#include "tests/tools/tool_fixtures.hpp"

using ringsim::test::cli;
using ringsim::test::contains;
using ringsim::test::count;
using ringsim::test::kTiny;
using ringsim::test::TempDir;

namespace {

const char* const kClaims =
    "# claims for the tiny scenario\n"
    "tokens,ring_size,chunk_tokens,claimed_seconds,claimed_tokens_per_second,claimed_memory_gb_per_device\n"
    "4096,1,4096,0.5,8192,0.06\n"
    "8192,4,2048,2.0,4096,0.03\n"
    "999,1,999,1.0,999,0.01\n";

}  // namespace

TEST_CASE("ringsim report: claims join by (tokens, ring_size), with a column per profile") {
  TempDir dir;
  std::string scenario = dir.write("tiny.yaml", kTiny);
  dir.write("seed-claims.csv", kClaims);  // the default: next to the scenario
  SUBCASE("json") {
    auto r = cli({"report", scenario, "--device", "gtx-1080", "--format", "json", "--quiet"});
    REQUIRE(r.rc == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    const auto& profiles = j.at("header").at("profiles");
    REQUIRE(profiles.size() == 2);
    CHECK(profiles[0].at("profile") == "h100-sxm-datasheet");
    CHECK(profiles[1].at("profile") == "gtx-1080");
    for (const auto& p : profiles) CHECK(p.at("label") == "estimated");
    const auto& rows = j.at("rows");
    REQUIRE(rows.size() == 4);
    int claimed = 0;
    for (const auto& row : rows) {
      const bool has_claim = !row.at("claimed").is_null();  // rows 4096/1 and 8192/4
      claimed += has_claim;
      if (has_claim) CHECK(row.at("claimed").at("label") == "claimed");
      REQUIRE(row.at("results").size() == 2);
      for (const auto& cell : row.at("results")) {
        CHECK(cell.at("label") == "estimated");
        CHECK(cell.at("ratio_to_claimed").is_null() == !has_claim);
      }
      CHECK(row.at("results")[0].at("profile") == "h100-sxm-datasheet");
      CHECK(row.at("results")[1].at("profile") == "gtx-1080");
    }
    CHECK(claimed == 2);
  }
  SUBCASE("table") {
    auto r = cli({"report", scenario, "--device", "gtx-1080", "--quiet"});
    REQUIRE(r.rc == 0);
    for (const char* part : {"[claimed]", "h100-sxm-datasheet [estimated]", "gtx-1080 [estimated]", "sim/claim",
                             "claims with no point in the scenario: line 5 (tokens 999, ring 1)", "labels: claimed ="})
      CHECK_MESSAGE(contains(r.out, part), part);
  }
  SUBCASE("csv to a file") {
    std::string out = dir.file("report.csv");
    auto r = cli({"report", scenario, "--claims", dir.file("seed-claims.csv"), "--format", "csv", "--out", out, "--quiet"});
    REQUIRE(r.rc == 0);
    CHECK(std::filesystem::exists(out));
    CHECK_FALSE(std::filesystem::exists(out + ".partial"));
  }
}

TEST_CASE("ringsim report: bad claims files and devices exit 2 naming file, line and column") {
  TempDir dir;
  std::string scenario = dir.write("tiny.yaml", kTiny);
  struct Case { const char* csv; const char* where; };
  const Case cases[] = {
      {"tokens,claimed_seconds\n4096,1\n", ":1: ring_size: missing column"},
      {"tokens,ring_size,claimed_seconds\n4096,1,fast\n", ":2: claimed_seconds: expected a positive number"},
      {"tokens,ring_size,claimed_seconds\n4096,1.5,1\n", ":2: ring_size: expected a positive integer"},
      {"tokens,ring_size,claimed_seconds\n4096,1,1\n4096,1,2\n", ":3: a second claim"},
      {"tokens,ring_size,claimed_seconds\n4096,1\n", ":2: 2 cells"},
      {"# only a comment\n", ":1: empty claims file"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.csv);
    std::string claims = dir.write("claims.csv", c.csv);
    std::string out = dir.file("r.txt");
    auto r = cli({"report", scenario, "--claims", claims, "--out", out, "--quiet"});
    CHECK(r.rc == 2);
    CHECK(contains(r.err, "error: " + claims + c.where));
    CHECK_FALSE(std::filesystem::exists(out));
  }
  dir.write("seed-claims.csv", kClaims);
  auto bf16 = cli({"report", dir.write("bf16.yaml", ringsim::test::replace_line(kTiny, 2,
                   "model: {q_heads: 4, kv_heads: 2, head_dim: 64, dtype: bf16}")), "--device", "gtx-1080", "--quiet"});
  CHECK(bf16.rc == 2);
  CHECK(contains(bf16.err, "no bf16 rate"));
  auto unknown = cli({"report", scenario, "--device", "no-such-card", "--quiet"});
  CHECK(unknown.rc == 2);
  CHECK(contains(unknown.err, "error: --device: no-such-card:"));
}

TEST_CASE("ringsim report: the seed scenario matches all 16 seed claims") {
  auto r = cli({"report", ringsim::test::scenario_dir() + "/seed-billion-token.yaml", "--format", "csv", "--quiet"});
  REQUIRE(r.rc == 0);
  CHECK(count(r.out, ",simulated,") + count(r.out, ",estimated,") == 16);  // one label per row
  CHECK_FALSE(contains(r.out, "claims with no point"));
  CHECK(contains(r.out, "\n1073741824,262144,4096,8186.4,"));
}

TEST_CASE("ringsim report: a claim in part chunks matches the whole-chunk point and says so") {
  TempDir dir;
  std::string scenario = dir.write("tiny.yaml", kTiny);
  dir.write("seed-claims.csv",
            "tokens,ring_size,chunk_tokens,claimed_seconds,claimed_memory_gb_per_device,claimed_as\n"
            "4100,2,2048,1.0,0.03,extrapolation\n"   // 4100 tokens on 2 devices of 2048: point (4096, 2)
            "8192,4,2048,2.0,0.03,benchmark\n");
  auto r = cli({"report", scenario, "--quiet"});
  REQUIRE(r.rc == 0);
  CHECK(contains(r.out, "claims in part chunks, matched to whole ones: line 2 claims 4100 tokens on 2 devices "
                        "of 2048; simulated 2 x 2048 = 4096"));
  CHECK(count(r.out, "extrapolation") == 1);
  CHECK(count(r.out, "benchmark") == 1);
  CHECK_FALSE(contains(r.out, "claims with no point"));
  auto csv = cli({"report", scenario, "--format", "csv", "--quiet"});
  CHECK(contains(csv.out, "\n4096,2,2048,1,30000000,extrapolation,4100,"));
}

TEST_CASE("ringsim report: the trillion-token rows meet the seed's extrapolation claims") {
  TempDir dir;
  // The shipped scenario without its 244,140-device row (the recurrence takes a minute on it).
  std::ifstream in(ringsim::test::scenario_dir() + "/seed-trillion-causal-contiguous.yaml");
  std::string text, line;
  while (std::getline(in, line))
    if (line.find("ring_size: 244140}") == std::string::npos) text += line + "\n";
  std::string scenario = dir.write("trillion.yaml", text);
  auto r = cli({"report", scenario, "--claims", ringsim::test::scenario_dir() + "/seed-claims.csv", "--format",
                "csv", "--quiet"});
  REQUIRE(r.rc == 0);
  CHECK(count(r.out, ",8280,") == 3);
  CHECK(count(r.out, ",extrapolation,") == 3);
  CHECK(contains(r.out, "\n1000000000000,244140625,4096,8280,30000000,extrapolation,1000000000000,"));
  CHECK(contains(r.out, "\n9999998976,2441406,4096,8280,30000000,extrapolation,10000000000,"));
  CHECK(contains(r.out, "claims 100000000000 tokens on 24414062 devices of 4096"));
  CHECK(contains(r.out, "claims with no point in the scenario: line 26 (tokens 1000000000, ring 244140)\n"));
}
