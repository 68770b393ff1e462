// Reading scenario YAML: a map with a fixed set of known keys that names
// every error by file, line and key path, and typed scalar readers. Shared by
// models/scenario_yaml.cpp (model, attention, cluster) and
// models/scenario_points.cpp (sequence, sweep). Internal to models/.
#pragma once
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <string>
#include <string_view>
#include <vector>

#include "models/input_error.hpp"
#include "models/suggest.hpp"
#include "models/units.hpp"

namespace ringsim::yaml {

// Rings above kMaxFullRing (262,144, models/scenario.hpp) run only on the
// exact modes that keep one period of the ring (folded, walk:
// sim/ring_periodic.hpp), which need one rank per GPU, no interference and a
// schedule that lowers whole to a ring; check_point and the schedules say so by key.
inline constexpr long long kMaxRingSize = 1LL << 31;  // 2,147,483,648: ring_size^2 device-steps fit in uint64
inline constexpr long long kMaxGpusPerNode = 262'144;
inline constexpr long long kMaxTokens = 1LL << 40;   // 1.1 trillion; products checked in check_point
inline constexpr long long kMaxHeads = 1 << 16;
inline constexpr long long kMaxHeadDim = 1 << 16;
inline constexpr double kMaxSimulatedNs = 9.2e18;  // int64 ns: 292 years

inline const char* kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    default: return "nothing (null)";
  }
}

inline int line_of(const YAML::Node& n, int fallback) {
  if (!n.IsDefined()) return fallback;
  int line = n.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

// One YAML map with a fixed set of known keys: rejects unknown and duplicate
// keys on construction, then hands out values with their key paths.
class Map {
 public:
  Map(const YAML::Node& node, std::string path, const std::string& file, int parent_line,
      std::vector<std::string> known)
      : path_(std::move(path)), file_(file), line_(line_of(node, parent_line)) {
    if (!node.IsMap())
      throw InputError(file_, line_, path_, fmt::format("expected a map, got {}", kind_name(node)));
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      int key_line = line_of(kv.first, line_);
      if (std::find(known.begin(), known.end(), key) == known.end()) throw unknown(key, key_line, known);
      if (find(key)) throw InputError(file_, key_line, sub(key), "duplicate key");
      entries_.push_back({key, kv.second, key_line});
    }
  }
  const YAML::Node* find(std::string_view key) const {
    for (const auto& e : entries_)
      if (e.key == key) return &e.value;
    return nullptr;
  }
  const YAML::Node& need(std::string_view key) const {
    if (const YAML::Node* n = find(key)) return *n;
    throw InputError(file_, line_, sub(key), "missing (required)");
  }
  int line(std::string_view key) const {
    for (const auto& e : entries_)
      if (e.key == key) return e.line;
    return line_;
  }
  int line() const { return line_; }
  const std::string& path() const { return path_; }
  std::string sub(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }
  const std::string& file() const { return file_; }

 private:
  struct Entry { std::string key; YAML::Node value; int line; };
  InputError unknown(const std::string& key, int key_line, const std::vector<std::string>& known) const {
    const auto best = closest_name(key, known);
    std::string hint = best ? fmt::format("; did you mean '{}'?", *best)
                            : fmt::format("; known keys: {}", fmt::join(known, ", "));
    return InputError(file_, key_line, sub(key), fmt::format("unknown key{}", hint));
  }
  std::string path_;
  const std::string& file_;
  int line_;
  std::vector<Entry> entries_;
};

inline const std::string& scalar_text(const Map& m, std::string_view key, const char* expected) {
  const YAML::Node& n = m.need(key);
  if (!n.IsScalar())
    throw InputError(m.file(), m.line(key), m.sub(key),
                     fmt::format("expected {}, got {}", expected, kind_name(n)));
  return n.Scalar();
}

// An integer written as 1048576, "1048576" or 1.5e6 (only if integral); min..max.
inline long long read_int(const Map& m, std::string_view key, long long max, long long min = 1) {
  const std::string& text = scalar_text(m, key, "an integer");
  auto fail = [&](const std::string& why) { return InputError(m.file(), m.line(key), m.sub(key), why); };
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    double v = 0;
    try {
      v = parse_quantity(text, Dimension::kCount);
    } catch (const std::invalid_argument&) {
      throw fail(fmt::format("expected an integer, got '{}'", text));
    }
    if (!std::isfinite(v) || std::floor(v) != v)
      throw fail(fmt::format("expected an integer, got '{}'", text));
    if (std::fabs(v) > static_cast<double>(max) * 2 + 1)
      throw fail(fmt::format("{} is larger than the maximum {}", text, max));
    value = static_cast<long long>(v);
  }
  if (value < min) {
    throw fail(min == 1 ? fmt::format("must be positive, got {}", value)
                        : fmt::format("must be at least {}, got {}", min, value));
  }
  if (value > max) throw fail(fmt::format("{} is larger than the maximum {}", value, max));
  return value;
}

// A quantity: a number in base units or a string with units ("50 GB/s").
inline double read_quantity(const Map& m, std::string_view key, Dimension dim, bool allow_zero) {
  const std::string& text = scalar_text(m, key, "a quantity");
  double v = 0;
  try {
    v = parse_quantity(text, dim);
  } catch (const std::invalid_argument& e) {
    throw InputError(m.file(), m.line(key), m.sub(key), e.what());
  }
  if (!std::isfinite(v) || v < 0 || (v == 0 && !allow_zero))
    throw InputError(m.file(), m.line(key), m.sub(key),
                     fmt::format("must be {}, got '{}'", allow_zero ? "non-negative" : "positive", text));
  return v;
}

inline bool read_bool(const Map& m, std::string_view key) {
  const std::string& text = scalar_text(m, key, "true or false");
  bool value = false;
  if (!YAML::convert<bool>::decode(m.need(key), value))
    throw InputError(m.file(), m.line(key), m.sub(key), fmt::format("expected true or false, got '{}'", text));
  return value;
}

}  // namespace ringsim::yaml
