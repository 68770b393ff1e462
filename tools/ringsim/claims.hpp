// Claims CSV: results someone else reported, to set beside ringsim's.
// Lines starting with '#' are comments; the first other line is the header.
// Required columns: tokens, ring_size, claimed_seconds; used when present:
// claimed_memory_gb_per_device (GB = 1e9 bytes), chunk_tokens (a positive
// integer), claimed_as (which of the claimant's tables the row comes from,
// e.g. "benchmark" or "extrapolation"); other columns
// (claimed_tokens_per_second, ...) are ignored. RFC 4180 quoting
// (tools/ringsim/csv.hpp); optional cells may be empty. Rows are keyed by
// (tokens, ring_size), which must be unique.
//
// A claim matches a point with its tokens and ring_size, or, when the
// claim's tokens are not ring_size x chunk_tokens (a claimant that rounds
// its device count, like the seed's extrapolation: 1e10 / 4096 =
// 2,441,406.25), the point of ring_size devices with chunk_tokens each.
#pragma once
#include <string>
#include <vector>

namespace ringsim::cli {

struct Claim {
  long long tokens = 0, ring_size = 0;
  long long chunk_tokens = 0;  // 0: not given
  double seconds = 0;
  double memory_bytes = -1;    // < 0: not given
  std::string claimed_as;      // "" when not given
  int line = 0;
  // The claim's tokens split into ring_size chunks of chunk_tokens (or no chunk is given).
  bool whole_chunks() const;
  bool matches(long long point_tokens, long long point_ring_size) const;
};

std::vector<Claim> load_claims(const std::string& path);  // throws InputError (file, line, column)

}  // namespace ringsim::cli
