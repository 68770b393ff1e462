// ringsim's outputs never destroy an input and appear only when complete:
// refused before anything is simulated (exit 2, nothing left behind),
// partial files created exclusively, failures that keep what finished, and
// every write checked. Traces read back with nlohmann-json.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <streambuf>

#include "tests/sim/trace_reader.hpp"
#include "tests/tools/tool_fixtures.hpp"

using ringsim::test::cli;
using ringsim::test::contains;
using ringsim::test::count;
using ringsim::test::kTiny;
using ringsim::test::read_file;
using ringsim::test::replace_line;
using ringsim::test::TempDir;
using nlohmann::json;

namespace {

// A stream whose every write fails, like stdout on /dev/full.
struct FullBuffer : std::streambuf {
  int_type overflow(int_type) override { return traits_type::eof(); }
  std::streamsize xsputn(const char*, std::streamsize) override { return 0; }
};

}  // namespace

TEST_CASE("ringsim outputs: an output that is an input, a device, a directory or the other output is refused first") {
  TempDir dir;
  const std::string tiny = dir.write("tiny.yaml", kTiny);
  dir.write("card.yaml", "name: c\ncard: C\nsource: datasheet\nmemory: \"1 GiB\"\nhbm_bandwidth: \"1 TB/s\"\ntflops: 100\n");
  const std::string with_card = dir.write("with-card.yaml", replace_line(kTiny, 6, "  device: card.yaml"));
  const std::string claims = dir.write("claims.csv", "tokens,ring_size,claimed_seconds\n4096,1,1\n");
  std::filesystem::create_symlink(tiny, dir.file("link-to-tiny.yaml"));
  std::filesystem::create_directory(dir.file("sub"));
  const auto before = dir.entries();
  struct Case { std::vector<std::string> args; std::string message; };
  const Case cases[] = {
      {{"run", tiny, "--out", tiny}, "error: --out: " + std::string(tiny) + " is the scenario of this run"},
      {{"run", tiny, "--trace", tiny}, "is the scenario of this run"},
      {{"run", tiny, "--out", dir.file("link-to-tiny.yaml")}, "is the scenario of this run"},
      {{"run", with_card, "--out", dir.file("card.yaml")}, "is the scenario's profile of this run"},
      {{"report", tiny, "--claims", claims, "--out", claims}, "is the claims file of this run"},
      {{"report", tiny, "--claims", claims, "--device", dir.file("card.yaml"), "--out", dir.file("card.yaml")},
       "is a profile of this run"},
      {{"run", tiny, "--out", "/dev/null"}, "error: --out: /dev/null is a device; ringsim writes only regular files"},
      {{"run", tiny, "--out", ""}, "error: --out: needs a file name"},
      {{"run", tiny, "--out", dir.file("sub")}, "is a directory"},
      {{"run", tiny, "--out", dir.file("x"), "--trace", dir.file("x")}, "error: --trace: " + dir.file("x") + " is also the file of --out"},
      {{"run", tiny, "--out", dir.file("nowhere/x.csv")}, "cannot create " + dir.file("nowhere/x.csv") + ".partial"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.message);
    auto r = cli(c.args);
    CHECK(r.rc == 2);
    CHECK(contains(r.err, c.message));
    CHECK(dir.entries() == before);
    CHECK(read_file(tiny) == kTiny);
  }
}

TEST_CASE("ringsim outputs: --mode a point cannot take is refused before anything runs") {
  TempDir dir;
  // Point 3 puts 2 ranks on each GPU: only the event engine models that.
  const std::string yaml = replace_line(kTiny, 13, "  - {tokens: 8192, ring_size: 4, ranks_per_gpu: 2}");
  const std::string path = dir.write("shared.yaml", yaml);
  for (const char* mode : {"recurrence", "folded"}) {
    CAPTURE(mode);
    auto r = cli({"run", path, "--mode", mode, "--out", dir.file("out.csv"), "--quiet"});
    CHECK(r.rc == 2);
    CHECK(contains(r.err, "error: --mode: " + path + ": point 3 of 4 (tokens 8192, ring_size 4): mode " + mode));
    CHECK(dir.entries() == std::vector<std::string>{"shared.yaml"});
  }
  CHECK(cli({"run", path, "--mode", "event", "--quiet"}).rc == 0);
}

TEST_CASE("ringsim outputs: the partial file is created exclusively, never through a planted symlink") {
  TempDir dir;
  const std::string tiny = dir.write("tiny.yaml", kTiny);
  const std::string victim = dir.write("victim.txt", "keep me\n");
  const std::string out = dir.file("out.json");
  std::filesystem::create_symlink(victim, out + ".partial");     // planted
  dir.write("out.json.partial.1", "another run's partial\n");  // in use
  auto r = cli({"run", tiny, "--format", "json", "--out", out, "--quiet"});
  REQUIRE(r.rc == 0);
  CHECK(read_file(victim) == "keep me\n");
  CHECK(read_file(out + ".partial.1") == "another run's partial\n");
  CHECK(json::parse(read_file(out)).at("points").size() == 4);
  CHECK_FALSE(std::filesystem::exists(out + ".partial.2"));  // renamed to out.json
}

