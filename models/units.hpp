// Units: integer simulated time and parsing of quantities with units.
//
// Simulated time is an integer count of nanoseconds (TimeNs). int64 nanoseconds
// reach 292 years; every sum the engine forms goes through checked_add_ns,
// which throws TimeOverflow instead of wrapping. Doubles are used only at the
// edges: cost models compute seconds in double and round up once (ceil_ns).
#pragma once
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ringsim {

using TimeNs = std::int64_t;  // simulated nanoseconds, never negative
inline constexpr TimeNs kTimeNever = std::numeric_limits<TimeNs>::max();
inline constexpr double kNsPerSecond = 1e9;

struct TimeOverflow : std::overflow_error {
  using std::overflow_error::overflow_error;
};

[[noreturn]] void throw_time_overflow(TimeNs a, TimeNs b);

// a + b, throwing TimeOverflow past 2^63-1 ns (292 years). Inline: the event
// engine calls it for every event it schedules.
inline TimeNs checked_add_ns(TimeNs a, TimeNs b) {
  TimeNs sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) throw_time_overflow(a, b);
  return sum;
}

// Rounds a duration in seconds up to whole nanoseconds; throws TimeOverflow
// if it does not fit, std::invalid_argument if negative or NaN.
TimeNs ceil_ns(double seconds);

inline double to_seconds(TimeNs t) { return static_cast<double>(t) / kNsPerSecond; }

// What a quantity measures; a parsed string must carry a unit of this kind.
enum class Dimension { kBytes, kBytesPerSecond, kSeconds, kFlopsPerSecond, kCount };

// Parses "50 GB/s", "5 us", "80 GiB", "400 Gb/s", "1.5e3", "989 TFLOP/s".
// Decimal prefixes k M G T P (1000^n), binary Ki Mi Gi Ti (1024^n); "b" = bit,
// "B" = byte. Seconds: ns us µs ms s min h. A bare number is in base units.
// Throws QuantityError with a message naming the expected unit.
struct QuantityError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
double parse_quantity(std::string_view text, Dimension dim);

// "1.50 GiB", "12.3 us", "450 GB/s": human strings for tables.
std::string format_bytes(double bytes);
std::string format_seconds(double seconds);
std::string format_rate(double bytes_per_s);

}  // namespace ringsim
