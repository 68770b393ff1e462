// CSV as RFC 4180 has it, for the claims file ringsim reads and the CSV it
// writes: fields separated by commas, records by LF or CRLF; a field in
// double quotes may hold commas, line breaks and quotes (doubled: "").
// Lines starting with '#' between records are comments (ringsim's own
// preamble); blank lines are skipped.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ringsim::cli {

struct CsvRecord {
  int line = 0;  // 1-based line the record starts on
  std::vector<std::string> cells;
};

// Unquoted cells are trimmed of spaces and tabs. Throws InputError (file,
// line) on a quote that never closes or text after a closing quote.
std::vector<CsvRecord> parse_csv(std::string_view text, const std::string& file);

// One field as written: quoted (quotes doubled) when it holds a comma, a
// quote or a line break, starts with '#', or starts or ends with a space or
// tab; as is otherwise.
std::string csv_field(std::string_view text);

// Text kept on one line: line breaks and other control characters written
// as \n, \r, \xNN, so every line of a '#' preamble starts with '#' and a
// table header cannot move the terminal's cursor, whatever a name holds.
std::string one_line(std::string_view text);

}  // namespace ringsim::cli
