// Scenario loader (models/scenario_yaml.cpp): every bad input names its file,
// line and key; every shipped scenario loads; the accepted spellings.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <vector>

#include "models/input_file.hpp"
#include "models/scenario.hpp"
#include "tests/tools/tool_fixtures.hpp"

using namespace ringsim;
using ringsim::test::kTiny;
using ringsim::test::replace_line;
using ringsim::test::TempDir;

namespace {

struct Edit {
  int line;          // line of kTiny replaced
  std::string text;  // its replacement ("" empties the line)
};

struct BadCase {
  const char* what;
  std::vector<Edit> edits;
  int expect_line;        // line the error must name
  const char* key;        // key path the error must name
  const char* message;    // part of the message
};

const std::string kInlineCard = "  device: {name: c, memory: 8 GiB, hbm_bandwidth: 1 TB/s, tflops: 100";

// One row per kind of bad input the loader must reject.
const BadCase kBadCases[] = {
    {"unknown top-level key", {{1, "nmae: tiny"}}, 1, "nmae", "did you mean 'name'"},
    {"unknown nested key", {{4, "sequence: {tokens: 4096, ring_sise: 4}"}}, 4, "sequence.ring_sise", "did you mean 'ring_size'"},
    {"unknown key in a sweep point", {{12, "  - {rign_size: 2}"}}, 12, "sweep[1].rign_size", "did you mean 'ring_size'"},
    {"duplicate key", {{6, "  device: h100-sxm\n  gpus_per_node: 4"}}, 8, "cluster.gpus_per_node", "duplicate"},
    {"integer written as a word", {{2, "model: {q_heads: four, kv_heads: 2, head_dim: 64, dtype: fp16}"}}, 2, "model.q_heads", "expected an integer"},
    {"non-integral integer", {{2, "model: {q_heads: 4.5, kv_heads: 2, head_dim: 64, dtype: fp16}"}}, 2, "model.q_heads", "expected an integer"},
    {"map where a number goes", {{2, "model: {q_heads: {a: 1}, kv_heads: 2, head_dim: 64, dtype: fp16}"}}, 2, "model.q_heads", "got a map"},
    {"list where a map goes", {{2, "model: [4, 2, 64, fp16]"}}, 2, "model", "expected a map"},
    {"causal not a bool", {{3, "attention: {causal: maybe, layout: zigzag}"}}, 3, "attention.causal", "true or false"},
    {"missing model", {{2, ""}}, 1, "model", "missing"},
    {"missing head_dim", {{2, "model: {q_heads: 4, kv_heads: 2, dtype: fp16}"}}, 2, "model.head_dim", "missing"},
    {"missing ring_size and chunk_tokens", {{4, "sequence: {tokens: 4096}"}}, 4, "sequence.ring_size", "ring_size or chunk_tokens"},
    {"both ring_size and chunk_tokens", {{4, "sequence: {tokens: 4096, ring_size: 4, chunk_tokens: 1024}"}}, 4, "sequence.chunk_tokens", "not both"},
    {"causal without layout", {{3, "attention: {causal: true}"}}, 3, "attention.layout", "required when causal"},
    {"unknown layout", {{3, "attention: {causal: true, layout: spiral}"}}, 3, "attention.layout", "unknown layout"},
    {"unknown dtype", {{2, "model: {q_heads: 4, kv_heads: 2, head_dim: 64, dtype: fp8}"}}, 2, "model.dtype", "unknown dtype"},
    {"zero heads", {{2, "model: {q_heads: 0, kv_heads: 2, head_dim: 64, dtype: fp16}"}}, 2, "model.q_heads", "positive"},
    {"negative tokens", {{4, "sequence: {tokens: -4096, ring_size: 4}"}}, 4, "sequence.tokens", "positive"},
    {"zero bandwidth", {{8, "  intra_node: {bandwidth: 0, latency: \"2 us\"}"}}, 8, "cluster.intra_node.bandwidth", "positive"},
    {"kv_heads not dividing q_heads", {{2, "model: {q_heads: 4, kv_heads: 3, head_dim: 64, dtype: fp16}"}}, 2, "model.kv_heads", "does not divide"},
    {"tokens not divisible by 2*ring (zigzag)", {{4, "sequence: {tokens: 4100, ring_size: 4}"}}, 4, "sequence.ring_size", "2 * ring_size"},
    {"sweep point not divisible (zigzag)", {{13, "  - {tokens: 8196, ring_size: 4}"}}, 13, "sweep[2].ring_size", "not divisible"},
    {"chunk_tokens not dividing tokens", {{14, "  - {chunk_tokens: 1000}"}}, 14, "sweep[3].chunk_tokens", "does not divide"},
    {"ring_size past 2^31", {{12, "  - {tokens: 1099511627776, ring_size: 2147483649}"}}, 12, "sweep[1].ring_size", "maximum 2147483648"},
    {"ranks sharing a GPU past 262,144 devices", {{13, "  - {tokens: 1073741824, ring_size: 524288, ranks_per_gpu: 2}"}}, 13, "sweep[2].ring_size", "ranks sharing a GPU"},
    {"tokens past 2^40", {{13, "  - {tokens: 2199023255552, ring_size: 4}"}}, 13, "sweep[2].tokens", "maximum"},
    {"tokens far past int64", {{13, "  - {tokens: 1e30, ring_size: 4}"}}, 13, "sweep[2].tokens", "maximum"},
    {"byte count overflowing int64", {{2, "model: {q_heads: 65536, kv_heads: 65536, head_dim: 65536, dtype: fp16}"}, {13, "  - {tokens: 1073741824, ring_size: 4}"}}, 13, "sweep[2].tokens", "overflows"},
    {"compute time past 292 years", {{4, "sequence: {tokens: 1099511627776, ring_size: 1}"}}, 4, "sequence.tokens", "292 years"},
    {"malformed bandwidth", {{8, "  intra_node: {bandwidth: \"fast\", latency: \"2 us\"}"}}, 8, "cluster.intra_node.bandwidth", ""},
    {"latency with a bandwidth unit", {{9, "  inter_node: {bandwidth: \"50 GB/s\", latency: \"5 GB/s\"}"}}, 9, "cluster.inter_node.latency", ""},
    {"unknown profile", {{6, "  device: no-such-card"}}, 6, "cluster.device", "no-such-card"},
    {"dtype missing from the profile", {{6, "  device: gtx-1080"}, {2, "model: {q_heads: 4, kv_heads: 2, head_dim: 64, dtype: bf16}"}}, 2, "model.dtype", "no bf16"},
    {"ranks_per_gpu not dividing ring_size", {{13, "  - {tokens: 8192, ring_size: 4, ranks_per_gpu: 3}"}}, 13, "sweep[2].ranks_per_gpu", "not a multiple"},
    {"zero ranks_per_gpu", {{13, "  - {tokens: 8192, ring_size: 4, ranks_per_gpu: 0}"}}, 13, "sweep[2].ranks_per_gpu", "positive"},
    {"cluster ranks_per_gpu a point cannot hold", {{6, "  device: h100-sxm\n  ranks_per_gpu: 2"}}, 12, "cluster.ranks_per_gpu", "ring_size 1 of sweep[0] is not a multiple"},
    {"cluster ranks_per_gpu the sequence cannot hold", {{6, "  device: h100-sxm\n  ranks_per_gpu: 3"}}, 4, "cluster.ranks_per_gpu", "ring_size 4 of sequence is not a multiple"},
    {"invalid UTF-8 in a name", {{1, "name: tiny\xff"}}, 1, "", "not valid UTF-8"},
    {"invalid UTF-8 on a later line", {{9, "  inter_node: {bandwidth: \"50 GB/s\", latency: \"5 \xc0\xafus\"}"}}, 9, "", "not valid UTF-8"},
    {"an inline profile's launch overhead past an hour", {{6, kInlineCard + ", launch_overhead: 1e18}"}}, 6, "cluster.device.launch_overhead", "longer than an hour"},
    {"an inline profile's negative share", {{6, kInlineCard + ", copy_compute_share: -0.5}"}}, 6, "cluster.device.copy_compute_share", "(negative)"},
    {"an inline profile's NaN latency", {{6, kInlineCard + ", copy_latency: nan}"}}, 6, "cluster.device.copy_latency", "expected a duration"},
    {"an inline profile's key twice", {{6, kInlineCard + ", name: again}"}}, 6, "cluster.device.name", "duplicate key"},
    {"an inline profile's dtype rate twice", {{6, "  device: {name: c, memory: 8 GiB, hbm_bandwidth: 1 TB/s, tflops: {fp16: 1, fp16: 2}}"}}, 6, "cluster.device.tflops.fp16", "duplicate key"},
    {"nesting deeper than yaml-cpp's guard", {{1, "name: " + std::string(3000, '[') + std::string(3000, ']')}}, 1, "", "levels deep"},
    {"empty sweep", {{10, "sweep: []"}, {11, ""}, {12, ""}, {13, ""}, {14, ""}}, 10, "sweep", "empty"},
    {"sweep not a list", {{10, "sweep: {ring_size: 2}"}, {11, ""}, {12, ""}, {13, ""}, {14, ""}}, 10, "sweep", "expected a list"},
};

std::optional<InputError> load_error(const std::string& path) {
  try {
    load_scenario(path);
  } catch (const InputError& e) {
    return e;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("scenario: every bad input throws InputError naming its line and key") {
  TempDir dir;
  for (const BadCase& c : kBadCases) {
    const std::string what = c.what;
    CAPTURE(what);
    std::string yaml = kTiny;
    for (const Edit& e : c.edits) yaml = replace_line(yaml, e.line, e.text);  // single-line edits keep numbering
    std::string path = dir.write("bad.yaml", yaml);
    auto error = load_error(path);
    REQUIRE(error.has_value());
    const std::string message = error->what();
    CAPTURE(message);
    CHECK(error->file == path);
    CHECK(error->line == c.expect_line);
    CHECK(error->key == c.key);
    CHECK(std::string(error->what()).find(c.message) != std::string::npos);
  }
}

TEST_CASE("scenario: unreadable files throw InputError naming the file") {
  TempDir dir;
  SUBCASE("missing file") {
    auto e = load_error(dir.file("nope.yaml"));
    REQUIRE(e);
    CHECK(e->line == 0);
    CHECK(std::string(e->what()).find("no such file") != std::string::npos);
  }
  SUBCASE("empty file") {
    auto e = load_error(dir.write("empty.yaml", ""));
    REQUIRE(e);
    CHECK(std::string(e->what()).find("empty") != std::string::npos);
  }
  SUBCASE("comments only") {
    auto e = load_error(dir.write("comments.yaml", "# nothing here\n# at all\n"));
    REQUIRE(e);
    CHECK(std::string(e->what()).find("empty") != std::string::npos);
  }
  SUBCASE("not YAML: the parser's line is reported") {
    auto e = load_error(dir.write("broken.yaml", "name: x\nmodel: {q_heads: 4\nsequence: [1, 2\n"));
    REQUIRE(e);
    CHECK(e->line >= 2);
    CHECK(std::string(e->what()).find("not valid YAML") != std::string::npos);
  }
  SUBCASE("a scalar, not a map") {
    auto e = load_error(dir.write("scalar.yaml", "just some words\n"));
    REQUIRE(e);
    CHECK(e->line == 1);
    CHECK(std::string(e->what()).find("expected a map") != std::string::npos);
  }
  SUBCASE("a directory") {
    auto e = load_error(dir.file(""));
    REQUIRE(e);
    CHECK(std::string(e->what()).find("directory") != std::string::npos);
  }
  SUBCASE("a device that never ends: refused before reading") {
    auto e = load_error("/dev/zero");
    REQUIRE(e);
    CHECK(std::string(e->what()) == "/dev/zero: is a device, not a scenario file");
  }
  SUBCASE("a FIFO with no writer: refused, not waited on") {
    const std::string fifo = dir.file("fifo.yaml");
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    auto e = load_error(fifo);
    REQUIRE(e);
    CHECK(std::string(e->what()).find("is a pipe") != std::string::npos);
  }
  SUBCASE("a file past the size cap: refused before yaml-cpp sees it") {
    std::string big = kTiny;
    big += "# " + std::string(kMaxInputBytes, 'x') + "\n";
    auto e = load_error(dir.write("big.yaml", big));
    REQUIRE(e);
    CHECK(e->line == 0);
    CHECK(std::string(e->what()).find("more than the 1048576 bytes") != std::string::npos);
    // A file of exactly the cap still loads.
    std::string under = kTiny;
    under += '#';
    under.append(kMaxInputBytes - under.size() - 1, 'x');
    under += '\n';
    REQUIRE(under.size() == kMaxInputBytes);
    CHECK_NOTHROW(load_scenario(dir.write("under.yaml", under)));
  }
}

TEST_CASE("scenario: every shipped scenario loads and every point checks") {
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::scenario_dir())) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path().string());
    Scenario s = load_scenario(entry.path().string());
    CHECK(s.name == entry.path().stem().string());  // the name is the file's
    CHECK(!s.points.empty());
    for (const Point& p : s.points) CHECK_NOTHROW(check_point(s, p, "", 0));
    ++loaded;
  }
  CHECK(loaded >= 7);
}

