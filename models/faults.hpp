// A scenario's `faults` section (issue 15): slow devices, jitter, degraded or
// failing links, and how many seeded repeats to run. Read by
// models/faults_yaml.cpp; realised per (point, repeat) by sim/fault_model.hpp.
//
//   faults:
//     stragglers: [{device: 17, slowdown: 2.0, from_step: 0}]   # by ring rank
//     straggler_fraction: {fraction: 0.001, slowdown: 1.5, seed: 3}
//     jitter: {distribution: lognormal, sigma: 0.05, seed: 7, applies_to: [compute, transfer]}
//     #       distribution: normal | lognormal | empirical (with file: samples.txt)
//     links:
//       - {from: 3, to: 4, bandwidth_factor: 0.25}   # transfers GPU 3 -> GPU 4
//       - {nic: 12, bandwidth_factor: 0.5}            # GPU 12's NIC, both directions
//       - {nic: 12, fail_at: "2 ms"}                   # NIC down from 2 ms on
//     repeats: 5                                       # seeds derived from the given ones
//
// Every index is checked against every point (a device below its ring size,
// a GPU below its GPU count); a bad value is an InputError naming the key.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/units.hpp"

namespace ringsim {

struct Scenario;
struct Point;

struct StragglerSpec {
  long long device = 0;     // ring rank
  double slowdown = 1;      // every compute of the device takes slowdown x its time
  long long from_step = 0;  // ... from this step (an op's label) on
  int line = 0;
};

struct StragglerFraction {
  double fraction = 0;      // round(fraction x ring_size) devices, drawn by seed
  double slowdown = 1;
  std::uint64_t seed = 0;
  int line = 0;
};

enum class JitterDistribution { kNormal, kLognormal, kEmpirical };
const char* jitter_name(JitterDistribution);

struct JitterSpec {
  JitterDistribution distribution = JitterDistribution::kLognormal;
  double sigma = 0;              // normal: factor 1 + sigma z (floored at 0); lognormal: exp(sigma z)
  std::vector<double> samples;   // empirical: factors read from `file`
  std::string file;
  std::uint64_t seed = 0;
  bool compute = true, transfer = false;  // applies_to
  int line = 0;
};

struct LinkFault {
  // kPair: transfers from GPU `from` to GPU `to`; kNic: both directions of GPU `nic`'s NIC.
  enum Kind { kPair, kNic } kind = kPair;
  long long from = 0, to = 0, nic = 0;
  double bandwidth_factor = 1;
  std::optional<TimeNs> fail_at_ns;  // kNic only: the NIC carries nothing from then on
  std::string key;                   // "faults.links[1]"
  int line = 0;
};

struct FaultSpec {
  std::vector<StragglerSpec> stragglers;
  std::optional<StragglerFraction> fraction;
  std::optional<JitterSpec> jitter;
  std::vector<LinkFault> links;
  int repeats = 1;
  int line = 0;  // of `faults`; 0: no faults section
  std::string key = "faults";  // where it was written ("sweep[2].faults")

  bool any() const { return !stragglers.empty() || fraction || jitter || !links.empty(); }
  // Faults that change compute times (stragglers, compute jitter).
  bool compute_faults() const { return !stragglers.empty() || fraction || (jitter && jitter->compute); }
  bool transfer_jitter() const { return jitter && jitter->transfer; }
  bool failures() const;  // a NIC with fail_at
};

// The seed of repeat r derived from a given seed (r = 0: the seed itself);
// distinct for distinct r (a bijective mix of seed + r).
std::uint64_t repeat_seed(std::uint64_t seed, int repeat);

// Throws InputError when a fault names a device or GPU the point lacks.
void check_faults(const Scenario&, const Point&, const std::string& where);

}  // namespace ringsim
