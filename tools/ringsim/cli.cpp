// ringsim's command line: CLI11 subcommands with typed options, help with
// examples, "did you mean" for misspelled options and commands, and the exit
// codes (0 success, 2 usage or bad input, 1 a failure while running). Each
// command's work lives in its own file; this is the only file that includes
// CLI11 (it is heavy to compile).
#include "tools/ringsim/cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <iostream>
#include <map>

#include "models/input_error.hpp"
#include "models/profile.hpp"
#include "models/suggest.hpp"
#include "tools/common/cli_errors.hpp"
#include "tools/ringsim/cli_common.hpp"
#include "tools/ringsim/output_file.hpp"
#include "tools/ringsim/sweep_mpi.hpp"

namespace ringsim {

namespace {

using cli::CsvHeader;
using cli::Format;

const std::map<std::string, Format> kFormats{{"table", Format::kTable}, {"csv", Format::kCsv}, {"json", Format::kJson}};
const std::map<std::string, Mode> kModes{
    {"auto", Mode::kAuto}, {"event", Mode::kEvent}, {"recurrence", Mode::kRecurrence}, {"folded", Mode::kFolded},
    {"walk", Mode::kWalk}};
const std::map<std::string, CsvHeader> kCsvHeaders{{"comments", CsvHeader::kComments}, {"plain", CsvHeader::kPlain}};

// An option with named values ("--format csv"): listed in the help as
// table|csv|json with its default, checked by CLI11 (a typo gets the list).
template <typename T>
CLI::Option* add_choice(CLI::App* app, const std::string& flags, T& target, const std::map<std::string, T>& names,
                        const std::string& what) {
  std::vector<std::string> keys, shown;
  std::string current;
  for (const auto& [name, value] : names) {
    keys.push_back(name);
    if (value == target) current = name;
  }
  return app->add_option_function<std::string>(flags, [&target, &names](const std::string& v) { target = names.at(v); },
                                               what)
      ->check(CLI::IsMember(keys).description(""))
      ->type_name(fmt::format("{}", fmt::join(keys, "|")))
      ->default_str(current);
}

// A repeatable --set KEY=VALUE (models/overrides.hpp), applied in order.
void add_sets(CLI::App* app, std::vector<std::string>& sets) {
  app->add_option("--set", sets, "Change a scenario value (repeatable), e.g. --set parallel.tensor=8")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
}

struct Commands {
  CLI::App app{"ringsim: discrete-event simulator of ring attention at extreme device counts", "ringsim"};
  CLI::App* run = nullptr;
  CLI::App* report = nullptr;
  CLI::App* plan = nullptr;
  CLI::App* profiles = nullptr;
  cli::RunOptions run_options;
  cli::ReportOptions report_options;
  cli::PlanCommandOptions plan_options;
  std::string profile_dir;
};

void add_run_command(Commands& c) {
  cli::RunOptions& o = c.run_options;
  CLI::App* run = c.run = c.app.add_subcommand("run", "Simulate every point of a scenario (each point's schedule: pass-kv, pass-q, ulysses, ...)");
  run->add_option("SCENARIO", o.scenario, "Scenario YAML (format: README, models/scenario.hpp)")
      ->required()
      ->type_name("FILE");
  add_choice(run, "-f,--format", o.format, kFormats, "Output format");
  run->add_option("-o,--out", o.out, "Write results to FILE (streamed into FILE.partial, renamed when complete)")
      ->type_name("FILE");
  add_choice(run, "--mode", o.mode, kModes, "Simulation mode (auto: the fastest exact one)");
  run->add_option("-j,--threads", o.threads, "Threads of the recurrence and folded modes (0: all cores)")
      ->check(CLI::Range(0, 4096))
      ->type_name("N")
      ->capture_default_str();
  run->add_option("--trace", o.trace, "Chrome/Perfetto trace of every point (forces --mode event)")->type_name("FILE");
  run->add_option("--trace-devices", o.trace_devices, "Devices to draw in the trace, e.g. 0-15,1024 (default: all)")
      ->type_name("LIST");
  add_choice(run, "--csv-header", o.csv_header, kCsvHeaders,
             "CSV: '#' lines naming scenario and profile first, or the header row alone");
  add_sets(run, o.sets);
  run->add_flag("-q,--quiet", o.quiet, "No progress on stderr");
  run->footer(
      "Examples:\n"
      "  ringsim run scenarios/default.yaml\n"
      "  ringsim run scenarios/seed-billion-token.yaml --format csv --csv-header plain -o seed.csv\n"
      "  ringsim run scenarios/validate-1gpu-causal.yaml --trace t.json --trace-devices 0-3\n"
      "  ringsim run scenarios/seed-trillion.yaml --mode walk\n"
      "  ringsim run scenarios/plan-llama3-70b.yaml --set parallel.tensor=8 --set sequence.tokens=1048576\n"
      "  mpirun -n 4 ringsim run scenarios/seed-billion-token-causal-zigzag.yaml -o zigzag.csv -f csv\n"
      "Exit codes: 0 done; 2 bad input or options (FILE:LINE: KEY: message); 1 a failure while simulating.");
}

void add_report_command(Commands& c) {
  cli::ReportOptions& o = c.report_options;
  CLI::App* report = c.report =
      c.app.add_subcommand("report", "Simulate a scenario and set it beside claimed results (a claims CSV)");
  report->add_option("SCENARIO", o.scenario, "Scenario YAML")->required()->type_name("FILE");
  report->add_option("--claims", o.claims, "Claims CSV (default: seed-claims.csv next to SCENARIO)")->type_name("CSV");
  report->add_option("--device", o.devices, "Also simulate on this profile (name or path; repeatable)")
      ->type_name("PROFILE");
  add_choice(report, "-f,--format", o.format, kFormats, "Output format");
  report->add_option("-o,--out", o.out, "Write the report to FILE")->type_name("FILE");
  add_choice(report, "--csv-header", o.csv_header, kCsvHeaders, "CSV: '#' lines first, or the header row alone");
  add_sets(report, o.sets);
  report->add_flag("-q,--quiet", o.quiet, "No progress on stderr");
  report->footer(
      "Examples:\n"
      "  ringsim report scenarios/seed-billion-token.yaml --device gtx-1080\n"
      "  ringsim report my.yaml --claims their-results.csv --format json -o report.json\n"
      "  ringsim report scenarios/seed-billion-token.yaml --set attention.causal=true");
}

void add_plan_command(Commands& c) {
  cli::PlanCommandOptions& o = c.plan_options;
  CLI::App* plan = c.plan = c.app.add_subcommand(
      "plan", "Fewest GPUs that fit, and the fastest tensor degree, schedule and layout per GPU count");
  plan->add_option("SCENARIO", o.scenario, "Scenario YAML (its sweep's GPU counts: ring_size x parallel.tensor)")
      ->required()
      ->type_name("FILE");
  add_choice(plan, "-f,--format", o.format, kFormats, "Output format");
  plan->add_option("-o,--out", o.out, "Write the plan to FILE")->type_name("FILE");
  add_choice(plan, "--mode", o.mode, kModes, "Simulation mode of each candidate (as for run)");
  plan->add_option("-j,--threads", o.threads, "Threads of the recurrence and folded modes (0: all cores)")
      ->check(CLI::Range(0, 4096))
      ->type_name("N")
      ->capture_default_str();
  add_sets(plan, o.sets);
  plan->add_option("--schedules", o.schedules, "Try only these schedules (default: every registered one)")
      ->delimiter(',')
      ->type_name("A,B,...");
  plan->add_flag("-q,--quiet", o.quiet, "No progress on stderr");
  plan->footer(
      "Examples:\n"
      "  ringsim plan scenarios/plan-llama3-70b.yaml\n"
      "  ringsim plan scenarios/plan-llama3-8b.yaml --set sequence.tokens=1048576 --format csv -o plan.csv\n"
      "  ringsim plan scenarios/plan-llama3-70b.yaml --schedules pass-kv,ulysses");
}

std::unique_ptr<Commands> make_commands() {
  auto c = std::make_unique<Commands>();
  cli::house_style(c->app);
  c->app.require_subcommand(1);
  c->app.set_version_flag("--version", fmt::format("ringsim {}", cli::kVersion));
  c->app.add_option("--profile-dir", c->profile_dir,
                    "Look up profile names here first (then RINGSIM_PROFILE_DIR, the installed and the source "
                    "profiles; see ringsim profiles)")
      ->type_name("DIR");
  add_run_command(*c);
  add_report_command(*c);
  add_plan_command(*c);
  c->profiles = c->app.add_subcommand("profiles", "List the device profiles and the directories searched for them");
  c->profiles->footer("Examples:\n  ringsim profiles\n  ringsim --profile-dir ~/my-profiles profiles");
  for (const char* tool : {"calibrate", "validate"}) {
    c->app.add_subcommand(tool, fmt::format("Runs ringsim-{} (built with CUDA; needs a GPU): {}", tool,
                                            tool == std::string("calibrate")
                                                ? "time the kernels here and write a profile"
                                                : "compare the simulator with real runs on this machine's GPUs"));
  }
  c->app.footer(
      "Examples:\n"
      "  ringsim run scenarios/default.yaml\n"
      "  ringsim run scenarios/seed-billion-token.yaml --format json -o seed.json\n"
      "  ringsim report scenarios/seed-billion-token.yaml --device gtx-1080\n"
      "  ringsim plan scenarios/plan-llama3-70b.yaml\n"
      "  ringsim profiles\n"
      "Run 'ringsim COMMAND --help' for a command's options and examples.");
  return c;
}

const CLI::App* find_command(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (sub->get_name() == name) return sub;
  return nullptr;
}

// "ringsim" or "ringsim run"
std::string command_of(const CLI::App& app) { return app.get_parent() ? "ringsim " + app.get_name() : "ringsim"; }

// The command word, skipping --profile-dir DIR before it; "" if none.
std::string command_word(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--profile-dir") ++i;
    else if (args[i].empty() || args[i][0] != '-') return args[i];
  }
  return "";
}

int dispatch(Commands& c, cli::Io io) {
  std::error_code ec;
  if (!c.profile_dir.empty() && !std::filesystem::is_directory(c.profile_dir, ec))
    throw InputError("--profile-dir", 0, "", fmt::format("{} is not a directory", c.profile_dir));
  set_profile_dir_flag(c.profile_dir);  // "" when not given: a previous call's flag never lingers
  try {
    if (c.run->parsed()) return cli::run_command(c.run_options, io);
    if (c.report->parsed()) return cli::report_command(c.report_options, io);
    if (c.plan->parsed()) return cli::plan_command(c.plan_options, io);
    return cli::profiles_command(io);
  } catch (const cli::UsageError& e) {
    const CLI::App& app = c.run->parsed()      ? *c.run
                          : c.report->parsed() ? *c.report
                          : c.plan->parsed()   ? *c.plan
                                               : *c.profiles;
    return cli::usage_error(app, command_of(app), e.what(), io.err);
  }
}

int parse_and_run(const std::vector<std::string>& args, cli::Io io) {
  const std::string command = command_word(args);
  if (command == "calibrate" || command == "validate") return cli::hand_over(args, io);
  if (command == "run" && !cli::mpi_built_in() && cli::mpi_world().size > 1) return cli::hand_over_mpi(args, io);
  auto c = make_commands();
  if (command == "help") {
    const std::string topic = args.size() > 1 ? args[1] : "";
    const CLI::App& app = find_command(c->app, topic) ? *find_command(c->app, topic) : c->app;
    io.out << cli::help_of(app, command_of(app));
    return 0;
  }
  if (!command.empty() && find_command(c->app, command) == nullptr) {
    std::vector<std::string> names;
    for (const CLI::App* sub : c->app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
    auto best = closest_name(command, names);
    return cli::usage_error(c->app, "ringsim",
                            fmt::format("unknown command '{}'{}", command,
                                        best ? fmt::format(" (did you mean {}?)", *best) : ""), io.err);
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    c->app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    const auto parsed = c->app.get_subcommands();
    const CLI::App& where = parsed.empty() ? c->app : *parsed.back();
    return cli::parse_error(where, command_of(where), e, io.out, io.err);
  }
  return dispatch(*c, io);
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  cli::Io io{out, err, &err == &std::cerr && isatty(STDERR_FILENO)};
  try {
    const int rc = parse_and_run(args, io);
    cli::flush_checked(out, "standard output");
    return rc;
  } catch (const InputError& e) {
    fmt::print(err, "error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(err, "error: {}\n", e.what());
    return 1;
  }
}

}  // namespace ringsim
