// ringsim-simbench: how fast the simulator itself runs on this CPU.
//
// For rings of 1K..262K devices (chunk 4096 tokens, 8 heads, head_dim 64,
// fp16, an inline H100-like datasheet profile, 8 GPUs per node) it runs the
// non-causal ring with the exact recurrence and with folding, and the causal
// contiguous ring with the exact recurrence, and prints device-steps per
// second (wall clock, setup included), per thread, and the process's peak RSS.
// Then the plain event engine at 1K, 2K and 4K devices: non-causal, causal,
// 8 ranks per GPU, with interference shares, and every rank on one GPU; and
// the event engine per schedule (issue 10): every context-parallel schedule
// at 512, 1K and 2K devices on a Llama-3-8B-like attention (ulysses at 8, 16
// and 32 devices: its degree cannot exceed the 32 query heads); --schedule
// runs one, so that the peak RSS printed last is that schedule's alone.
//
//   ringsim-simbench [--max-ring N] [--max-event-ring N] [--max-schedule-ring N] [--threads N]
//                    [--event-only | --schedules-only] [--schedule NAME] [--help]
#include <fmt/format.h>
#include <sys/resource.h>

#include <iostream>
#include <string>
#include <vector>

#include "sim/simulate.hpp"
#include "tools/common/cli_errors.hpp"

using namespace ringsim;

