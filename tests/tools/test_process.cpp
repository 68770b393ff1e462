// The real ringsim binary as a child process: signals, write errors on
// standard output, the git-style hand-over to ringsim-calibrate, a DESTDIR
// install that finds its profiles next to itself, and MPI sweeps (2 ranks,
// where mpirun is installed) writing the same bytes as one process.
#include <doctest/doctest.h>
#include <signal.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/common/child_process.hpp"
#include "tests/tools/tool_fixtures.hpp"

using namespace ringsim::test;
namespace fs = std::filesystem;

namespace {

const std::string kRingsim = RINGSIM_EXE;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// Byte ranges of a CSV row's cells (RFC 4180: commas inside quotes belong
// to the cell); a second splitter, independent of tools/ringsim/csv.cpp.
std::vector<std::pair<std::size_t, std::size_t>> cell_ranges(const std::string& row) {
  std::vector<std::pair<std::size_t, std::size_t>> cells;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= row.size(); ++i) {
    if (i < row.size() && row[i] == '"') quoted = !quoted;
    if (i == row.size() || (row[i] == ',' && !quoted)) {
      cells.push_back({start, i});
      start = i + 1;
    }
  }
  return cells;
}

// The CSV without its wall_seconds column (the one figure that differs run to run).

// A sweep whose first points finish at once and whose last ones take
// seconds (ring 65,536 and 262,144, every device every step).
std::string slow_sweep(TempDir& dir) {
  return dir.write("slow.yaml", read_file(scenario_dir() + "/seed-billion-token-causal-contiguous.yaml"));
}

}  // namespace

TEST_CASE("ringsim process: standard output on a full disk (/dev/full) exits 1") {
  TempDir dir;
  const std::string tiny = dir.write("tiny.yaml", kTiny);
  for (const std::vector<std::string>& args : {std::vector<std::string>{kRingsim, "run", tiny, "--quiet"},
                                               std::vector<std::string>{kRingsim, "--help"},
                                               std::vector<std::string>{kRingsim, "profiles"}}) {
    CAPTURE(args[1]);
    ChildOptions o;
    o.stdout_path = "/dev/full";
    const ChildResult r = run_child(args, o);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "cannot write to standard output"));
  }
}

TEST_CASE("ringsim process: SIGINT and SIGTERM keep the finished points in FILE.partial and never write FILE") {
  TempDir dir;
  const std::string scenario = slow_sweep(dir);
  for (int sig : {SIGINT, SIGTERM}) {
    CAPTURE(sig);
    const std::string out = dir.file(sig == SIGINT ? "int.csv" : "term.csv");
    Child child({kRingsim, "run", scenario, "--format", "csv", "--out", out, "--quiet"}, {});
    // Wait for 10 points (of 16): the run is then inside a long one.
    const bool ten = child.wait_until([&] { return lines_of(read_file(out + ".partial")).size() >= 5 + 10; });
    REQUIRE(ten);
    child.signal(sig);
    const ChildResult r = child.wait();
    CHECK(r.signal == sig);
    CHECK_FALSE(fs::exists(out));
    const std::string kept = read_file(out + ".partial");
    REQUIRE_FALSE(kept.empty());
    CHECK(kept.back() == '\n');  // whole rows only
    int rows = 0;
    std::size_t columns = 0;
    for (const std::string& row : lines_of(kept)) {
      if (row[0] == '#') continue;
      if (row.rfind("tokens,", 0) == 0) {
        columns = cell_ranges(row).size();
        continue;
      }
      CHECK(std::isdigit(static_cast<unsigned char>(row.front())));  // tokens
      CHECK(cell_ranges(row).size() == columns);                    // the row is whole
      ++rows;
    }
    CHECK(rows >= 10);
    CHECK(rows < 16);
    CHECK(contains(r.err, "finished points kept in " + out + ".partial"));
  }
}

TEST_CASE("ringsim process: a signal before any point finishes removes the partial files") {
  TempDir dir;
  std::string yaml = read_file(slow_sweep(dir));
  yaml = yaml.substr(0, yaml.find("sweep:")) + "sweep:\n  - {tokens: 1073741824, ring_size: 262144}\n";
  const std::string scenario = dir.write("one-slow.yaml", yaml);
  Child child({kRingsim, "run", scenario, "--format", "json", "--out", dir.file("r.json"), "--trace",
               dir.file("t.json"), "--quiet"}, {});
  child.wait_until([&] { return fs::exists(dir.file("t.json.partial")); });
  child.signal(SIGTERM);
  const ChildResult r = child.wait();
  CHECK(r.signal == SIGTERM);
  CHECK(contains(r.err, "no point finished, removed " + dir.file("r.json.partial")));
  CHECK(dir.entries() == std::vector<std::string>{"one-slow.yaml", "slow.yaml"});
}

