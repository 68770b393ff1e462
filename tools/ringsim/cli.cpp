// ringsim CLI: command dispatch, help texts, `profiles`, and the CUDA-only
// commands (calibrate, validate) forwarded when this build has them.
#include "tools/ringsim/cli.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <iostream>
#include <map>

#include "models/profile.hpp"
#include "tools/ringsim/cli_common.hpp"
#ifdef RINGSIM_HAVE_CALIBRATE
#include "tools/calibrate/calibrate.hpp"
#endif
#ifdef RINGSIM_HAVE_VALIDATE
#include "tools/validate/validate.hpp"
#endif

namespace ringsim {

namespace {

constexpr const char* kUsage =
    "usage: ringsim <command> [options]\n"
    "commands:\n"
    "  run SCENARIO       simulate every point of a scenario\n"
    "  report SCENARIO    simulated sweep joined with claimed results (claims CSV)\n"
    "  plan SCENARIO      fewest GPUs that fit, and the fastest schedule/layout/tensor degree per GPU count\n"
    "  profiles           list the shipped device profiles\n"
    "  calibrate ...      time the chunk kernels on this GPU and write a profile (CUDA builds)\n"
    "  validate ...       compare the simulator with real 1-2 GPU runs (CUDA builds)\n"
    "Run 'ringsim <command> --help' for its options.\n";

const std::map<std::string, std::string>& help_texts() {
  static const std::map<std::string, std::string> texts = {
      {"run",
       "usage: ringsim run SCENARIO [options]\n"
       "Simulates the forward pass of pass-KV ring attention at every point of SCENARIO.\n"
       "  --format table|csv|json  output format (default table)\n"
       "  --out FILE               write results to FILE (streamed into FILE.partial, renamed when done)\n"
       "  --mode auto|event|recurrence|folded|walk  simulation mode (default auto: fastest exact one)\n"
       "  --threads N              threads for recurrence/folded modes (0: all cores; default 0)\n"
       "  --trace FILE             Chrome/Perfetto trace of every device (forces --mode event)\n"
       "  --set KEY=VALUE          change a scenario value (repeatable): --set parallel.tensor=8\n"
       "  --quiet                  no progress on stderr\n"},
      {"plan",
       "usage: ringsim plan SCENARIO [options]\n"
       "For each GPU count of SCENARIO's sweep (ring_size x parallel.tensor), tries every tensor degree,\n"
       "schedule and layout, and reports the fastest that fits in memory, and the fewest GPUs that fit.\n"
       "  --format table|csv|json  output format (default table)\n"
       "  --out FILE               write the plan to FILE\n"
       "  --set KEY=VALUE          change a scenario value (repeatable), e.g. --set sequence.tokens=1048576\n"
       "  --schedules A,B,...      try only these schedules (default: every registered one)\n"
       "  --mode M, --threads N    as for run\n"
       "  --quiet                  no progress on stderr\n"
       "example: ringsim plan scenarios/llama3-70b-1m-plan.yaml\n"},
      {"report",
       "usage: ringsim report SCENARIO [options]\n"
       "Simulates SCENARIO and joins it with claimed results by (tokens, ring_size).\n"
       "  --claims CSV             claims file (default: seed-claims.csv next to SCENARIO)\n"
       "  --device PROFILE         also simulate on this profile (name or path; repeatable)\n"
       "  --format table|csv|json  output format (default table)\n"
       "  --out FILE               write the report to FILE\n"
       "  --set KEY=VALUE          change a scenario value (repeatable)\n"
       "  --quiet                  no progress on stderr\n"},
      {"profiles", "usage: ringsim profiles\nLists the shipped device profiles and what their numbers are.\n"},
      {"calibrate", "usage: ringsim calibrate [options]   (needs CUDA and a GPU; see 'ringsim calibrate --help' there)\n"},
      {"validate", "usage: ringsim validate [options]    (needs CUDA and a GPU; see 'ringsim validate --help' there)\n"},
  };
  return texts;
}

int profiles_command(const std::vector<std::string>& args, cli::Io io) {
  cli::Args parsed = cli::parse_args(args, 1, {});
  if (!parsed.positional.empty()) throw cli::UsageError("profiles takes no arguments");
  std::string dir = shipped_profile_dir();
  fmt::print(io.out, "shipped profiles ({}):\n", dir);
  fmt::print(io.out, "{:<20} {:<30} {:<34} {:>10} {:>12}  {}\n", "name", "card", "source", "memory",
             "hbm", "dense TFLOP/s");
  for (const std::string& name : shipped_profile_names()) {
    DeviceProfile p = load_profile(name, dir);
    std::string source = p.measured ? fmt::format("measured {}", p.calibration.count("date") ? p.calibration.at("date") : "")
                                    : "datasheet";
    std::vector<std::string> rates;
    for (const auto& [dtype, rate] : p.flops_per_s) rates.push_back(fmt::format("{} {:g}", dtype_name(dtype), rate / 1e12));
    fmt::print(io.out, "{:<20} {:<30} {:<34} {:>10} {:>12}  {}\n", p.name, p.card, source,
               format_bytes(p.memory_bytes), format_rate(p.hbm_bytes_per_s), fmt::join(rates, ", "));
  }
  return 0;
}

// calibrate and validate live in CUDA-only libraries; argv keeps the
// subcommand as argv[0] so they parse their own options.
int forward_cuda(const std::vector<std::string>& args, cli::Io io) {
  [[maybe_unused]] std::vector<std::string> words(args.begin(), args.end());
  [[maybe_unused]] std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
#ifdef RINGSIM_HAVE_CALIBRATE
  if (args[0] == "calibrate") return calibrate_main(static_cast<int>(words.size()), argv.data());
#endif
#ifdef RINGSIM_HAVE_VALIDATE
  if (args[0] == "validate") return validate_main(static_cast<int>(words.size()), argv.data());
#endif
  fmt::print(io.err, "ringsim: '{}' needs CUDA and a GPU; this build has none (rebuild where nvcc is present)\n", args[0]);
  return 2;
}

int dispatch(const std::vector<std::string>& args, cli::Io io) {
  const std::string& command = args[0];
  if (command == "calibrate" || command == "validate") return forward_cuda(args, io);
  auto help = help_texts().find(command);
  if (help == help_texts().end()) throw cli::UsageError(fmt::format("unknown command '{}'", command));
  if (cli::wants_help(args, 1)) {
    io.out << help->second;
    return 0;
  }
  if (command == "run") return cli::run_command(args, io);
  if (command == "report") return cli::report_command(args, io);
  if (command == "plan") return cli::plan_command(args, io);
  return profiles_command(args, io);
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  cli::Io io{out, err, &err == &std::cerr && isatty(STDERR_FILENO)};
  if (args.empty()) {
    err << kUsage;
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    out << kUsage;
    return 0;
  }
  if (args[0] == "--version") {
    fmt::print(out, "ringsim {}\n", cli::kVersion);
    return 0;
  }
  try {
    return dispatch(args, io);
  } catch (const cli::UsageError& e) {
    auto help = help_texts().find(args[0]);
    fmt::print(err, "ringsim: {}\n{}", e.what(), help != help_texts().end() ? help->second : kUsage);
    return 2;
  } catch (const InputError& e) {
    fmt::print(err, "error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(err, "error: {}\n", e.what());
    return 1;
  }
}

}  // namespace ringsim
