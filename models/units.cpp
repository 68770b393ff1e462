// Units: checked integer time, quantity parsing and human formatting.
// See units.hpp. Tests: tests/models/test_units.cpp.
#include "models/units.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <optional>

namespace ringsim {

void throw_time_overflow(TimeNs a, TimeNs b) {
  throw TimeOverflow(fmt::format("simulated time overflows int64 ns (292 years): {} + {} ns", a, b));
}

TimeNs ceil_ns(double seconds) {
  if (std::isnan(seconds) || seconds < 0) {
    throw std::invalid_argument(fmt::format("duration must be a non-negative number of seconds, got {}", seconds));
  }
  const double ns = std::ceil(seconds * kNsPerSecond);
  // 2^63 is exactly representable; int64 max is not, so compare against 2^63.
  if (!(ns < 9223372036854775808.0)) {
    throw TimeOverflow(fmt::format("duration of {} s does not fit in int64 ns (292 years)", seconds));
  }
  return static_cast<TimeNs>(ns);
}

namespace {

struct Scale {
  std::string_view suffix;
  double factor;  // value * factor, or value / divisor when divide is set
  bool divide = false;
};

// Prefixes shared by bytes, bits and flops. "K" is accepted for kilo as in "KB".
constexpr std::array<Scale, 11> kPrefixes{{
    {"", 1.0}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15},
    {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
}};

// Sub-second units divide so "5 us" is the double nearest 5e-6, not 5 * 1e-6.
constexpr std::array<Scale, 8> kTimeUnits{{
    {"ns", 1e9, true}, {"us", 1e6, true}, {"µs", 1e6, true}, {"μs", 1e6, true},
    {"ms", 1e3, true}, {"s", 1.0}, {"min", 60.0}, {"h", 3600.0},
}};

const char* expectation(Dimension dim) {
  switch (dim) {
    case Dimension::kBytes: return "a size such as \"80 GiB\"";
    case Dimension::kBytesPerSecond: return "a bandwidth such as \"50 GB/s\"";
    case Dimension::kSeconds: return "a duration such as \"5 us\"";
    case Dimension::kFlopsPerSecond: return "a compute rate such as \"989 TFLOP/s\"";
    case Dimension::kCount: return "a plain number such as \"1048576\" or \"1.5e6\"";
  }
  return "a quantity";
}

// Splits "PREFIX BASE" for the byte/bit/flop families; returns the factor.
std::optional<double> prefixed(std::string_view unit, std::string_view base) {
  if (unit.size() < base.size() || unit.substr(unit.size() - base.size()) != base) return std::nullopt;
  const std::string_view prefix = unit.substr(0, unit.size() - base.size());
  for (const Scale& p : kPrefixes) {
    if (p.suffix == prefix) return p.factor;
  }
  return std::nullopt;
}

std::optional<double> bytes_factor(std::string_view unit) {
  if (auto f = prefixed(unit, "B")) return *f;
  if (auto f = prefixed(unit, "b")) return *f / 8.0;  // bits
  return std::nullopt;
}

std::optional<double> apply_unit(double value, std::string_view unit, Dimension dim) {
  switch (dim) {
    case Dimension::kBytes:
      if (auto f = bytes_factor(unit)) return value * *f;
      return std::nullopt;
    case Dimension::kBytesPerSecond:
      for (std::string_view per : {"/s", "ps"}) {
        if (unit.size() > per.size() && unit.substr(unit.size() - per.size()) == per) {
          if (auto f = bytes_factor(unit.substr(0, unit.size() - per.size()))) return value * *f;
        }
      }
      return std::nullopt;
    case Dimension::kSeconds:
      for (const Scale& u : kTimeUnits) {
        if (u.suffix == unit) return u.divide ? value / u.factor : value * u.factor;
      }
      return std::nullopt;
    case Dimension::kFlopsPerSecond:
      for (std::string_view base : {"FLOP/s", "FLOPS", "flop/s", "FLOPs/s"}) {
        if (auto f = prefixed(unit, base)) return value * *f;
      }
      return std::nullopt;
    case Dimension::kCount: break;
  }
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

double parse_quantity(std::string_view text, Dimension dim) {
  const std::string_view s = trim(text);
  const auto fail = [&](std::string_view why) -> QuantityError {
    return QuantityError(fmt::format("expected {}, got \"{}\"{}", expectation(dim), text, why));
  };
  if (s.empty()) throw fail("");
  if (s.front() == '-') throw fail(" (negative)");
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || !std::isfinite(value)) throw fail("");
  const std::string_view unit = trim(s.substr(static_cast<std::size_t>(end - s.data())));
  if (unit.empty()) return value;  // a bare number is in base units
  const std::optional<double> scaled = apply_unit(value, unit, dim);
  if (!scaled) throw fail("");
  if (!std::isfinite(*scaled)) throw fail(" (too large)");
  return *scaled;
}

namespace {

// Three significant figures, trailing zeros dropped: 93.1, 80, 1.5, 0.123.
std::string three_figures(double v) {
  const double a = std::fabs(v);
  const int decimals = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  std::string s = fmt::format("{:.{}f}", v, decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

std::string with_unit(double v, std::string_view unit) {
  return fmt::format("{} {}", three_figures(v), unit);
}

// v in the largest unit of `units` (each `step` times the previous) that keeps it >= 1.
std::string with_prefix(double v, double step, const std::array<std::string_view, 7>& units) {
  std::size_t i = 0;
  while (std::fabs(v) >= step && i + 1 < units.size()) {
    v /= step;
    ++i;
  }
  return with_unit(v, units[i]);
}

}  // namespace

std::string format_bytes(double bytes) {
  static constexpr std::array<std::string_view, 7> kUnits{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  return with_prefix(bytes, 1024.0, kUnits);
}

std::string format_seconds(double seconds) {
  const double a = std::fabs(seconds);
  if (a == 0) return "0 s";
  if (a < 1e-6) return with_unit(seconds * 1e9, "ns");
  if (a < 1e-3) return with_unit(seconds * 1e6, "us");
  if (a < 1) return with_unit(seconds * 1e3, "ms");
  if (a < 60) return with_unit(seconds, "s");
  if (a < 3600) return with_unit(seconds / 60, "min");
  if (a < 86400 * 2) return with_unit(seconds / 3600, "h");
  if (a < 86400 * 365.25 * 2) return with_unit(seconds / 86400, "days");
  return with_unit(seconds / (86400 * 365.25), "years");
}

std::string format_rate(double bytes_per_s) {
  static constexpr std::array<std::string_view, 7> kUnits{"B/s", "kB/s", "MB/s", "GB/s", "TB/s", "PB/s", "EB/s"};
  return with_prefix(bytes_per_s, 1000.0, kUnits);
}

}  // namespace ringsim
