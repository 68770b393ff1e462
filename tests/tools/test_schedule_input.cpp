// ringsim run: scenarios a schedule cannot run exit 2 with FILE:LINE: KEY
// and leave no output file; the schedule keys are read where they belong.
#include <doctest/doctest.h>

#include <filesystem>
#include <numeric>
#include <string>

#include "models/scenario.hpp"
#include "tests/tools/tool_fixtures.hpp"

using namespace ringsim;
using ringsim::test::contains;
using ringsim::test::TempDir;

namespace {

// Line numbers matter: cases replace one line.
const char* const kBase =
    "name: schedules\n"                                                       // 1
    "model: {q_heads: 8, kv_heads: 2, head_dim: 64, dtype: fp16}\n"           // 2
    "attention: {causal: true, layout: zigzag, schedule: pass-kv}\n"          // 3
    "sequence: {tokens: 8192, ring_size: 4}\n"                                // 4
    "cluster:\n"                                                              // 5
    "  device: h100-sxm-datasheet\n"                                          // 6
    "  gpus_per_node: 4\n"                                                    // 7
    "  intra_node: {bandwidth: \"450 GB/s\", latency: \"2 us\"}\n"            // 8
    "  inter_node: {bandwidth: \"50 GB/s\", latency: \"5 us\"}\n"             // 9
    "sweep:\n"                                                                // 10
    "  - {ring_size: 4}\n";                                                   // 11

struct Case {
  const char* what;
  int line;
  const char* text;
  int line2;  // a second edit (0: none)
  const char* text2;
  const char* where;    // ":LINE: KEY:"
  const char* message;  // part of the message
};

const Case kCases[] = {
    {"unknown schedule", 3, "attention: {causal: true, layout: zigzag, schedule: pass-qq}", 0, "", ":3: attention.schedule:",
     "unknown schedule 'pass-qq' (known: all-gather, double-ring, pass-kv, pass-q, ulysses, usp)"},
    {"ulysses on 8 q / 2 kv heads over 4 devices", 11, "  - {ring_size: 4, schedule: ulysses, layout: contiguous}", 0,
     "", "", ""},  // a control case: it runs
    {"q heads not divisible by the Ulysses degree", 2, "model: {q_heads: 6, kv_heads: 2, head_dim: 64, dtype: fp16}",
     11, "  - {ring_size: 4, schedule: ulysses, layout: contiguous}", ":11: sweep[0].ring_size:",
     "q_heads 6 is not divisible by the Ulysses degree 4"},
    {"kv heads and degree not dividing", 2, "model: {q_heads: 12, kv_heads: 3, head_dim: 64, dtype: fp16}", 11,
     "  - {ring_size: 4, schedule: ulysses, layout: contiguous}", ":11: sweep[0].ring_size:",
     "kv_heads 3 and the Ulysses degree 4 do not divide one another"},
    {"usp degree not dividing the ring", 11, "  - {ring_size: 4, schedule: usp, ulysses_degree: 3}", 0, "",
     ":11: sweep[0].ulysses_degree:", "the Ulysses degree 3 does not divide ring_size 4"},
    {"ulysses degree other than the group", 11, "  - {ring_size: 4, schedule: ulysses, ulysses_degree: 2}", 0, "",
     ":11: sweep[0].ulysses_degree:", "ulysses uses the whole group"},
    {"a layout ulysses cannot use", 11, "  - {ring_size: 4, schedule: ulysses}", 0, "", ":3: attention.layout:",
     "ulysses cannot use the zigzag layout"},
    {"cached tokens usp cannot hold", 11, "  - {ring_size: 4, schedule: usp, cached_tokens: 4096}", 0, "",
     ":11: sweep[0].cached_tokens:", "schedule usp cannot hold cached tokens"},
    {"cached tokens not cut evenly", 11, "  - {ring_size: 4, cached_tokens: 4094}", 0, "", ":11: sweep[0].cached_tokens:",
     "not divisible by 4"},
    {"a degree the schedule does not have", 11, "  - {ring_size: 4, ulysses_degree: 2}", 0, "",
     ":11: sweep[0].ulysses_degree:", "schedule pass-kv has no Ulysses degree"},
    {"an inner ring the schedule does not have", 11, "  - {ring_size: 4, schedule: usp, inner_ring: 2}", 0, "",
     ":11: sweep[0].inner_ring:", "schedule usp has no inner ring"},
    {"inner ring not dividing the ring", 11, "  - {ring_size: 4, schedule: double-ring, inner_ring: 3}", 0, "",
     ":11: sweep[0].inner_ring:", "the inner ring of 3 devices does not divide ring_size 4"},
    {"documents not summing to tokens", 4, "sequence: {tokens: 8192, ring_size: 4, documents: [4096, 4000]}", 0, "",
     ":4: sequence.documents:", "sum to 8096, not to the point's 8192 tokens"},
    {"documents with a cached prefix", 4,
     "sequence: {tokens: 8192, ring_size: 4, cached_tokens: 4096, documents: {count: 4}}", 0, "",
     ":4: sequence.documents:",
     "packed documents with a cached prefix are not modelled"},
    {"more documents than tokens", 4, "sequence: {tokens: 8192, ring_size: 4, documents: {count: 9000}}", 0, "",
     ":4: sequence.documents:", "9000 documents do not fit in 8192 tokens"},
    {"unknown length distribution", 4,
     "sequence: {tokens: 8192, ring_size: 4, documents: {count: 4, distribution: zipf}}", 0, "",
     ":4: sequence.documents.distribution:", "unknown distribution 'zipf'"},
    {"sigma without lognormal", 4, "sequence: {tokens: 8192, ring_size: 4, documents: {count: 4, sigma: 2}}", 0, "",
     ":4: sequence.documents.sigma:", "only the lognormal distribution takes sigma"},
    {"unknown placement", 3, "attention: {causal: true, layout: zigzag, ulysses_placement: sideways}", 0, "",
     ":3: attention.ulysses_placement:", "unknown placement 'sideways'"},
    {"striped needs the ring to divide tokens", 11, "  - {tokens: 8190, ring_size: 4, layout: striped}", 0, "",
     ":11: sweep[0].ring_size:", "not divisible by ring_size 4"},
    {"a ring above 262,144 devices on a schedule without a periodic path", 11,
     "  - {tokens: 2147483648, ring_size: 524288, schedule: pass-q}", 0, "", ":11: sweep[0].schedule:",
     "ring_size 524288 is above 262144 devices, where only modes folded and walk run: only schedules that lower "
     "whole to one ring with no tail run there (pass-kv), and schedule pass-q does not"},
    {"a ring above 262,144 devices with packed documents", 4,
     "sequence: {tokens: 2147483648, ring_size: 524288, documents: [1073741824, 1073741824]}", 11,
     "  - {ring_size: 524288}", ":4: sequence.documents:", "packed documents give each block its own cost"},
    // attention.pass and attention.grad_dtype
    {"unknown pass", 3, "attention: {causal: true, layout: zigzag, pass: both}", 0, "",
     ":3: attention.pass:", "unknown pass 'both' (forward, backward or training)"},
    {"pass not a scalar", 3, "attention: {causal: true, layout: zigzag, pass: [forward]}", 0, "",
     ":3: attention.pass:", ""},
    {"unknown pass on a sweep point", 11, "  - {ring_size: 4, pass: reverse}", 0, "",
     ":11: sweep[0].pass:", "unknown pass 'reverse'"},
    {"fp16 gradients", 3, "attention: {causal: true, layout: zigzag, grad_dtype: fp16}", 0, "",
     ":3: attention.grad_dtype:", "unknown gradient dtype 'fp16' (fp32 or bf16)"},
    {"unknown gradient dtype", 3, "attention: {causal: true, layout: zigzag, grad_dtype: fp8}", 0, "",
     ":3: attention.grad_dtype:", "unknown gradient dtype 'fp8'"},
    {"grad_dtype on a sweep point", 11, "  - {ring_size: 4, grad_dtype: bf16}", 0, "",
     ":11: sweep[0].grad_dtype:", "unknown key"},
    {"a training ring above 262,144 devices", 3, "attention: {causal: true, layout: zigzag, pass: training}", 11,
     "  - {tokens: 2147483648, ring_size: 524288}", ":3: attention.pass:",
     "those modes run the forward ring only; pass training runs in modes auto, event, recurrence and folded"},
};

}  // namespace