TEST_CASE("ringsim process: calibrate and validate hand over to ringsim-calibrate and ringsim-validate") {
  TempDir bin;
  // A stand-in on PATH: ringsim runs it with the remaining arguments.
  const std::string fake = bin.write("ringsim-calibrate", "#!/bin/sh\necho \"fake calibrate: $*\"\nexit 3\n");
  fs::permissions(fake, fs::perms::owner_all);
  ChildOptions o;
  o.set_env = {"PATH=" + bin.file("")};
#ifdef RINGSIM_TEST_CUDA_TOOLS
  // The real one, linked beside ringsim in the build tree, comes before PATH.
  const ChildResult help = run_child({kRingsim, "calibrate", "--help"}, o);
  CHECK(help.exit_code == 0);
  CHECK(contains(help.out, "usage: ringsim calibrate"));
  CHECK(contains(help.out, "Times the chunk-attention kernels"));
  const ChildResult bad = run_child({kRingsim, "validate", "--no-such-option", "x.yaml"}, o);
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.err, "usage: ringsim validate"));
#else
  const ChildResult r = run_child({kRingsim, "calibrate", "--grid", "quick", "--out", "p.yaml"}, o);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "fake calibrate: --grid quick --out p.yaml\n");
  const ChildResult missing = run_child({kRingsim, "validate", "x.yaml"}, o);
  CHECK(missing.exit_code == 2);
  CHECK(contains(missing.err, "'validate' is the separate program ringsim-validate"));
#endif
}

#ifdef RINGSIM_TEST_CUDA_TOOLS
TEST_CASE("ringsim process: validate runs named stragglers for real and refuses other faults before any GPU work") {
  TempDir dir;
  const std::string scenario = scenario_dir() + "/validate-2gpu-straggler.yaml";
  const ChildResult jitter = run_child({kRingsim, "validate", scenario, "--set",
                                        "faults={jitter: {distribution: lognormal, sigma: 0.05, seed: 7}}"});
  CHECK(jitter.exit_code == 2);
  CHECK(contains(jitter.err, "command line (--set faults="));
  CHECK(contains(jitter.err, "faults.jitter: ringsim validate slows named devices only"));
  const std::string faster = dir.write(
      "faster.yaml", replace_line(read_file(scenario), 25,
                                  "  - {tokens: 16384, ring_size: 2, faults: {stragglers: [{device: 1, slowdown: 0.5}]}}"));
  const ChildResult fast = run_child({kRingsim, "validate", faster});
  CHECK(fast.exit_code == 2);
  CHECK(contains(fast.err, faster + ":25: sweep[1].faults.stragglers[0].slowdown: ringsim validate slows a device"));
}
#endif

TEST_CASE("ringsim process: meson install puts binaries, profiles and scenarios under the prefix, found from there") {
  TempDir dest;
  const ChildResult install = run_child({RINGSIM_MESON, "install", "-C", RINGSIM_BUILD_ROOT, "--no-rebuild",
                                         "--destdir", dest.file(""), "--quiet"});
  REQUIRE_MESSAGE(install.exit_code == 0, install.err);
  // Moved elsewhere after installing: the lookup is relative to the binary.
  const fs::path prefix = dest.file("moved");
  fs::rename(fs::path(dest.file("")) / fs::path(RINGSIM_PREFIX).relative_path(), prefix);
  const std::string ringsim = (prefix / RINGSIM_BINDIR / "ringsim").string();
  const std::string profiles = (prefix / RINGSIM_DATADIR / "ringsim" / "profiles").lexically_normal().string();
  ChildOptions o;
  o.unset_env = {"RINGSIM_PROFILE_DIR"};
  const ChildResult listing = run_child({ringsim, "profiles"}, o);
  REQUIRE(listing.exit_code == 0);
  int shipped = 0;  // the source tree's profiles, all installed
  for (const auto& e : fs::directory_iterator(fs::path(RINGSIM_SCENARIO_DIR) / ".." / "models" / "profiles"))
    shipped += e.path().extension() == ".yaml";
  CHECK(contains(listing.out, fmt::format("3. next to the executable  {} ({} profiles)", profiles, shipped)));
  CHECK(fs::exists(profiles + "/links/nccl-send-recv-h200.yaml"));  // transports too
  CHECK(contains(listing.out, profiles + "/h100-sxm.yaml"));
  const std::string scenarios = (prefix / RINGSIM_DATADIR / "ringsim" / "scenarios").string();
  const ChildResult run = run_child({ringsim, "run", scenarios + "/default.yaml", "--format", "json", "--quiet"}, o);
  REQUIRE(run.exit_code == 0);
  CHECK(nlohmann::json::parse(run.out)["header"]["profile_file"] == profiles + "/h100-sxm.yaml");
  CHECK(fs::exists(scenarios + "/seed-claims.csv"));
  // A tool installed beside ringsim is found there first.
  const std::string fake = (prefix / RINGSIM_BINDIR / "ringsim-validate").string();
  std::ofstream(fake) << "#!/bin/sh\necho installed validate\n";
  fs::permissions(fake, fs::perms::owner_all);
  CHECK(run_child({ringsim, "validate"}, o).out == "installed validate\n");
}

