// Pieces the ringsim commands share: argument parsing, output files that
// appear only when complete, the output format. Internal to tools/ringsim.
#pragma once
#include <fstream>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sim/simulate.hpp"

namespace ringsim::cli {

inline constexpr const char* kVersion = RINGSIM_VERSION;

// A wrong command line: printed with the command's usage, exit 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::string name;  // "--format"
  bool takes_value = true;
};

struct Args {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;  // in order given
  std::optional<std::string> last(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
  bool has(std::string_view name) const;
};

// Parses args[first...]: "--opt value", "--opt=value", flags, positionals.
Args parse_args(const std::vector<std::string>& args, std::size_t first, const std::vector<OptionSpec>& specs);
bool wants_help(const std::vector<std::string>& args, std::size_t first);

enum class Format { kTable, kCsv, kJson };
Format parse_format(const std::optional<std::string>& text);
Mode parse_mode(const std::optional<std::string>& text);
int parse_threads(const std::optional<std::string>& text);

// Streams and flushes into FILE.partial; commit() renames it to FILE. A run
// that stops early leaves FILE.partial holding the points that finished.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path);  // throws InputError when it cannot be created
  ~OutputFile();  // removes FILE.partial unless committed or keep_partial() was called
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  std::ostream& stream() { return file_; }
  void keep_partial() { keep_ = true; }  // it holds finished results worth keeping
  void commit();
  const std::string& partial_path() const { return partial_; }

 private:
  std::string path_, partial_;
  std::ofstream file_;
  bool keep_ = false, committed_ = false;
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

int run_command(const std::vector<std::string>& args, Io io);
int plan_command(const std::vector<std::string>& args, Io io);
int report_command(const std::vector<std::string>& args, Io io);

}  // namespace ringsim::cli
