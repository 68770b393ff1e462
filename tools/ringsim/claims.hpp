// Claims CSV: results someone else reported, to set beside ringsim's.
// Lines starting with '#' are comments; the first other line is the header.
// Required columns: tokens, ring_size, claimed_seconds; used when present:
// claimed_memory_gb_per_device (GB = 1e9 bytes); other columns (chunk_tokens,
// claimed_tokens_per_second, ...) are ignored. RFC 4180 quoting (tools/ringsim/csv.hpp).
// Rows are keyed by (tokens, ring_size), which must be unique.
#pragma once
#include <string>
#include <vector>

namespace ringsim::cli {

struct Claim {
  long long tokens = 0, ring_size = 0;
  double seconds = 0;
  double memory_bytes = -1;  // < 0: not given
  int line = 0;
};

std::vector<Claim> load_claims(const std::string& path);  // throws InputError (file, line, column)

}  // namespace ringsim::cli
