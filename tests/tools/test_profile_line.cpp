// tests/tools: the profile line of output headers names the kernel the
// profile times and how many of its samples the compute model leaves out.
#include <doctest/doctest.h>

#ifndef RINGSIM_VERSION  // set for the CLI library only; output.hpp's header reads it
#define RINGSIM_VERSION "test"
#endif
#include "tools/ringsim/output.hpp"

using namespace ringsim;

TEST_CASE("tools::profile_line: names the kernel, the source and the suspect samples left out") {
  Scenario s;
  s.profile.name = "h100-sxm";
  s.profile.card = "NVIDIA H100 80GB HBM3";
  s.profile.measured = true;
  s.profile.origin = "models/profiles/h100-sxm.yaml";
  CHECK(cli::profile_line(s) ==
        "h100-sxm (kernel not named; measured on NVIDIA H100 80GB HBM3; models/profiles/h100-sxm.yaml)");
  s.profile.kernel = "pytorch-sdpa-cudnn";
  AttentionSample a{DType::kBf16, 128, 32, 32, MaskKind::kFull, 4096, 4096, 1e-3};
  s.profile.attention = {a, a, a};
  s.profile.attention[1].suspect = true;
  s.profile.attention[2].suspect = true;
  CHECK(cli::profile_line(s) == "h100-sxm (kernel pytorch-sdpa-cudnn; measured on NVIDIA H100 80GB HBM3; "
                                "2 suspect samples left out; models/profiles/h100-sxm.yaml)");
}
