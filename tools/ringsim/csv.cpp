// CSV reading and writing; see csv.hpp.
#include "tools/ringsim/csv.hpp"

#include <fmt/format.h>

#include "models/input_error.hpp"

namespace ringsim::cli {

namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

// Reads one record starting at `at` (at the start of a line); advances `at`
// past its line break and `line` by the lines it spans.
std::vector<std::string> read_record(std::string_view text, std::size_t& at, int& line, const std::string& file) {
  std::vector<std::string> cells;
  const int first_line = line;
  for (;;) {
    std::string cell;
    if (at < text.size() && text[at] == '"') {
      for (++at;; ++at) {
        if (at >= text.size()) throw InputError(file, first_line, "", "a quoted field never closes");
        if (text[at] == '"') {
          if (at + 1 < text.size() && text[at + 1] == '"') {
            cell += '"';
            ++at;
            continue;
          }
          ++at;
          break;
        }
        if (text[at] == '\n') ++line;
        cell += text[at];
      }
      const auto end = text.find_first_not_of(" \t", at);
      at = end == std::string_view::npos ? text.size() : end;
      if (at < text.size() && text[at] != ',' && text[at] != '\n' && text[at] != '\r')
        throw InputError(file, line, "", "text after a closing quote (a quote inside a field is written \"\")");
    } else {
      const auto end = text.find_first_of(",\r\n", at);
      const std::size_t stop = end == std::string_view::npos ? text.size() : end;
      cell = trim(text.substr(at, stop - at));
      at = stop;
    }
    cells.push_back(std::move(cell));
    if (at < text.size() && text[at] == ',') {
      ++at;
      continue;
    }
    if (at < text.size() && text[at] == '\r') ++at;
    if (at < text.size() && text[at] == '\n') ++at;
    ++line;
    return cells;
  }
}

}  // namespace

std::vector<CsvRecord> parse_csv(std::string_view text, const std::string& file) {
  std::vector<CsvRecord> records;
  std::size_t at = 0;
  int line = 1;
  while (at < text.size()) {
    const auto eol = text.find('\n', at);
    const std::string_view whole = text.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
    if (whole.find_first_not_of(" \t\r") == std::string_view::npos || whole[0] == '#') {
      at = eol == std::string_view::npos ? text.size() : eol + 1;
      ++line;
      continue;
    }
    CsvRecord r;
    r.line = line;
    r.cells = read_record(text, at, line, file);
    records.push_back(std::move(r));
  }
  return records;
}

std::string csv_field(std::string_view text) {
  // Quoted too: what a reader would trim (spaces, tabs at either end) and a
  // leading '#' (a record starting with it would read as a comment).
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  const bool quote = text.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!text.empty() && (blank(text.front()) || blank(text.back()) || text.front() == '#'));
  if (!quote) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (u < 0x20 || u == 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
  }
  return out;
}

}  // namespace ringsim::cli