TEST_CASE("ringsim process: a run started by mpirun with no ringsim-mpi to hand over to is refused") {
  TempDir dir;
  const std::string copy = dir.file("ringsim");  // alone in its folder: no ringsim-mpi beside it
  fs::copy_file(kRingsim, copy);
  ChildOptions o;
  o.set_env = {"OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_RANK=0", "PATH=" + dir.file("")};
  const ChildResult r = run_child({copy, "run", dir.write("tiny.yaml", kTiny), "-o", dir.file("out.csv")}, o);
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "started by an MPI launcher as 2 ranks, which needs ringsim-mpi"));
  CHECK_FALSE(fs::exists(dir.file("out.csv")));
}

#ifdef RINGSIM_TEST_MPIRUN
namespace {

// Rows without their last field, wall_seconds: the one figure that differs.
std::string without_wall(const std::string& csv) {
  std::string out;
  std::size_t wall = std::string::npos;
  for (const std::string& row : lines_of(csv)) {
    const auto cells = cell_ranges(row);
    if (row.rfind("tokens,", 0) == 0)
      for (std::size_t i = 0; i < cells.size(); ++i)
        if (row.substr(cells[i].first, cells[i].second - cells[i].first) == "wall_seconds") wall = i;
    if ((!row.empty() && row[0] == '#') || wall >= cells.size()) out += row + "\n";
    else out += row.substr(0, cells[wall].first) + row.substr(cells[wall].second) + "\n";
  }
  REQUIRE(wall != std::string::npos);
  return out;
}

}  // namespace

TEST_CASE("ringsim process: mpirun -n 2 writes the file one process writes, in scenario order") {
  TempDir dir;
  ChildOptions o;
  o.set_env = {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_rmaps_base_oversubscribe=1"};
  for (const char* name : {"default.yaml", "seed-billion-token.yaml", "validate-1gpu-zigzag.yaml"}) {
    CAPTURE(name);
    const std::string scenario = scenario_dir() + "/" + name;
    const ChildResult one = run_child({kRingsim, "run", scenario, "-f", "csv", "-o", dir.file("one.csv"), "-q"}, o);
    const ChildResult two = run_child({RINGSIM_TEST_MPIRUN, "-n", "2", kRingsim, "run", scenario, "-f", "csv", "-o",
                                       dir.file("two.csv"), "-q"}, o);
    REQUIRE(one.exit_code == 0);
    REQUIRE_MESSAGE(two.exit_code == 0, two.err);
    CHECK(without_wall(read_file(dir.file("two.csv"))) == without_wall(read_file(dir.file("one.csv"))));
    const ChildResult json = run_child({RINGSIM_TEST_MPIRUN, "-n", "2", kRingsim, "run", scenario, "-f", "json", "-q"}, o);
    REQUIRE(json.exit_code == 0);
    CHECK(nlohmann::json::parse(json.out)["points"].size() == lines_of(read_file(dir.file("one.csv"))).size() - 5);
  }
}

TEST_CASE("ringsim process: under mpirun a failing point stops every rank and leaves no FILE") {
  TempDir dir;
  std::string yaml = replace_line(kTiny, 7, "  gpus_per_node: 1");
  yaml = replace_line(yaml, 9, "  inter_node: {bandwidth: 1e-4, latency: \"5 us\"}");
  const std::string scenario = dir.write("fails.yaml", yaml);
  ChildOptions o;
  o.set_env = {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_rmaps_base_oversubscribe=1"};
  o.timeout_s = 60;
  const ChildResult r = run_child({RINGSIM_TEST_MPIRUN, "-n", "2", kRingsim, "run", scenario, "-f", "csv", "-o",
                                   dir.file("out.csv"), "-q"}, o);
  INFO("stderr: ", r.err);
  CHECK(r.exit_code != 0);
  CHECK_FALSE(r.timed_out);
  CHECK(contains(r.err, "error: " + scenario + ": point "));  // the largest failing point, on whichever rank
  // Which point fails first differs run to run, and so does which check
  // names the overflow (a transfer's end, or a sum of times); all say 292 years.
  CHECK(contains(r.err, " ns (292 years)"));
  CHECK_FALSE(fs::exists(dir.file("out.csv")));
  // Bad input fails alike on every rank; rank 0 alone says so.
  const std::string bad = dir.write("bad.yaml", replace_line(kTiny, 4, "sequence: {tokens: 4100, ring_size: 4}"));
  const ChildResult b = run_child({RINGSIM_TEST_MPIRUN, "-n", "2", kRingsim, "run", bad, "-q"}, o);
  CHECK(b.exit_code != 0);
  CHECK(count(b.err, "error: " + bad + ":4: sequence.ring_size") == 1);
}
#else
TEST_CASE("ringsim process: MPI sweeps (skipped)") {
  MESSAGE("skipped: this build has no MPI or no mpirun (apt-get install openmpi-bin libopenmpi-dev, reconfigure)");
}
#endif
