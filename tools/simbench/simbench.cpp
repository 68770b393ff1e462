// ringsim-simbench: how fast the simulator itself runs on this CPU.
//
// For rings of 1K..262K devices (chunk 4096 tokens, 8 heads, head_dim 64,
// fp16, an inline H100-like datasheet profile, 8 GPUs per node) it runs the
// non-causal ring with the exact recurrence and with folding, and the causal
// contiguous ring with the exact recurrence (and the plain event engine up
// to 4K devices), and prints device-steps per
// second (wall clock, setup included), per thread, and the process's peak RSS.
//
//   ringsim-simbench [--max-ring N] [--threads N] [--help]
#include <fmt/format.h>
#include <sys/resource.h>

#include <iostream>
#include <string>

#include "sim/simulate.hpp"
#include "tools/common/cli_errors.hpp"

using namespace ringsim;

namespace {

constexpr long long kChunkTokens = 4096;
constexpr long long kMaxEventRing = 4096;  // the plain engine: ~1e6-1e7 events/s
constexpr long long kRings[] = {1024, 4096, 16384, 65536, 262144};

Scenario bench_scenario(bool causal) {
  Scenario s;
  s.name = causal ? "simbench-causal" : "simbench-noncausal";
  s.path = "inline";
  s.shape = AttentionShape{8, 8, 64, DType::kFp16};
  s.causal = causal;
  s.layout = Layout::kContiguous;
  // The shipped datasheet roofline: the benchmark times the simulator, and a
  // calibrated profile would change nothing but the labels.
  s.profile = load_profile("h100-sxm-datasheet", ".");
  s.gpus_per_node = 8;
  s.intra_node = LinkSpec{450e9, 2000};
  s.inter_node = LinkSpec{50e9, 5000};
  return s;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

// The 16 (tokens, ring_size) points of scenarios/seed-billion-token.yaml
// (non-causal, chunk 4096 from ring 8 on), here with the inline profile.
constexpr long long kSeedPoints[][2] = {
    {8192, 1},          {8192, 4},          {32768, 8},         {131072, 32},
    {524288, 128},      {1048576, 256},     {2097152, 512},     {4194304, 1024},
    {8388608, 2048},    {16777216, 4096},   {33554432, 8192},   {67108864, 16384},
    {134217728, 32768}, {268435456, 65536}, {536870912, 131072}, {1073741824, 262144}};

void run_seed_sweep(long long max_ring, int threads) {
  fmt::print("seed sweep (points of scenarios/seed-billion-token.yaml, non-causal, mode auto)\n");
  fmt::print("{:>7} {:>12} {:<11} {:>10} {:>18}\n", "ring", "tokens", "mode", "wall s", "makespan (sim.)");
  double total_s = 0;
  int points = 0;
  for (const auto& p : kSeedPoints) {
    if (p[1] > max_ring) break;
    Scenario s = bench_scenario(false);
    SimOptions o;
    o.threads = threads;
    PointResult r = simulate_point(s, Point{p[0], p[1]}, o);
    total_s += r.wall_seconds;
    ++points;
    fmt::print("{:>7} {:>12} {:<11} {:>10.3f} {:>16.6f} s\n", p[1], p[0], mode_name(r.mode), r.wall_seconds,
               to_seconds(r.makespan_ns));
  }
  fmt::print("seed sweep: {} points in {:.3f} s wall (measured), peak RSS {:.1f} MiB (process so far)\n", points,
             total_s, peak_rss_mib());
}

void run_ring_table(long long max_ring, int threads) {
  fmt::print("\n{:>7} {:<22} {:>11} {:>8} {:>10} {:>16} {:>16} {:>13} {:>18}\n", "ring", "attention/mode",
             "dev-steps", "threads", "wall s", "dev-steps/s", "per thread", "peak RSS MiB",
             "makespan (sim.)");
  struct Case {
    bool causal;
    Mode mode;
    const char* label;
  };
  const Case cases[] = {{false, Mode::kRecurrence, "non-causal/recurrence"},
                        {false, Mode::kFolded, "non-causal/folded"},
                        {true, Mode::kRecurrence, "causal/recurrence"},
                        {true, Mode::kEvent, "causal/event"}};
  for (long long ring : kRings) {
    if (ring > max_ring) break;
    for (const Case& c : cases) {
      if (c.mode == Mode::kEvent && ring > kMaxEventRing) continue;
      Scenario s = bench_scenario(c.causal);
      Point pt{ring * kChunkTokens, ring};
      SimOptions o;
      o.mode = c.mode;
      o.threads = threads;
      PointResult r = simulate_point(s, pt, o);
      const double rate = static_cast<double>(r.device_steps) / r.wall_seconds;
      fmt::print("{:>7} {:<22} {:>11.3e} {:>8} {:>10.3f} {:>16.3e} {:>16.3e} {:>13.1f} {:>16.6f} s\n", ring,
                 c.label, static_cast<double>(r.device_steps), r.threads, r.wall_seconds, rate,
                 rate / r.threads, peak_rss_mib(), to_seconds(r.makespan_ns));
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  long long max_ring = 262144;
  int threads = 0;
  CLI::App app{"How fast the simulator itself runs on this CPU: device-steps per second and peak RSS of its modes, "
               "rings of 1K to 262K devices",
               "ringsim-simbench"};
  ringsim::cli::house_style(app);
  app.add_option("--max-ring", max_ring, "Largest ring to run (rings are 1K 4K 16K 64K 262K)")
      ->check(CLI::Range(1LL, 262144LL))
      ->type_name("N")
      ->capture_default_str();
  app.add_option("-j,--threads", threads, "Threads of the recurrence (0: all cores)")
      ->check(CLI::Range(0, 4096))
      ->type_name("N")
      ->capture_default_str();
  app.footer("Examples:\n  ringsim-simbench\n  ringsim-simbench --max-ring 65536 --threads 1\n"
             "  meson benchmark -C build   (runs it with --max-ring 65536)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ringsim::cli::parse_error(app, "ringsim-simbench", e, std::cout, std::cerr);
  }
  fmt::print("ringsim-simbench: measured wall-clock speed of the simulator on this CPU "
             "(setup included); makespans are simulated with estimated compute "
             "(roofline, datasheet profile)\n");
  fmt::print("chunk {} tokens, 8 heads, head_dim 64, fp16, 8 GPUs/node, NVLink 450 GB/s 2 us, "
             "IB 50 GB/s 5 us, threads requested {}\n", kChunkTokens, threads);
  // The sweep first, so its peak RSS is its own.
  run_seed_sweep(max_ring, threads);
  run_ring_table(max_ring, threads);
  return 0;
}
