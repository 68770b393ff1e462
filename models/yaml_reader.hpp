// YamlMapReader: reads one YAML map of a profile-like file (device profiles,
// link/transport profiles), tracking the file and the key path so every error
// is an InputError naming file, 1-based line and key ("attention[3].seconds").
// Header-only and internal to models/ (profile.cpp, transport.cpp, step_costs.cpp).
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "models/input_error.hpp"
#include "models/units.hpp"

namespace ringsim {

inline int yaml_line_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : 0;
}

// A profile's durations (launch overhead, copy latency, one measured block)
// are microseconds to seconds; an hour is a typo, and 1e18 s would overflow
// the engine's int64 nanoseconds far from the line that caused it.
constexpr double kMaxProfileDurationS = 3600;

// Reads one YAML map, tracking the file and the key path for errors.
class YamlMapReader {
 public:
  // Indexes the map's keys once: yaml-cpp looks a key up by converting
  // every key to a string, which made profile loading a third of ringsim's
  // start-up (400 samples of 9 keys).
  YamlMapReader(const YAML::Node& map, std::string file, std::string path)
      : map_(map), file_(std::move(file)), path_(std::move(path)) {
    if (!map_.IsMap()) return;
    for (const auto& kv : map_) entries_.push_back({kv.first.Scalar(), kv.first, kv.second});
  }

  std::string key(std::string_view k) const { return path_.empty() ? std::string(k) : fmt::format("{}.{}", path_, k); }
  [[noreturn]] void fail(const YAML::Node& at, std::string_view k, const std::string& msg) const {
    throw InputError(file_, yaml_line_of(at), key(k), msg);
  }
  const std::string& file() const { return file_; }

  // Unknown and duplicate keys are errors (yaml-cpp keeps both copies of a
  // duplicate; lookups would silently take the first).
  void require_map(std::initializer_list<std::string_view> allowed) const {
    if (!map_.IsMap()) throw InputError(file_, yaml_line_of(map_), path_, "expected a map");
    for (auto e = entries_.begin(); e != entries_.end(); ++e) {
      if (std::find(allowed.begin(), allowed.end(), e->name) == allowed.end())
        fail(e->key, e->name, fmt::format("unknown key; expected one of: {}", fmt::join(allowed, ", ")));
      for (auto before = entries_.begin(); before != e; ++before)
        if (before->name == e->name) fail(e->key, e->name, "duplicate key");
    }
  }
  bool has(std::string_view k) const { return find(k) != nullptr; }
  YAML::Node get(std::string_view k) const {
    if (const YAML::Node* n = find(k)) return *n;
    throw InputError(file_, yaml_line_of(map_), key(k), "missing required key");
  }
  std::string scalar(std::string_view k) const {
    const YAML::Node n = get(k);
    if (!n.IsScalar()) fail(n, k, "expected a string");
    return n.Scalar();
  }
  // A quantity as a bare number (base units) or a string with a unit: finite,
  // 0 or more (positive: above 0), durations at most kMaxProfileDurationS.
  double quantity(std::string_view k, Dimension dim, bool positive) const {
    const YAML::Node n = get(k);
    if (!n.IsScalar()) fail(n, k, "expected a number or a string with a unit");
    double v = 0;
    try {
      v = parse_quantity(n.Scalar(), dim);
    } catch (const QuantityError& e) {
      fail(n, k, e.what());
    }
    if (positive && !(v > 0)) fail(n, k, fmt::format("must be positive, got \"{}\"", n.Scalar()));
    if (!(v >= 0) || !std::isfinite(v)) fail(n, k, fmt::format("must be a finite number, 0 or more, got \"{}\"", n.Scalar()));
    if (dim == Dimension::kSeconds && v > kMaxProfileDurationS)
      fail(n, k, fmt::format("\"{}\" is longer than an hour: a launch, latency or one measured block is "
                             "microseconds to seconds", n.Scalar()));
    return v;
  }
  long long positive_int(std::string_view k, long long max) const {
    const YAML::Node n = get(k);
    long long v = 0;
    if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v)) fail(n, k, fmt::format("expected an integer, got \"{}\"", n.Scalar()));
    if (v <= 0 || v > max) fail(n, k, fmt::format("must be between 1 and {}, got {}", max, v));
    return v;
  }
  template <typename T, typename Parse>
  T choice(std::string_view k, Parse parse, std::string_view expected) const {
    const std::string s = scalar(k);
    const auto v = parse(s);
    if (!v) fail(get(k), k, fmt::format("expected {}, got \"{}\"", expected, s));
    return *v;
  }

  // A plain number (no unit) in [lo, hi].
  double number_in(std::string_view k, double lo, double hi) const {
    const double v = quantity(k, Dimension::kCount, false);
    if (!(v >= lo && v <= hi)) fail(get(k), k, fmt::format("must be between {} and {}, got {}", lo, hi, v));
    return v;
  }
  bool boolean(std::string_view k) const {
    const YAML::Node n = get(k);
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) fail(n, k, fmt::format("expected true or false, got \"{}\"", n.Scalar()));
    return v;
  }
  const YAML::Node& node() const { return map_; }
  const std::string& path() const { return path_; }

 private:
  struct Entry {
    std::string name;
    YAML::Node key, value;
  };
  const YAML::Node* find(std::string_view k) const {
    for (const Entry& e : entries_)
      if (e.name == k) return &e.value;
    return nullptr;
  }
  YAML::Node map_;
  std::string file_, path_;
  std::vector<Entry> entries_;  // in file order
};

// The list under key `k`; an error unless it is a sequence.
inline YAML::Node yaml_sequence(const YamlMapReader& r, std::string_view k) {
  const YAML::Node n = r.get(k);
  if (!n.IsSequence()) r.fail(n, k, "expected a list");
  return n;
}

// Reads every map of the list under `k` with `read(YamlMapReader)`; error
// paths read "PREFIX.k[i].key".
template <typename T, typename Read>
void read_yaml_samples(const YamlMapReader& r, const std::string& prefix, std::string_view k, Read read,
                       std::vector<T>& out) {
  const YAML::Node list = yaml_sequence(r, k);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = fmt::format("{}{}[{}]", prefix.empty() ? "" : prefix + ".", k, i);
    out.push_back(read(YamlMapReader(list[i], r.file(), path)));
  }
}

}  // namespace ringsim
