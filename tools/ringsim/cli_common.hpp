// What the ringsim commands share: their options (filled by the CLI11
// parser in cli.cpp, the only file that includes CLI11), I/O streams, the
// output format. Internal to tools/ringsim.
//
// Adding an option to a command: a field in its *Options struct here, one
// add_option/add_flag line in its add_*_command function in cli.cpp (with
// a line in that command's examples if it is worth one), and its use in the
// command's file.
#pragma once
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/input_error.hpp"
#include "models/overrides.hpp"
#include "sim/simulate.hpp"

namespace ringsim::cli {

inline constexpr const char* kVersion = RINGSIM_VERSION;

// A wrong command line found after parsing (conflicting options): printed
// with the command's usage, exit 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Format { kTable, kCsv, kJson };
// kComments: '#' lines naming scenario, profile, labels before the header
// row; kPlain: the header row only (pandas.read_csv reads it as is).
enum class CsvHeader { kComments, kPlain };

struct RunOptions {
  std::string scenario;
  Format format = Format::kTable;
  std::optional<std::string> out, trace;
  Mode mode = Mode::kAuto;
  int threads = 0;                    // 0: all cores (under MPI: the node's cores / its ranks)
  std::optional<std::string> trace_devices;  // "0-15,1024"; none: every device
  CsvHeader csv_header = CsvHeader::kComments;
  std::vector<std::string> sets;      // --set KEY=VALUE, in order
  bool quiet = false;
};

struct ReportOptions {
  std::string scenario;
  std::optional<std::string> claims;  // default: seed-claims.csv next to the scenario
  std::vector<std::string> devices;   // extra profiles to simulate on
  Format format = Format::kTable;
  std::optional<std::string> out;
  CsvHeader csv_header = CsvHeader::kComments;
  std::vector<std::string> sets;
  bool quiet = false;
};

// `ringsim plan` (sim/planner.hpp's PlanOptions is what it fills).
struct PlanCommandOptions {
  std::string scenario;
  Format format = Format::kTable;
  std::optional<std::string> out;
  Mode mode = Mode::kAuto;
  int threads = 0;
  std::vector<std::string> sets;
  std::vector<std::string> schedules;  // empty: every registered one
  bool quiet = false;
};

struct Io {
  std::ostream& out;
  std::ostream& err;
  bool err_is_tty;
};

const char* label_of(CostSource source);  // "simulated" | "estimated"

// load_scenario with --set KEY=VALUE words (models/overrides.hpp).
Scenario load_scenario_with_sets(const std::string& path, const std::vector<std::string>& sets);
// Runs `check` (schedule and mode checks after loading); an InputError about
// a key set with --set is re-aimed at the command line.
template <typename F>
void with_sets_named(const Scenario& s, F check) {
  try {
    check();
  } catch (const InputError& e) {
    if (auto aimed = from_command_line(e, s.overrides)) throw *aimed;
    throw;
  }
}

int run_command(const RunOptions& options, Io io);
int report_command(const ReportOptions& options, Io io);
int plan_command(const PlanCommandOptions& options, Io io);
int profiles_command(Io io);
// `ringsim calibrate|validate ARGS`: runs ringsim-calibrate|-validate ARGS
// (tools/ringsim/handoff.cpp); returns only when it cannot.
int hand_over(const std::vector<std::string>& args, Io io);
// A run started by mpirun, in a ringsim without MPI: runs ringsim-mpi ARGS.
int hand_over_mpi(const std::vector<std::string>& args, Io io);

}  // namespace ringsim::cli