namespace {

constexpr long long kChunkTokens = 4096;
constexpr long long kRings[] = {1024, 4096, 16384, 65536, 262144};
constexpr long long kEventRings[] = {1024, 2048, 4096};

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
                        {true, Mode::kRecurrence, "causal/recurrence"}};
  for (long long ring : kRings) {
    if (ring > max_ring) break;
    for (const Case& c : cases) {
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

// The plain event engine (mode event). ranks_per_gpu 0: every rank on one
// GPU with a 100 GB/s copy engine (50 GB/s of payload), so every transfer
// shares that GPU's copy link and copies outlast the card's computes: all P
// flows of a step run at once (the worst case of max-min sharing).
void run_event_table(long long max_ring) {
  fmt::print("\nevent engine (mode event)\n{:>7} {:<30} {:>11} {:>11} {:>10} {:>12} {:>12} {:>18}\n", "ring",
             "case", "dev-steps", "events", "wall s", "events/s", "dev-steps/s", "makespan (sim.)");
  struct Case {
    const char* label;
    bool causal;
    long long ranks_per_gpu;
    bool interference;
    double copy_bytes_per_s = 0;  // 0: the profile's (HBM)
  };
  const Case cases[] = {{"non-causal", false, 1, false},
                        {"causal", true, 1, false},
                        {"causal/8 ranks per GPU", true, 8, false},
                        {"non-causal/interference", false, 1, true},
                        {"non-causal/1 GPU, copy-bound", false, 0, false, 100e9}};
  for (long long ring : kEventRings) {
    if (ring > max_ring) break;
    for (const Case& c : cases) {
      Scenario s = bench_scenario(c.causal);
      s.ranks_per_gpu = static_cast<int>(c.ranks_per_gpu > 0 ? c.ranks_per_gpu : ring);
      if (c.interference) {
        s.profile.link_compute_share = 0.2;  // each end of a transfer takes 20% of the SMs
        s.profile.copy_compute_share = 0.3;
      }
      if (c.copy_bytes_per_s > 0) s.profile.copy_bytes_per_s = c.copy_bytes_per_s;
      SimOptions o;
      o.mode = Mode::kEvent;
      PointResult r = simulate_point(s, Point{ring * kChunkTokens, ring}, o);
      fmt::print("{:>7} {:<30} {:>11.3e} {:>11.3e} {:>10.3f} {:>12.3e} {:>12.3e} {:>16.6f} s\n", ring, c.label,
                 static_cast<double>(r.device_steps), static_cast<double>(r.events), r.wall_seconds,
                 static_cast<double>(r.events) / r.wall_seconds,
                 static_cast<double>(r.device_steps) / r.wall_seconds, to_seconds(r.makespan_ns));
      std::fflush(stdout);
    }
  }
}

struct ScheduleCase {
  const char* schedule;
  long long rings[3];
};
constexpr ScheduleCase kScheduleCases[] = {
    {"pass-kv", {512, 1024, 2048}}, {"pass-q", {512, 1024, 2048}},      {"all-gather", {512, 1024, 2048}},
    {"usp", {512, 1024, 2048}},     {"double-ring", {512, 1024, 2048}}, {"ulysses", {8, 16, 32}}};

// The event engine per schedule (issue 10): each schedule of the shipped
// comparison (scenarios/cp-schedules-8b.yaml) on a Llama-3-8B-like attention
// (32 q heads, 8 kv heads, head_dim 128, bf16, causal; zigzag for the ring
// schedules, contiguous for ulysses), chunk 4096 tokens per device, 8 GPUs
// per node. usp: Ulysses 8 inside a node x a ring across nodes; double-ring:
// inner ring of 8 x outer ring. Device-steps: the programs' WAIT_ALLs.
void run_schedule_table(long long max_ring, const std::string& only) {
  fmt::print("\nevent engine per schedule (mode event; 32 q / 8 kv heads, head_dim 128, bf16, causal)\n"
             "{:>7} {:<12} {:<20} {:>11} {:>11} {:>10} {:>12} {:>18}\n",
             "ring", "schedule", "detail", "dev-steps", "events", "wall s", "events/s", "makespan (sim.)");
  for (const ScheduleCase& c : kScheduleCases) {
    if (!only.empty() && only != c.schedule) continue;
    for (long long ring : c.rings) {
      if (ring > max_ring) continue;
      Scenario s = bench_scenario(true);
      s.shape = AttentionShape{32, 8, 128, DType::kBf16};
      s.schedule = c.schedule;
      s.layout = s.schedule == "ulysses" ? Layout::kContiguous : Layout::kZigzag;
      SimOptions o;
      o.mode = Mode::kEvent;
      PointResult r = simulate_point(s, Point{ring * kChunkTokens, ring}, o);
      fmt::print("{:>7} {:<12} {:<20} {:>11.3e} {:>11.3e} {:>10.3f} {:>12.3e} {:>16.6f} s\n", ring, r.schedule,
                 r.schedule_detail, static_cast<double>(r.device_steps), static_cast<double>(r.events),
                 r.wall_seconds, static_cast<double>(r.events) / r.wall_seconds, to_seconds(r.makespan_ns));
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  long long max_ring = 262144, max_event_ring = 4096, max_schedule_ring = 2048;
  int threads = 0;
  bool event_only = false, schedules_only = false;
  std::string only_schedule;
  CLI::App app{"How fast the simulator itself runs on this CPU: device-steps per second and peak RSS of its modes "
               "(rings of 1K to 262K devices), the event engine, and the event engine per schedule",
               "ringsim-simbench"};
  ringsim::cli::house_style(app);
  app.add_option("--max-ring", max_ring, "Largest ring to run (rings are 1K 4K 16K 64K 262K)")
      ->check(CLI::Range(1LL, 262144LL))
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--max-event-ring", max_event_ring, "Largest ring of the event engine (rings are 1K 2K 4K)")
      ->check(CLI::Range(1LL, 4096LL))
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--max-schedule-ring", max_schedule_ring,
                 "Largest ring of the per-schedule table (rings are 512 1K 2K; ulysses 8 16 32)")
      ->check(CLI::Range(1LL, 2048LL))
      ->type_name("N")
      ->capture_default_str();
  app.add_option("-j,--threads", threads, "Threads of the recurrence (0: all cores)")
      ->check(CLI::Range(0, 4096))
      ->type_name("N")
      ->capture_default_str();
  CLI::Option* event = app.add_flag("--event-only", event_only, "Only the event engine's table");
  CLI::Option* schedules =
      app.add_flag("--schedules-only", schedules_only, "Only the per-schedule table of the event engine");
  event->excludes(schedules);
  std::vector<std::string> names;
  for (const ScheduleCase& c : kScheduleCases) names.emplace_back(c.schedule);
  app.add_option("--schedule", only_schedule,
                 "Only that schedule in the per-schedule table (implies --schedules-only: the peak RSS printed "
                 "is then this schedule's)")
      ->check(CLI::IsMember(names))
      ->type_name("NAME")
      ->excludes(event);
  app.footer("Examples:\n  ringsim-simbench\n  ringsim-simbench --max-ring 65536 --threads 1\n"
             "  ringsim-simbench --event-only --max-event-ring 2048\n"
             "  ringsim-simbench --schedules-only --max-schedule-ring 1024\n"
             "  ringsim-simbench --schedule pass-q\n"
             "  meson benchmark -C build   (runs it with --max-ring 65536)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ringsim::cli::parse_error(app, "ringsim-simbench", e, std::cout, std::cerr);
  }
  if (!only_schedule.empty()) schedules_only = true;  // the peak RSS printed is then this schedule's
  fmt::print("ringsim-simbench: measured wall-clock speed of the simulator on this CPU "
             "(setup included); makespans are simulated with estimated compute "
             "(roofline, datasheet profile)\n");
  fmt::print("chunk {} tokens, 8 heads, head_dim 64, fp16, 8 GPUs/node, NVLink 450 GB/s 2 us, "
             "IB 50 GB/s 5 us, threads requested {}\n", kChunkTokens, threads);
  // The sweep first, so its peak RSS is its own.
  if (!event_only && !schedules_only) {
    run_seed_sweep(max_ring, threads);
    run_ring_table(max_ring, threads);
  }
  if (!schedules_only) run_event_table(max_event_ring);
  if (!event_only) run_schedule_table(max_schedule_ring, only_schedule);
  fmt::print("peak RSS {:.1f} MiB (process)\n", peak_rss_mib());
  return 0;
}
