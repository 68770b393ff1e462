// Claims CSV loader; see claims.hpp.
#include "tools/ringsim/claims.hpp"

#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <set>

#include "models/input_error.hpp"
#include "models/input_file.hpp"
#include "tools/ringsim/csv.hpp"

namespace ringsim::cli {

namespace {

double parse_number(const std::string& text, const std::string& file, int line, const std::string& column,
                    bool integral) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || v <= 0 ||
      (integral && (std::floor(v) != v || v > 9e15)))
    throw InputError(file, line, column,
                     fmt::format("expected a positive {}, got '{}'", integral ? "integer" : "number", text));
  return v;
}

}  // namespace

bool Claim::whole_chunks() const {
  return chunk_tokens == 0 || static_cast<__int128>(ring_size) * chunk_tokens == tokens;
}

bool Claim::matches(long long point_tokens, long long point_ring_size) const {
  if (point_ring_size != ring_size) return false;
  if (point_tokens == tokens) return true;
  return !whole_chunks() && static_cast<__int128>(ring_size) * chunk_tokens == point_tokens;
}

std::vector<Claim> load_claims(const std::string& path) {
  const std::vector<CsvRecord> records = parse_csv(read_input_file(path, "claims file"), path);
  if (records.empty()) throw InputError(path, 1, "", "empty claims file (expected a header line)");
  const std::vector<std::string>& header = records.front().cells;
  std::map<std::string, std::size_t> column;
  for (std::size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  for (const char* need : {"tokens", "ring_size", "claimed_seconds"})
    if (!column.count(need)) throw InputError(path, records.front().line, need, "missing column in the header");
  std::vector<Claim> claims;
  std::set<std::pair<long long, long long>> keys;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const int line = records[r].line;
    const std::vector<std::string>& cells = records[r].cells;
    if (cells.size() != header.size())
      throw InputError(path, line, "", fmt::format("{} cells, the header has {}", cells.size(), header.size()));
    auto cell = [&](const char* name) -> std::optional<std::string> {
      auto it = column.find(name);
      if (it == column.end() || cells[it->second].empty()) return std::nullopt;
      return cells[it->second];
    };
    auto required = [&](const char* name, bool integral) {
      auto value = cell(name);
      if (!value) throw InputError(path, line, name, "empty cell");
      return parse_number(*value, path, line, name, integral);
    };
    Claim c;
    c.line = line;
    c.tokens = static_cast<long long>(required("tokens", true));
    c.ring_size = static_cast<long long>(required("ring_size", true));
    c.seconds = required("claimed_seconds", false);
    if (auto gb = cell("claimed_memory_gb_per_device"))
      c.memory_bytes = parse_number(*gb, path, line, "claimed_memory_gb_per_device", false) * 1e9;
    if (auto chunk = cell("chunk_tokens"))
      c.chunk_tokens = static_cast<long long>(parse_number(*chunk, path, line, "chunk_tokens", true));
    if (auto as = cell("claimed_as")) c.claimed_as = *as;
    if (!keys.insert({c.tokens, c.ring_size}).second)
      throw InputError(path, line, "", fmt::format("a second claim for tokens {}, ring_size {}", c.tokens, c.ring_size));
    claims.push_back(c);
  }
  return claims;
}

}  // namespace ringsim::cli
