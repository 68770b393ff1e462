// Fixtures for tests/tools: a temporary directory that holds scenario files,
// a tiny scenario whose lines the tests replace one at a time, and a
// run_cli wrapper that captures stdout and stderr.
#pragma once
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tools/ringsim/cli.hpp"

namespace ringsim::test {

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Occurrences of `part` in `text`, overlapping ones included.
inline std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// Line numbers matter: tests replace a line and expect errors on it.
inline const char* const kTiny =
    "name: tiny\n"                                                            // 1
    "model: {q_heads: 4, kv_heads: 2, head_dim: 64, dtype: fp16}\n"           // 2
    "attention: {causal: true, layout: zigzag}\n"                             // 3
    "sequence: {tokens: 4096, ring_size: 4}\n"                                // 4
    "cluster:\n"                                                              // 5
    "  device: h100-sxm-datasheet\n"                                          // 6: a roofline
    "  gpus_per_node: 2\n"                                                    // 7
    "  intra_node: {bandwidth: \"450 GB/s\", latency: \"2 us\"}\n"            // 8
    "  inter_node: {bandwidth: \"50 GB/s\", latency: \"5 us\"}\n"             // 9
    "sweep:\n"                                                                // 10
    "  - {ring_size: 1}\n"                                                    // 11
    "  - {ring_size: 2}\n"                                                    // 12
    "  - {tokens: 8192, ring_size: 4}\n"                                      // 13
    "  - {chunk_tokens: 512}\n";                                              // 14

// kTiny with 1-based line `line` replaced by `text` (which may hold several lines).
inline std::string replace_line(const std::string& yaml, int line, const std::string& text) {
  std::istringstream in(yaml);
  std::string out, l;
  for (int n = 1; std::getline(in, l); ++n) out += (n == line ? text : l) + "\n";
  return out;
}

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("ringsim-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
    return file(name);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Names in the directory, sorted: what a run left behind.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

struct CliResult {
  int rc;
  std::string out, err;
};

inline CliResult cli(std::vector<std::string> args) {
  std::ostringstream out, err;
  int rc = run_cli(args, out, err);
  return {rc, out.str(), err.str()};
}

inline std::string scenario_dir() { return RINGSIM_SCENARIO_DIR; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace ringsim::test
