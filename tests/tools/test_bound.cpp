// tests/tools: the `bound` column (cli::bound_of) against hand-computed
// rooflines: network when the slowest device waits at least as long as it
// computes, memory when a chunk's block moves more bytes than it computes at
// the profile's rates, compute otherwise.
#include <doctest/doctest.h>

#include <string>

#ifndef RINGSIM_VERSION  // set for the CLI library only; output.hpp's header reads it
#define RINGSIM_VERSION "test"
#endif
#include "tools/ringsim/output.hpp"

using namespace ringsim;

namespace {

// 1 q head = 1 kv head, head_dim 128, bf16 (2 bytes); 100 TFLOP/s and 1 TB/s.
// A chunk of c tokens: flops 4 c^2 128 = 512 c^2; bytes c*128*2 (Q) + 2*c*128*2 (K, V)
// + c*128*4 (fp32 O) + c*4 (lse) = 1284 c. Memory-bound iff 1284 c / 1e12 > 512 c^2 / 1e14,
// i.e. c < 1284 * 100 / 512 = 250.8 tokens.
Scenario one_head() {
  Scenario s;
  s.shape = AttentionShape{1, 1, 128, DType::kBf16};
  s.profile.flops_per_s = {{DType::kBf16, 100e12}};
  s.profile.hbm_bytes_per_s = 1e12;
  return s;
}

PointResult result(long long chunk, TimeNs compute_ns, TimeNs exposed_ns) {
  PointResult r;
  r.point = Point{chunk * 4, 4};
  r.slowest_compute_ns = compute_ns;
  r.slowest_exposed_comm_ns = exposed_ns;
  return r;
}

}  // namespace

TEST_CASE("tools::bound_of: network, memory or compute by the documented rules") {
  const Scenario s = one_head();
  CHECK(std::string(cli::bound_of(s, result(4096, 1000, 999))) == "compute");
  CHECK(std::string(cli::bound_of(s, result(4096, 1000, 1000))) == "network");  // waits as long as it computes
  CHECK(std::string(cli::bound_of(s, result(250, 1000, 0))) == "memory");
  CHECK(std::string(cli::bound_of(s, result(251, 1000, 0))) == "compute");
  CHECK(std::string(cli::bound_of(s, result(250, 1000, 2000))) == "network");  // network first
  Scenario half = s;  // at half the attention efficiency the flops take twice as long: the edge halves
  half.profile.attention_efficiency = 0.5;
  CHECK(std::string(cli::bound_of(half, result(125, 1000, 0))) == "memory");
  CHECK(std::string(cli::bound_of(half, result(126, 1000, 0))) == "compute");
}
