// tests/models: units (checked time, ceil_ns, quantity parsing, formatting).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "models/units.hpp"

using namespace ringsim;

TEST_CASE("units::parse_quantity: bandwidths in bytes and bits with decimal prefixes") {
  CHECK(parse_quantity("50 GB/s", Dimension::kBytesPerSecond) == 50e9);
  CHECK(parse_quantity("400 Gb/s", Dimension::kBytesPerSecond) == 50e9);
  CHECK(parse_quantity("3.35 TB/s", Dimension::kBytesPerSecond) == doctest::Approx(3.35e12));
  CHECK(parse_quantity("450GB/s", Dimension::kBytesPerSecond) == 450e9);
  CHECK(parse_quantity("  1 MiB/s ", Dimension::kBytesPerSecond) == 1048576.0);
  CHECK(parse_quantity("1e9", Dimension::kBytesPerSecond) == 1e9);
}

TEST_CASE("units::parse_quantity: sizes with binary and decimal prefixes") {
  CHECK(parse_quantity("80 GiB", Dimension::kBytes) == 80.0 * 1073741824.0);
  CHECK(parse_quantity("80 GB", Dimension::kBytes) == 80e9);
  CHECK(parse_quantity("1 KiB", Dimension::kBytes) == 1024.0);
  CHECK(parse_quantity("2 TiB", Dimension::kBytes) == 2.0 * 1099511627776.0);
  CHECK(parse_quantity("8 b", Dimension::kBytes) == 1.0);
  CHECK(parse_quantity("0.3 GiB", Dimension::kBytes) == doctest::Approx(0.3 * 1073741824.0));
  CHECK(parse_quantity("4096", Dimension::kBytes) == 4096.0);
}

TEST_CASE("units::parse_quantity: durations, micro sign included, land on the nearest double") {
  CHECK(parse_quantity("5 us", Dimension::kSeconds) == 5e-6);
  CHECK(parse_quantity("2.5 µs", Dimension::kSeconds) == 2.5e-6);
  CHECK(parse_quantity("2.5 μs", Dimension::kSeconds) == 2.5e-6);
  CHECK(parse_quantity("700 ns", Dimension::kSeconds) == 700e-9);
  CHECK(parse_quantity("3 ms", Dimension::kSeconds) == 3e-3);
  CHECK(parse_quantity("2 min", Dimension::kSeconds) == 120.0);
  CHECK(parse_quantity("1 h", Dimension::kSeconds) == 3600.0);
  CHECK(parse_quantity("0.5", Dimension::kSeconds) == 0.5);
  CHECK(ceil_ns(parse_quantity("5 us", Dimension::kSeconds)) == 5000);
  CHECK(ceil_ns(parse_quantity("2 us", Dimension::kSeconds)) == 2000);
}

TEST_CASE("units::parse_quantity: compute rates") {
  CHECK(parse_quantity("989 TFLOP/s", Dimension::kFlopsPerSecond) == 989e12);
  CHECK(parse_quantity("8.873 TFLOPS", Dimension::kFlopsPerSecond) == doctest::Approx(8.873e12));
  CHECK(parse_quantity("1 GFLOP/s", Dimension::kFlopsPerSecond) == 1e9);
}

TEST_CASE("units::parse_quantity: bad strings throw QuantityError naming what was expected") {
  struct Bad {
    const char* text;
    Dimension dim;
  };
  const Bad bad[] = {
      {"", Dimension::kBytes},          {"   ", Dimension::kSeconds},       {"GB", Dimension::kBytes},
      {"50 GB", Dimension::kBytesPerSecond}, {"5 GB/s", Dimension::kBytes}, {"5 us", Dimension::kBytes},
      {"-5 us", Dimension::kSeconds},   {"nan", Dimension::kSeconds},       {"inf GB", Dimension::kBytes},
      {"5 us x", Dimension::kSeconds},  {"5 parsecs", Dimension::kSeconds}, {"1e400 B", Dimension::kBytes},
      {"5 GFLOP", Dimension::kFlopsPerSecond}, {"1e308 PB", Dimension::kBytes}, {"5..2 s", Dimension::kSeconds},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.text);
    CHECK_THROWS_AS(parse_quantity(b.text, b.dim), QuantityError);
  }
  try {
    parse_quantity("50 GB", Dimension::kBytesPerSecond);
    FAIL("no throw");
  } catch (const QuantityError& e) {
    CHECK(std::string(e.what()) == "expected a bandwidth such as \"50 GB/s\", got \"50 GB\"");
  }
}

