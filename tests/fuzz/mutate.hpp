// Mutated scenarios for the fuzzer: every shipped scenario, shrunk so one
// case runs in milliseconds (sweeps of rings up to 256), then mutated in
// one of the ways bad input comes: deleted, duplicated and unknown keys,
// wrong types, negative, zero, NaN, inf, 2^63 and huge values, huge ring
// sizes, invalid UTF-8, alias bombs, deep nesting, large and truncated
// files, inline profiles mutated the same ways; plus unmutated controls and
// the known slow cases (all ranks on one GPU, an interference share next
// to 1), each with what the run must do.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ringsim::fuzz {

enum class Expect {
  kAccept,  // a control: must exit 0 with valid outputs
  kReject,  // clearly invalid: must exit 2 naming file, line (and key)
  kAny,     // exit 0, 1 or 2, each held to its own rules
};

struct FuzzCase {
  std::string name;    // "default.yaml: numeric -1 at cluster.intra_node.latency"
  std::string yaml;    // the scenario text
  Expect expect = Expect::kAny;
  std::string key;     // a key path the error must name (kReject), or ""
  bool file_level = false;          // an error about the whole file: no line needed
  std::string known;   // a known issue owned elsewhere ("" if none)
  std::vector<std::string> args;    // extra command-line words (--mode, --format, --trace ...)
  std::size_t points = 0;           // points the scenario holds when it loads (0: unknown)
};

// The text-level mutations (mutate_text.cpp); returns the description.
std::string text_mutation(std::mt19937_64& rng, FuzzCase& c);
// A known slow or undefined case owned by the engine (mutate_text.cpp).
std::string known_case(std::mt19937_64& rng, FuzzCase& c, const std::string& profile_dir);

class Mutator {
 public:
  Mutator(const std::string& scenario_dir, const std::string& profile_dir);
  FuzzCase make(std::mt19937_64& rng, std::uint64_t index) const;
  std::size_t scenarios() const { return bases_.size(); }

 private:
  struct Base {
    std::string file, yaml;  // shrunk, block style
    std::size_t points;
  };
  std::vector<Base> bases_;
  std::string profile_dir_;
};

}  // namespace ringsim::fuzz
