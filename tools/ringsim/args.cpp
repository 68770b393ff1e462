// Argument parsing and output files for the ringsim commands.
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>

#include "models/input_error.hpp"
#include "tools/ringsim/cli_common.hpp"

namespace ringsim::cli {

std::optional<std::string> Args::last(std::string_view name) const {
  std::optional<std::string> value;
  for (const auto& [opt, v] : options)
    if (opt == name) value = v;
  return value;
}

std::vector<std::string> Args::all(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [opt, v] : options)
    if (opt == name) values.push_back(v);
  return values;
}

bool Args::has(std::string_view name) const { return last(name).has_value(); }

bool wants_help(const std::vector<std::string>& args, std::size_t first) {
  for (std::size_t i = first; i < args.size(); ++i)
    if (args[i] == "--help" || args[i] == "-h") return true;
  return false;
}

Args parse_args(const std::vector<std::string>& args, std::size_t first, const std::vector<OptionSpec>& specs) {
  Args parsed;
  for (std::size_t i = first; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word.size() < 2 || word.compare(0, 2, "--") != 0 || word == "--") {
      if (!word.empty() && word[0] == '-' && word != "-") throw UsageError(fmt::format("unknown option '{}'", word));
      parsed.positional.push_back(word);
      continue;
    }
    std::size_t eq = word.find('=');
    std::string name = word.substr(0, eq);
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == name) spec = &s;
    if (!spec) throw UsageError(fmt::format("unknown option '{}'", name));
    if (!spec->takes_value) {
      if (eq != std::string::npos) throw UsageError(fmt::format("option '{}' takes no value", name));
      parsed.options.emplace_back(name, "");
    } else if (eq != std::string::npos) {
      parsed.options.emplace_back(name, word.substr(eq + 1));
    } else {
      if (i + 1 >= args.size()) throw UsageError(fmt::format("option '{}' needs a value", name));
      parsed.options.emplace_back(name, args[++i]);
    }
  }
  return parsed;
}

Format parse_format(const std::optional<std::string>& text) {
  if (!text || *text == "table") return Format::kTable;
  if (*text == "csv") return Format::kCsv;
  if (*text == "json") return Format::kJson;
  throw UsageError(fmt::format("--format: unknown format '{}' (table, csv or json)", *text));
}

Mode parse_mode(const std::optional<std::string>& text) {
  if (!text) return Mode::kAuto;
  for (Mode m : {Mode::kAuto, Mode::kEvent, Mode::kRecurrence, Mode::kFolded, Mode::kWalk})
    if (*text == mode_name(m)) return m;
  throw UsageError(fmt::format("--mode: unknown mode '{}' (auto, event, recurrence, folded or walk)", *text));
}

int parse_threads(const std::optional<std::string>& text) {
  if (!text) return 0;
  int n = -1;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || end != text->data() + text->size() || n < 0 || n > 4096)
    throw UsageError(fmt::format("--threads: expected a count from 0 (all cores) to 4096, got '{}'", *text));
  return n;
}

OutputFile::OutputFile(const std::string& path) : path_(path), partial_(path + ".partial") {
  file_.open(partial_, std::ios::binary | std::ios::trunc);
  if (!file_) throw InputError(path, 0, "", fmt::format("cannot create {}", partial_));
}

OutputFile::~OutputFile() {
  if (committed_ || keep_) return;
  file_.close();
  std::error_code ec;
  std::filesystem::remove(partial_, ec);
}

void OutputFile::commit() {
  file_.close();
  if (!file_) throw std::runtime_error(fmt::format("{}: write failed", partial_));
  std::error_code ec;
  std::filesystem::rename(partial_, path_, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot rename {} to {}: {}", partial_, path_, ec.message()));
  committed_ = true;
}

Scenario load_scenario_with_sets(const std::string& path, const std::vector<std::string>& sets) {
  std::vector<Override> overrides;
  for (const std::string& text : sets) overrides.push_back(parse_override(text));
  return load_scenario(path, overrides);
}

const char* label_of(CostSource source) {
  return source == CostSource::kCalibrated ? "simulated" : "estimated";
}

}  // namespace ringsim::cli