TEST_CASE("units::parse_quantity: random values round-trip through every prefix") {
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> value(0.0, 1000.0);
  const std::pair<const char*, double> prefixes[] = {{"", 1}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
                                                     {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}};
  for (int seed = 0; seed < 200; ++seed) {
    CAPTURE(seed);
    const double v = std::round(value(rng) * 1000) / 1000;
    for (const auto& [p, f] : prefixes) {
      CAPTURE(p);
      const std::string text = std::to_string(v) + " " + p + "B";
      CHECK(parse_quantity(text, Dimension::kBytes) == doctest::Approx(v * f));
      CHECK(parse_quantity(text + "/s", Dimension::kBytesPerSecond) == doctest::Approx(v * f));
      CHECK(parse_quantity(std::to_string(v) + " " + p + "b/s", Dimension::kBytesPerSecond) ==
            doctest::Approx(v * f / 8));
    }
  }
}

TEST_CASE("units::parse_quantity: kCount takes plain numbers only") {
  CHECK(parse_quantity("1.5e6", Dimension::kCount) == 1.5e6);
  CHECK(parse_quantity("1048576", Dimension::kCount) == 1048576.0);
  CHECK_THROWS_AS(parse_quantity("1 GB", Dimension::kCount), QuantityError);
  CHECK_THROWS_AS(parse_quantity("1M", Dimension::kCount), QuantityError);
}

TEST_CASE("units::checked_add_ns: sums near int64 max throw TimeOverflow instead of wrapping") {
  const TimeNs max = std::numeric_limits<TimeNs>::max();
  CHECK(checked_add_ns(1, 2) == 3);
  CHECK(checked_add_ns(max - 1, 1) == max);
  CHECK_THROWS_AS(checked_add_ns(max, 1), TimeOverflow);
  CHECK_THROWS_AS(checked_add_ns(max / 2 + 1, max / 2 + 1), TimeOverflow);
}

TEST_CASE("units::ceil_ns: rounds up, rejects negative and NaN, throws past 292 years") {
  CHECK(ceil_ns(0.0) == 0);
  CHECK(ceil_ns(1e-9) == 1);
  CHECK(ceil_ns(1.5e-9) == 2);
  CHECK(ceil_ns(1.0) == 1000000000);
  CHECK(ceil_ns(100.0 * 365 * 86400) == 3153600000000000000LL);  // a century is fine
  CHECK_THROWS_AS(ceil_ns(300.0 * 365 * 86400), TimeOverflow);
  CHECK_THROWS_AS(ceil_ns(std::numeric_limits<double>::infinity()), TimeOverflow);
  CHECK_THROWS_AS(ceil_ns(9.3e9), TimeOverflow);
  CHECK_THROWS_AS(ceil_ns(-1e-9), std::invalid_argument);
  CHECK_THROWS_AS(ceil_ns(std::nan("")), std::invalid_argument);
}

TEST_CASE("units::format: human strings with three figures and the right unit") {
  CHECK(format_bytes(80.0 * 1073741824.0) == "80 GiB");
  CHECK(format_bytes(1.5 * 1073741824.0) == "1.5 GiB");
  CHECK(format_bytes(93.1 * 1073741824.0) == "93.1 GiB");
  CHECK(format_bytes(512) == "512 B");
  CHECK(format_seconds(12.3e-6) == "12.3 us");
  CHECK(format_seconds(0.25) == "250 ms");
  CHECK(format_seconds(5e-9) == "5 ns");
  CHECK(format_seconds(90) == "1.5 min");
  CHECK(format_rate(450e9) == "450 GB/s");
  CHECK(format_rate(3.35e12) == "3.35 TB/s");
}
