// Running and judging one fuzz case; see run_case.hpp.
#include "tests/fuzz/run_case.hpp"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "tests/common/child_process.hpp"

namespace ringsim::fuzz {

namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string arg_after(const std::vector<std::string>& args, const std::string& flag, const std::string& fallback) {
  auto it = std::find(args.begin(), args.end(), flag);
  return it != args.end() && it + 1 != args.end() ? *(it + 1) : fallback;
}

std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// What an output must hold: JSON and traces parse (valid UTF-8 included),
// CSV has only comment lines before its header, and the controls' point count.
std::string check_output(const FuzzCase& c, const std::string& format, const std::string& text) {
  if (format == "json") {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return "output is not valid JSON";
    if (c.points > 0 && j["points"].size() != c.points) return fmt::format("{} points, expected {}", j["points"].size(), c.points);
  } else if (format == "csv") {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line) && line.rfind("tokens,", 0) != 0)
      if (line.empty() || line[0] != '#') return "a CSV line before the header is not a comment: " + line.substr(0, 80);
    if (line.rfind("tokens,", 0) != 0) return "CSV has no header row";
  } else if (text.find("ringsim ") != 0) {
    return "table does not start with its title";
  }
  return "";
}

Verdict judge_exit(const FuzzCase& c, const test::ChildResult& r, const fs::path& dir, const std::string& path) {
  const std::string format = arg_after(c.args, "--format", "table");
  const std::set<std::string> left = entries(dir);
  const bool traced = std::find(c.args.begin(), c.args.end(), "--trace") != c.args.end();
  if (r.exit_code == 0) {
    if (c.expect == Expect::kReject) return {Outcome::kFail, "accepted clearly invalid input"};
    std::set<std::string> want{"case.yaml", "out"};
    if (traced) want.insert("trace.json");
    if (left != want) return {Outcome::kFail, "exit 0 left other files (or no output)"};
    if (std::string why = check_output(c, format, read(dir / "out")); !why.empty()) return {Outcome::kFail, why};
    if (traced && nlohmann::json::parse(read(dir / "trace.json"), nullptr, false).is_discarded())
      return {Outcome::kFail, "trace is not valid JSON"};
    return {};
  }
  if (r.exit_code == 2) {
    if (c.expect == Expect::kAccept) return {Outcome::kFail, "a control was refused: " + r.err.substr(0, 300)};
    if (left != std::set<std::string>{"case.yaml"}) return {Outcome::kFail, "exit 2 left files behind"};
    const std::regex with_line("(^|\n)error: " + std::regex_replace(path, std::regex("[.^$|()\\[\\]{}*+?\\\\]"), "\\$&") +
                               ":[0-9]+: ");
    const bool file_error = c.file_level && has(r.err, "error: " + path + ": ");
    const bool mode_error = has(r.err, "error: --mode: " + path + ": point ");
    if (!std::regex_search(r.err, with_line) && !file_error && !mode_error)
      return {Outcome::kFail, "exit 2 without FILE:LINE: " + r.err.substr(0, 300)};
    if (!c.key.empty() && !has(r.err, c.key)) return {Outcome::kFail, "the error does not name " + c.key + ": " + r.err.substr(0, 300)};
    return {};
  }
  if (c.expect != Expect::kAny) return {Outcome::kFail, "exit 1 on clearly invalid input or a control: " + r.err.substr(0, 300)};
  if (!has(r.err, "error: " + path + ": point ")) return {Outcome::kFail, "exit 1 without file and point: " + r.err.substr(0, 300)};
  if (left.count("out")) return {Outcome::kFail, "exit 1 left the output file"};
  if (left.size() > 1 && !has(r.err, "kept in")) return {Outcome::kFail, "exit 1 left files it does not name"};
  return {};
}

}  // namespace

Verdict run_case(const FuzzCase& c, const RunnerOptions& o, std::uint64_t index) {
  const fs::path dir = fs::path(o.work_dir) / fmt::format("case-{}", index);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "case.yaml").string();
  std::ofstream(path, std::ios::binary) << c.yaml;
  std::vector<std::string> argv{o.ringsim, "run", path, "--out", (dir / "out").string()};
  for (const std::string& a : c.args) argv.push_back(a == "TRACE" ? (dir / "trace.json").string() : a);
  test::ChildOptions co;
  co.timeout_s = o.case_timeout_s;
  const test::ChildResult r = test::run_child(argv, co);
  Verdict v;
  const bool sanitizer = has(r.err, "AddressSanitizer") || has(r.err, "runtime error:") || has(r.err, "LeakSanitizer");
  if (sanitizer) v = {Outcome::kFail, "sanitizer report: " + r.err.substr(0, 400)};
  else if (r.timed_out) v = has(r.err, " points, ") ? Verdict{Outcome::kSlow, "slow, printing progress"}
                                                    : Verdict{Outcome::kFail, "no progress before the time limit"};
  else if (r.signal != 0) v = {Outcome::kFail, fmt::format("died of signal {}", r.signal)};
  else if (r.exit_code < 0 || r.exit_code > 2) v = {Outcome::kFail, fmt::format("exit {}", r.exit_code)};
  else if (read(path) != c.yaml) v = {Outcome::kFail, "the scenario file changed"};
  else v = judge_exit(c, r, dir, path);
  if (v.outcome == Outcome::kFail && !c.known.empty()) v = {Outcome::kKnown, c.known + ": " + v.why};
  v.exit_code = r.exit_code;
  v.seconds = r.seconds;
  if (v.outcome == Outcome::kPass || v.outcome == Outcome::kSlow) fs::remove_all(dir);
  return v;
}

}  // namespace ringsim::fuzz
