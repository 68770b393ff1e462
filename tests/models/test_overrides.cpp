// --set KEY=VALUE: values land where the key path says (maps created on the
// way, list elements by index), go through the file's checks, and errors about
// them name the command line; the file's own errors keep their file and line.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

#include "models/scenario.hpp"

namespace ringsim {

namespace {

const char* const kScenario =
    "name: set-test\n"                                                       // 1
    "model: {q_heads: 8, kv_heads: 8, head_dim: 64, dtype: bf16}\n"          // 2
    "attention: {causal: false}\n"                                           // 3
    "sequence: {tokens: 4096, ring_size: 4}\n"                               // 4
    "cluster:\n"                                                             // 5
    "  device: h100-sxm-datasheet\n"                                         // 6
    "  gpus_per_node: 8\n"                                                   // 7
    "  intra_node: {bandwidth: \"450 GB/s\", latency: \"2 us\"}\n"           // 8
    "  inter_node: {bandwidth: \"50 GB/s\", latency: \"5 us\"}\n"            // 9
    "sweep: [{ring_size: 1}, {ring_size: 2}]\n";                             // 10

std::string scenario_file() {
  const auto path = std::filesystem::temp_directory_path() / "ringsim-test-overrides.yaml";
  std::ofstream(path) << kScenario;
  return path.string();
}

std::vector<Override> sets(std::initializer_list<const char*> texts) {
  std::vector<Override> out;
  for (const char* t : texts) out.push_back(parse_override(t));
  return out;
}

std::string error_of(std::initializer_list<const char*> texts) {
  try {
    load_scenario(scenario_file(), sets(texts));
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("--set: values by key path, maps created, list elements by index") {
  const Scenario s = load_scenario(scenario_file(), sets({"model.layers=4", "model.hidden=512", "model.ffn_hidden=1024",
                                                          "parallel.tensor=8", "sweep[1].ring_size=8",
                                                          "cluster.gpus_per_node=16", "sequence.tokens=8192"}));
  CHECK(s.size.layers == 4);
  CHECK(s.size.hidden == 512);
  CHECK(s.parallel.tensor == 8);  // `parallel` did not exist in the file
  CHECK(s.gpus_per_node == 16);
  REQUIRE(s.points.size() == 2);
  CHECK(s.points[0].tokens == 8192);
  CHECK(s.points[1].ring_size == 8);
  CHECK(s.shape.q_heads == 8);  // untouched keys keep the file's values
  const Scenario whole = load_scenario(scenario_file(), sets({"sweep=[{ring_size: 1}, {ring_size: 2}, {ring_size: 4}]"}));
  CHECK(whole.points.size() == 3);
  CHECK(whole.name == "set-test");
}

TEST_CASE("--set: errors about a key set on the command line name it there") {
  CHECK(error_of({"model.layers=4", "model.hidden=512", "model.ffn_hidden=1024", "parallel.tensor=3"}) ==
        "command line (--set parallel.tensor=3): parallel.tensor: 3 does not divide cluster.gpus_per_node 8 "
        "(tensor parallelism stays inside a node)");
  CHECK(error_of({"model.layrs=4"}) ==
        "command line (--set model.layrs=4): model.layrs: unknown key; did you mean 'layers'?");
  CHECK(error_of({"sequence.ring_size=-1"}).rfind("command line (--set sequence.ring_size=-1): sequence.ring_size: ", 0) == 0);
  CHECK(error_of({"sweep[5].ring_size=2"}) == "command line (--set sweep[5].ring_size=2): sweep[5].ring_size: sweep has no element 5");
  CHECK(error_of({"name.x=2"}) == "command line (--set name.x=2): name.x: cannot set x inside name: it is not a map");
  CHECK(error_of({"cluster.gpus_per_node="}) == "command line (--set cluster.gpus_per_node=): cluster.gpus_per_node: no value (write KEY=VALUE)");
  CHECK_THROWS_WITH_AS(parse_override("tensor"), "command line (--set tensor): expected KEY=VALUE, e.g. --set parallel.tensor=8",
                       InputError);
  // An error the override did not cause keeps the file and line.
  const std::string file_error = error_of({"sequence.tokens=4094"});
  CHECK(file_error.find("ringsim-test-overrides.yaml:4: sequence.ring_size: tokens 4094 is not divisible by ring_size 4") !=
        std::string::npos);
}

}  // namespace ringsim