TEST_CASE("ringsim run: inputs a schedule cannot run exit 2 naming file, line and key") {
  TempDir dir;
  for (const Case& c : kCases) {
    CAPTURE(c.what);
    std::string yaml = ringsim::test::replace_line(kBase, c.line, c.text);
    if (c.line2) yaml = ringsim::test::replace_line(yaml, c.line2, c.text2);
    const std::string scenario = dir.write("bad.yaml", yaml);
    const std::string out = dir.file("out.csv");
    const auto r = ringsim::test::cli({"run", scenario, "--format", "csv", "--out", out, "--quiet"});
    CAPTURE(r.err);
    if (std::string(c.where).empty()) {
      CHECK(r.rc == 0);
      std::filesystem::remove(out);
      continue;
    }
    CHECK(r.rc == 2);
    CHECK(contains(r.err, "error: " + scenario + c.where));
    CHECK(contains(r.err, c.message));
    CHECK_FALSE(std::filesystem::exists(out));
    CHECK_FALSE(std::filesystem::exists(out + ".partial"));
  }
}

TEST_CASE("ringsim run --mode walk: a schedule without a periodic path exits 2 at its key, before any output") {
  TempDir dir;
  const std::string scenario =
      dir.write("walk.yaml", ringsim::test::replace_line(kBase, 11, "  - {ring_size: 4}\n  - {ring_size: 4, schedule: pass-q}"));
  const std::string out = dir.file("out.csv");
  const auto r = ringsim::test::cli({"run", scenario, "--mode", "walk", "--format", "csv", "--out", out, "--quiet"});
  CAPTURE(r.err);
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "error: " + scenario + ":12: sweep[1].schedule: mode walk: only schedules that lower whole"));
  CHECK_FALSE(std::filesystem::exists(out));
  CHECK_FALSE(std::filesystem::exists(out + ".partial"));
  const auto ok = ringsim::test::cli({"run", dir.write("ok.yaml", kBase), "--mode", "walk", "--format", "csv", "--quiet"});
  CHECK(ok.rc == 0);
  CHECK(contains(ok.out, ",walk,"));
}

