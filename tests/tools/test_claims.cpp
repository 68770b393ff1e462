// CSV as RFC 4180 has it (tools/ringsim/csv.hpp): the claims reader takes
// quoted fields with commas, quotes and line breaks, and reports the line a
// record starts on; csv_field round-trips through it.
#include <doctest/doctest.h>

#include <random>

#include "models/input_error.hpp"
#include "tests/tools/tool_fixtures.hpp"
#include "tools/ringsim/claims.hpp"
#include "tools/ringsim/csv.hpp"

using namespace ringsim;
using ringsim::test::TempDir;

TEST_CASE("csv: quoted fields hold commas, doubled quotes and line breaks") {
  const std::string text =
      "# a comment\n"
      "a,\"b, with a comma\",\"say \"\"hi\"\"\"\r\n"
      "\n"
      "\"two\nlines\",,\" padded \"\n"
      "last,row,no newline";
  const auto records = cli::parse_csv(text, "t.csv");
  REQUIRE(records.size() == 3);
  CHECK(records[0].line == 2);
  CHECK(records[0].cells == std::vector<std::string>{"a", "b, with a comma", "say \"hi\""});
  CHECK(records[1].line == 4);
  CHECK(records[1].cells == std::vector<std::string>{"two\nlines", "", " padded "});
  CHECK(records[2].line == 6);  // the quoted line break counts
  CHECK(records[2].cells == std::vector<std::string>{"last", "row", "no newline"});
}

TEST_CASE("csv: a quote that never closes, or text after a closing quote, names the line") {
  for (const auto& [text, line] : {std::pair{"a,b\n\"open,c\nd\n", 2}, std::pair{"a,b\nx,\"q\"z\n", 2}}) {
    CAPTURE(text);
    try {
      cli::parse_csv(text, "t.csv");
      FAIL("expected InputError");
    } catch (const InputError& e) {
      CHECK(e.line == line);
    }
  }
}

TEST_CASE("csv: csv_field round-trips any text through parse_csv") {
  std::mt19937_64 rng(7);
  const std::string alphabet = "ab ,\"\n\r\t#x";
  for (int i = 0; i < 500; ++i) {
    CAPTURE(i);
    std::vector<std::string> cells(1 + rng() % 4);
    std::string row;
    for (std::size_t k = 0; k < cells.size(); ++k) {
      for (std::size_t n = rng() % 8; n > 0; --n) cells[k] += alphabet[rng() % alphabet.size()];
      if (k > 0) row += ',';
      row += cli::csv_field(cells[k]);
    }
    const auto records = cli::parse_csv("h\n" + row + "\n", "t.csv");
    if (row.empty()) continue;  // one empty cell: a blank line, which readers skip
    REQUIRE(records.size() == 2);
    CHECK(records[1].cells == cells);
  }
}

TEST_CASE("claims: quoted cells load, and a quoted header names its columns") {
  TempDir dir;
  const std::string path = dir.write("c.csv",
                                     "\"tokens\",ring_size,\"claimed_seconds\",note\n"
                                     "4096,1,\"0.5\",\"fast, they say\"\n"
                                     "8192,4,2.0,\"two\nlines\"\n");
  const auto claims = cli::load_claims(path);
  REQUIRE(claims.size() == 2);
  CHECK(claims[0].seconds == 0.5);
  CHECK(claims[1].line == 3);
  CHECK(claims[1].ring_size == 4);
}