TEST_CASE("scenario: the tiny scenario loads with sweep points inheriting from sequence") {
  TempDir dir;
  Scenario s = load_scenario(dir.write("tiny.yaml", kTiny));
  CHECK(s.name == "tiny");
  CHECK(s.shape.q_heads == 4);
  CHECK(s.shape.kv_heads == 2);
  CHECK(s.shape.dtype == DType::kFp16);
  CHECK(s.causal);
  CHECK(s.layout == Layout::kZigzag);
  CHECK(s.gpus_per_node == 2);
  CHECK(s.intra_node.latency_ns == 2000);
  CHECK(s.inter_node.bytes_per_s == doctest::Approx(50e9));
  REQUIRE(s.points.size() == 4);
  CHECK(s.points[0].tokens == 4096);  // inherited
  CHECK(s.points[0].ring_size == 1);
  CHECK(s.points[2].tokens == 8192);
  CHECK(s.points[3].ring_size == 8);  // chunk_tokens 512 of 4096
  ClusterSpec c = cluster_for(s, s.points[3]);
  CHECK(c.gpus == 8);
  CHECK(c.gpus_per_node == 2);
  CHECK(std::string(layout_name(Layout::kZigzag)) == "zigzag");
}

TEST_CASE("scenario: quantities take units in strings or bare numbers in base units") {
  TempDir dir;
  std::string yaml = replace_line(kTiny, 8, "  intra_node: {bandwidth: \"3.6 Tb/s\", latency: \"0.002 ms\"}");
  yaml = replace_line(yaml, 9, "  inter_node: {bandwidth: 5e10, latency: 5e-6}");
  Scenario s = load_scenario(dir.write("units.yaml", yaml));
  CHECK(s.intra_node.bytes_per_s == doctest::Approx(450e9));
  CHECK(s.intra_node.latency_ns == 2000);
  CHECK(s.inter_node.bytes_per_s == doctest::Approx(50e9));
  CHECK(s.inter_node.latency_ns == 5000);
}