TEST_CASE("scenario: schedule keys come from the point, else attention and sequence, with their lines") {
  TempDir dir;
  const std::string path = dir.write(
      "s.yaml", ringsim::test::replace_line(
                    ringsim::test::replace_line(kBase, 11, "  - {ring_size: 4, schedule: usp, ulysses_degree: 2}\n"
                                                           "  - {ring_size: 4, layout: striped, cached_tokens: 8}"),
                    4, "sequence: {tokens: 8192, ring_size: 4, documents: {count: 3, distribution: lognormal, sigma: 2, seed: 5}}"));
  const Scenario s = load_scenario(path);
  const PointAttention first = attention_of(s, s.points[0]), second = attention_of(s, s.points[1]);
  CHECK(first.schedule == "usp");
  CHECK(first.schedule_at.key == "sweep[0].schedule");
  CHECK(first.schedule_at.line == 11);
  CHECK(first.ulysses_degree == 2);
  CHECK(first.layout == Layout::kZigzag);
  CHECK(first.layout_at.key == "attention.layout");
  CHECK(first.layout_at.line == 3);
  CHECK(second.schedule == "pass-kv");
  CHECK(second.schedule_at.line == 3);
  CHECK(second.layout == Layout::kStriped);
  CHECK(second.cached_tokens == 8);
  CHECK(s.documents.count == 3);
  CHECK(s.documents.distribution == LengthDistribution::kLognormal);
  CHECK(s.documents.sigma == 2);
  CHECK(s.documents.seed == 5);
  const std::vector<long long> lengths = document_lengths(s.documents, 8192);
  CHECK(lengths.size() == 3);
  CHECK(std::accumulate(lengths.begin(), lengths.end(), 0LL) == 8192);
  CHECK(lengths == document_lengths(s.documents, 8192));  // deterministic
}

