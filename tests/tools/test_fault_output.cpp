// tests/tools: a point with faults keeps every column main's output has
// (bound, pass, model) and adds its fault figures after them: CSV header and
// row agree cell for cell; JSON carries bound, model and faults together.
#include <doctest/doctest.h>

#include <string>
#include <nlohmann/json.hpp>
#include <utility>

#include "tests/tools/tool_fixtures.hpp"

using ringsim::test::cli;
using ringsim::test::contains;
using ringsim::test::kTiny;
using ringsim::test::TempDir;

namespace {

// kTiny's single point (no sweep) with one straggler at twice the time.
std::string straggler_yaml() {
  const std::string tiny = kTiny;
  return tiny.substr(0, tiny.find("sweep:")) + "faults: {stragglers: [{device: 1, slowdown: 2.0}]}\n";
}

// Cells of one CSV line: commas outside quotes, plus one.
long cells(const std::string& line) {
  long n = 1;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) ++n;
  }
  return n;
}

// The CSV's header and first row.
std::pair<std::string, std::string> header_and_row(const std::string& csv) {
  const std::size_t head = csv.find("tokens,ring_size,");
  REQUIRE(head != std::string::npos);
  const std::size_t head_end = csv.find('\n', head);
  return {csv.substr(head, head_end - head), csv.substr(head_end + 1, csv.find('\n', head_end + 1) - head_end - 1)};
}

}  // namespace

TEST_CASE("ringsim CLI: CSV with faults has main's columns, then the fault columns, row matching header") {
  TempDir dir;
  auto r = cli({"run", dir.write("strag.yaml", straggler_yaml()), "--format", "csv", "--quiet"});
  REQUIRE(r.rc == 0);
  const auto [header, row] = header_and_row(r.out);
  CHECK(contains(header, "total_flops,bound,pass,forward_seconds,backward_seconds,scope,layers,"));
  CHECK(contains(header, ",reserved_bytes,fault_repeats,"));  // model columns end, fault columns begin
  CHECK(cells(row) == cells(header));
  CHECK(contains(row, ",layer,,,,,,,,,,,,,,,,1,"));  // scope, 15 empty model cells, fault_repeats 1
}

TEST_CASE("ringsim CLI: CSV without faults or model.layers: row matches header") {
  TempDir dir;
  const std::string tiny = kTiny;
  auto r = cli({"run", dir.write("tiny.yaml", tiny.substr(0, tiny.find("sweep:"))), "--format", "csv", "--quiet"});
  REQUIRE(r.rc == 0);
  const auto [header, row] = header_and_row(r.out);
  CHECK(contains(header, ",reserved_bytes"));
  CHECK(cells(row) == cells(header));
}

TEST_CASE("ringsim CLI: JSON with faults carries bound, model and faults") {
  TempDir dir;
  auto r = cli({"run", dir.write("strag.yaml", straggler_yaml()), "--format", "json", "--quiet"});
  REQUIRE(r.rc == 0);
  const std::size_t bound = r.out.find("\"bound\": "), model = r.out.find("\"model\": ", bound),
                    faults = r.out.find("\"faults\": {\"fault_repeats\": 1", model);
  CHECK(bound != std::string::npos);
  CHECK(model != std::string::npos);
  CHECK(faults != std::string::npos);
}

TEST_CASE("ringsim CLI: a faulted ring in the recurrence names its critical block; elsewhere null") {
  TempDir dir;
  auto r = cli({"run", dir.write("strag.yaml", straggler_yaml()), "--format", "json", "--quiet"});
  REQUIRE(r.rc == 0);
  const nlohmann::json f = nlohmann::json::parse(r.out)["points"][0]["faults"];
  CHECK(f["critical_block_device"] == 1);  // the straggler's block: sim/critical_block.hpp (tests/sim/test_critical_block.cpp)
  CHECK(f["critical_block_step"].is_number_integer());
  CHECK(f["critical_block_extra_seconds"].get<double>() > 0);
  // The event engine does not trace the path: null there.
  auto e = cli({"run", dir.file("strag.yaml"), "--format", "json", "--quiet", "--mode", "event"});
  REQUIRE(e.rc == 0);
  CHECK(nlohmann::json::parse(e.out)["points"][0]["faults"]["critical_block_device"].is_null());
}