TEST_CASE("ringsim outputs: a point that fails keeps the finished points, and says so only when there are some") {
  TempDir dir;
  // 1e-4 B/s between nodes: a ring of 2 GPUs on 2 nodes passes 292 years.
  std::string yaml = replace_line(kTiny, 7, "  gpus_per_node: 1");
  yaml = replace_line(yaml, 9, "  inter_node: {bandwidth: 1e-4, latency: \"5 us\"}");
  const std::string first_ok = dir.write("first-ok.yaml", yaml);
  const std::string out = dir.file("out.csv");
  auto r = cli({"run", first_ok, "--format", "csv", "--out", out, "--quiet"});
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "error: " + first_ok + ": point 2 of 4 (tokens 4096, ring_size 2): "));
  CHECK(contains(r.err, "; the finished points are kept in " + out + ".partial"));
  CHECK_FALSE(std::filesystem::exists(out));
  const std::string kept = read_file(out + ".partial");
  CHECK(count(kept, "\n4096,1,1,1,4096,") == 1);  // point 1, whole
  CHECK(kept.back() == '\n');
  std::filesystem::remove(out + ".partial");

  const std::string none_ok = dir.write("none-ok.yaml", replace_line(yaml, 11, "  - {ring_size: 2}"));
  auto none = cli({"run", none_ok, "--format", "csv", "--out", out, "--quiet"});
  CHECK(none.rc == 1);
  CHECK(contains(none.err, "point 1 of 4"));
  CHECK_FALSE(contains(none.err, "kept"));
  CHECK(dir.entries() == std::vector<std::string>{"first-ok.yaml", "none-ok.yaml"});
}

TEST_CASE("ringsim outputs: a write that fails (standard output on a full disk) exits 1") {
  TempDir dir;
  const std::string tiny = dir.write("tiny.yaml", kTiny);
  for (const std::vector<std::string>& args : {std::vector<std::string>{"run", tiny, "--quiet"},
                                               std::vector<std::string>{"profiles"},
                                               std::vector<std::string>{"--help"}}) {
    CAPTURE(args[0]);
    FullBuffer full;
    std::ostream out(&full);
    std::ostringstream err;
    CHECK(ringsim::run_cli(args, out, err) == 1);
    CHECK(contains(err.str(), "cannot write to standard output"));
  }
}

TEST_CASE("ringsim outputs: names that hold quotes, line breaks or bytes that are not UTF-8 give valid outputs") {
  TempDir dir;
  const std::string odd = "odd \\\"card\\\", with\\na line break";
  const std::string inline_card = "  device: {name: \"" + odd + "\", card: \"" + odd +
                                  "\", source: datasheet, memory: \"8 GiB\", hbm_bandwidth: \"1 TB/s\", tflops: 100}";
  // A file name that is not UTF-8 reaches the outputs through the scenario's path.
  const std::string path = dir.write("tiny-\xff\xfe.yaml", replace_line(kTiny, 6, inline_card));
  auto j = cli({"run", path, "--format", "json", "--quiet"});
  REQUIRE(j.rc == 0);
  const json parsed = json::parse(j.out);  // throws on invalid UTF-8 or bad escapes
  CHECK(parsed.at("header").at("card") == "odd \"card\", with\na line break");
  auto csv = cli({"run", path, "--format", "csv", "--quiet"});
  REQUIRE(csv.rc == 0);
  std::istringstream lines(csv.out);
  std::string line;
  for (int n = 0; std::getline(lines, line) && line.rfind("tokens,", 0) != 0; ++n) {
    CAPTURE(n);
    CHECK(line.rfind("# ", 0) == 0);  // every preamble line is a comment
  }
  CHECK(line.rfind("tokens,", 0) == 0);
  auto table = cli({"run", path, "--quiet"});
  CHECK(count(table.out.substr(0, table.out.find("\n\n")), "\n") == 6);  // 7 header lines, one line each
}

TEST_CASE("ringsim outputs: --trace draws each point as its own process, sampled devices as named threads") {
  TempDir dir;
  const std::string trace = dir.file("trace.json");
  auto r = cli({"run", dir.write("tiny.yaml", kTiny), "--trace", trace, "--trace-devices", "0-1,6", "--format", "json",
                "--quiet"});
  REQUIRE(r.rc == 0);
  const json j = json::parse(r.out);
  for (const json& p : j.at("points")) CHECK(p.at("mode") == "event");
  const ringsim::test::ParsedTrace t = ringsim::test::parse_trace(read_file(trace));
  REQUIRE(t.processes.size() == 4);  // one per point
  CHECK(t.processes.at(1) == "point 1 of 4 (tokens 4096, ring_size 1)");
  CHECK(t.processes.at(4) == "point 4 of 4 (tokens 4096, ring_size 8)");
  std::set<long long> devices_of_last;
  for (const auto& [key, name] : t.threads)
    if (key.first == 4) devices_of_last.insert(key.second / 2);
  CHECK(devices_of_last == std::set<long long>{0, 1, 6});
  CHECK(t.threads.at({4, 12}) == "device 6");
  CHECK(t.threads.at({4, 13}) == "device 6 send");
  CHECK_FALSE(t.flows.empty());
  CHECK(t.unpaired_flow_events == 0);
  CHECK_FALSE(std::filesystem::exists(trace + ".partial"));
}