// attention.pass: the walk refuses the backward; every pass runs and says which.
const char* const kTraining = "attention: {causal: true, layout: zigzag, pass: training}";

TEST_CASE("ringsim run --mode walk: a training point exits 2 at its pass key, before any output") {
  TempDir dir;
  const std::string scenario = dir.write(
      "walk.yaml", ringsim::test::replace_line(kBase, 11, "  - {ring_size: 4}\n  - {ring_size: 4, pass: backward}"));
  const auto r = ringsim::test::cli({"run", scenario, "--mode", "walk", "--format", "csv", "--quiet"});
  CAPTURE(r.err);
  CHECK(r.rc == 2);
  CHECK(contains(r.err, "error: " + scenario + ":12: sweep[1].pass: mode walk: those modes run the forward ring only"));
  CHECK(r.out.empty());
}

TEST_CASE("ringsim run: every pass runs, and table, CSV and JSON say which, with each pass's seconds") {
  TempDir dir;
  const std::string scenario = dir.write(
      "ok.yaml", ringsim::test::replace_line(ringsim::test::replace_line(kBase, 3, kTraining), 11,
                                             "  - {ring_size: 4}\n  - {ring_size: 4, pass: forward}\n"
                                             "  - {ring_size: 4, pass: backward, schedule: usp}"));
  const auto table = ringsim::test::cli({"run", scenario, "--quiet"});
  CAPTURE(table.err);
  REQUIRE(table.rc == 0);
  CHECK(contains(table.out, "simulated training (forward + backward), forward, backward passes"));
  CHECK(contains(table.out, " training "));
  CHECK(contains(table.out, "^   forward "));
  const auto json = ringsim::test::cli({"run", scenario, "--format", "json", "--quiet"});
  REQUIRE(json.rc == 0);
  // One point per line: the value after `key` on the line of point `n`.
  const auto value = [&](int n, const std::string& key) {
    std::size_t at = 0;
    for (int i = 0; i <= n; ++i) at = json.out.find("{\"tokens\"", at + 1);
    const std::size_t k = json.out.find("\"" + key + "\": ", at) + key.size() + 4;
    return json.out.substr(k, json.out.find_first_of(",}", k) - k);
  };
  CHECK(value(0, "pass") == "\"training\"");
  CHECK(value(1, "pass") == "\"forward\"");
  CHECK(value(2, "pass") == "\"backward\"");
  CHECK(value(0, "forward_seconds") == value(1, "forward_seconds"));  // the same forward
  CHECK(std::stod(value(0, "simulated_seconds")) ==
        doctest::Approx(std::stod(value(0, "forward_seconds")) + std::stod(value(0, "backward_seconds"))));
  CHECK(value(1, "backward_seconds") == "null");
  CHECK(value(2, "forward_seconds") == "null");
  CHECK(value(2, "backward_seconds") == value(2, "simulated_seconds"));
  const auto csv = ringsim::test::cli({"run", scenario, "--format", "csv", "--quiet"});
  REQUIRE(csv.rc == 0);
  // The scope and model columns follow (tools/ringsim/output_model.hpp); empty without model.layers.
  const std::string end = ",layer" + std::string(15, ',') + "\n";
  CHECK(contains(csv.out, ",pass,forward_seconds,backward_seconds,scope,"));
  CHECK(contains(csv.out, ",training," + value(0, "forward_seconds") + "," + value(0, "backward_seconds") + end));
  CHECK(contains(csv.out, ",forward," + value(1, "forward_seconds") + "," + end));
  CHECK(contains(csv.out, ",backward,," + value(2, "backward_seconds") + end));
}