TEST_CASE("scenario: integers may be written in exponent form when integral") {
  TempDir dir;
  std::string yaml = replace_line(kTiny, 4, "sequence: {tokens: 1.048576e6, chunk_tokens: \"131072\"}");
  yaml = replace_line(yaml, 10, "");
  for (int l = 11; l <= 14; ++l) yaml = replace_line(yaml, l, "");
  Scenario s = load_scenario(dir.write("exp.yaml", yaml));
  REQUIRE(s.points.size() == 1);
  CHECK(s.points[0].tokens == 1048576);
  CHECK(s.points[0].ring_size == 8);
}

TEST_CASE("scenario: non-causal scenarios need no layout and only divide by ring_size") {
  TempDir dir;
  std::string yaml = replace_line(kTiny, 3, "attention: {causal: false}");
  yaml = replace_line(yaml, 13, "  - {tokens: 12, ring_size: 3}");
  Scenario s = load_scenario(dir.write("noncausal.yaml", yaml));
  CHECK_FALSE(s.causal);
  CHECK(s.points[2].ring_size == 3);
}

TEST_CASE("scenario: the device may be an inline map or a path next to the scenario") {
  TempDir dir;
  const std::string profile =
      "name: tiny-card\ncard: Test Card\nsource: datasheet\nmemory: \"1 GiB\"\n"
      "hbm_bandwidth: \"1 TB/s\"\ntflops: 100\n";
  SUBCASE("path relative to the scenario file") {
    dir.write("card.yaml", profile);
    Scenario s = load_scenario(dir.write("path.yaml", replace_line(kTiny, 6, "  device: card.yaml")));
    CHECK(s.profile.name == "tiny-card");
  }
  SUBCASE("inline map") {
    std::string inline_map = "  device: {name: inline-card, card: Test, source: datasheet, memory: \"1 GiB\", "
                             "hbm_bandwidth: \"1 TB/s\", tflops: 100}";
    Scenario s = load_scenario(dir.write("inline.yaml", replace_line(kTiny, 6, inline_map)));
    CHECK(s.profile.name == "inline-card");
    CHECK(s.profile.flops_per_s.count(DType::kFp16) == 1);
  }
}

