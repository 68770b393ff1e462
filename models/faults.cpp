// Fault specs: seeds per repeat and the per-point index checks; reading is
// in models/faults_yaml.cpp, realisation in sim/fault_model.cpp.
#include "models/faults.hpp"

#include <fmt/format.h>

#include "models/scenario.hpp"

namespace ringsim {

const char* jitter_name(JitterDistribution d) {
  switch (d) {
    case JitterDistribution::kNormal: return "normal";
    case JitterDistribution::kLognormal: return "lognormal";
    case JitterDistribution::kEmpirical: return "empirical";
  }
  return "?";
}

bool FaultSpec::failures() const {
  for (const LinkFault& l : links)
    if (l.fail_at_ns) return true;
  return false;
}

std::uint64_t repeat_seed(std::uint64_t seed, int repeat) {
  if (repeat == 0) return seed;
  // splitmix64's finaliser is a bijection of 64-bit words, so seed + r maps
  // to distinct seeds for distinct r (and never collides with repeat 0's
  // unless the mix of seed + r happens to equal seed: 2^-64).
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(repeat);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void check_faults(const Scenario& s, const Point& p, const std::string& where) {
  const FaultSpec& f = faults_of(s, p);
  if (!f.any()) return;
  const std::string point = where.empty() ? "the point" : where;
  if (p.ring_size > kMaxFullRing)
    throw InputError(s.path, f.line, f.key,
                     fmt::format("{} has {} devices: above {} only the periodic modes run, and they assume "
                                 "every device alike", point, p.ring_size, kMaxFullRing));
  for (std::size_t i = 0; i < f.stragglers.size(); ++i) {
    const StragglerSpec& st = f.stragglers[i];
    if (st.device >= p.ring_size)
      throw InputError(s.path, st.line, fmt::format("{}.stragglers[{}].device", f.key, i),
                       fmt::format("device {} is out of range: {} has ring_size {} (devices 0..{})", st.device, point,
                                   p.ring_size, p.ring_size - 1));
  }
  const long long gpus = p.ring_size / ranks_per_gpu(s, p);
  for (const LinkFault& l : f.links) {
    const auto check = [&](long long gpu, const char* key) {
      if (gpu >= gpus)
        throw InputError(s.path, l.line, fmt::format("{}.{}", l.key, key),
                         fmt::format("no such link: GPU {} does not exist ({} has {} GPUs, 0..{})", gpu, point, gpus,
                                     gpus - 1));
    };
    if (l.kind == LinkFault::kNic) {
      check(l.nic, "nic");
    } else {
      check(l.from, "from");
      check(l.to, "to");
    }
  }
}

const FaultSpec& faults_of(const Scenario& s, const Point& p) { return p.faults ? *p.faults : s.faults; }

bool any_faults(const Scenario& s) {
  if (s.faults.any()) return true;
  for (const Point& p : s.points)
    if (p.faults && p.faults->any()) return true;
  return false;
}

}  // namespace ringsim