TEST_CASE("scenario: ranks_per_gpu comes from the point, else the cluster, and divides the GPUs") {
  TempDir dir;
  std::string yaml = replace_line(kTiny, 6, "  device: h100-sxm\n  ranks_per_gpu: 1");  // shifts lines by one
  yaml = replace_line(yaml, 14, "  - {tokens: 8192, ring_size: 4, ranks_per_gpu: 4}");
  Scenario s = load_scenario(dir.write("rpg.yaml", yaml));
  REQUIRE(s.points.size() == 4);
  CHECK(ranks_per_gpu(s, s.points[0]) == 1);
  CHECK(ranks_per_gpu(s, s.points[2]) == 4);
  CHECK(cluster_for(s, s.points[2]).gpus == 1);
  CHECK(cluster_for(s, s.points[3]).gpus == 8);
}

TEST_CASE("scenario: check_point names the point it rejects") {
  TempDir dir;
  Scenario s = load_scenario(dir.write("tiny.yaml", kTiny));
  try {
    check_point(s, Point{4096, 3}, "sweep[7]", 42);
    FAIL("expected InputError");
  } catch (const InputError& e) {
    CHECK(e.line == 42);
    CHECK(e.key == "sweep[7].ring_size");
  }
  CHECK_THROWS_AS(check_point(s, Point{4096, 0}, "", 1), InputError);
  CHECK_NOTHROW(check_point(s, Point{1LL << 30, 262144}, "", 1));
  CHECK_NOTHROW(check_point(s, Point{1000000000000LL, 244140625}, "", 1));  // the seed's trillion-token ring
}
