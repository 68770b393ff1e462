// One realisation of a scenario's faults (models/faults.hpp) for one point
// and one repeat: which devices straggle, and the jitter factor of every
// (device, step) compute and transfer. Both engines read it, so the event
// engine and the recurrence charge the same nanoseconds:
//   compute of d at step s:  ceil(t x slowdown(d, s) x J_c(d, s))
//   transfer d -> d+1 at s:  max(bytes time, ceil(alone time x J_t(d, s)))
// (the event engine moves the transfer's change into its latency phase, so a
// flow alone on its links ends exactly there; one sharing links shares only
// its bytes phase). A step is an operation's label (the ring step).
//
// Determinism: no random stream is shared. J(d, s) is a counter-based hash of
// (key, device, step), key derived from (seed, repeat), mapped to one of
// kQuantiles equiprobable quantiles of the distribution (midpoints
// (k + 1/2) / kQuantiles; an empirical sample set by linear interpolation),
// so the same seed gives the same result on any thread count and in any
// evaluation order. Stragglers of a fraction are the round(f x P) devices of
// smallest hash(seed of the repeat, device).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "models/faults.hpp"
#include "models/topology.hpp"
#include "models/units.hpp"

namespace ringsim {

class FaultModel {
 public:
  static constexpr int kQuantileBits = 10;
  static constexpr std::uint32_t kQuantiles = 1u << kQuantileBits;

  FaultModel(const FaultSpec& spec, long long devices, int repeat);

  bool compute_faults() const { return compute_faults_; }
  bool compute_jitter() const { return compute_jitter_; }
  bool transfer_jitter() const { return transfer_jitter_; }

  // Stragglers: level(d) indexes levels() (0: not a straggler).
  struct Level {
    double slowdown = 1;
    long long from_step = 0;
  };
  const std::vector<Level>& levels() const { return levels_; }
  const std::vector<std::uint8_t>& device_levels() const { return device_level_; }
  double slowdown(long long device, long long step) const {
    const Level& l = levels_[device_level_[static_cast<std::size_t>(device)]];
    return step >= l.from_step ? l.slowdown : 1.0;
  }

  // Quantile index of (device, step) under a per-step hash (step_hash_*).
  static std::uint32_t mix32(std::uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
  }
  std::uint32_t compute_step_hash(long long step) const { return mix32(static_cast<std::uint32_t>(step) ^ key_c_) ^ key_c_; }
  std::uint32_t transfer_step_hash(long long step) const { return mix32(static_cast<std::uint32_t>(step) ^ key_t_) ^ key_t_; }
  static std::uint32_t quantile_index(long long device, std::uint32_t step_hash) {
    return mix32(static_cast<std::uint32_t>(device) * 0x9E3779B9U ^ step_hash) >> (32 - kQuantileBits);
  }
  const std::vector<double>& quantiles() const { return quantiles_; }  // kQuantiles factors, ascending

  // The factor of a compute; its time, rounded up (t x f, the one expression
  // both engines use).
  double compute_factor(long long device, long long step) const {
    const double q = compute_jitter_ ? quantiles_[quantile_index(device, compute_step_hash(step))] : 1.0;
    return slowdown(device, step) * q;
  }
  static TimeNs scaled(TimeNs t, double factor) {
    return factor == 1.0 ? t : static_cast<TimeNs>(std::ceil(static_cast<double>(t) * factor));
  }
  TimeNs compute_ns(long long device, long long step, TimeNs t) const {
    return compute_faults_ ? scaled(t, compute_factor(device, step)) : t;
  }
  // A transfer from `src` at `step` alone on its route takes alone_ns
  // (latency + bytes time bytes_ns); jittered it takes this.
  TimeNs transfer_ns(long long src, long long step, TimeNs alone_ns, TimeNs bytes_ns) const {
    if (!transfer_jitter_) return alone_ns;
    const double q = quantiles_[quantile_index(src, transfer_step_hash(step))];
    const TimeNs t = scaled(alone_ns, q);
    return t > bytes_ns ? t : bytes_ns;
  }

 private:
  bool compute_faults_ = false, compute_jitter_ = false, transfer_jitter_ = false;
  std::vector<Level> levels_{Level{}};
  std::vector<std::uint8_t> device_level_;
  std::vector<double> quantiles_;
  std::uint32_t key_c_ = 0, key_t_ = 0;
};

// The point's cluster with the faults that hold from time 0 (degraded links
// and NICs, NICs failed at 0), and the failures that come later as
// (time, cluster from then on), in time order.
struct FaultClusters {
  ClusterSpec initial;
  std::vector<std::pair<TimeNs, ClusterSpec>> later;
};
FaultClusters fault_clusters(const ClusterSpec& base, const FaultSpec& spec);

}  // namespace ringsim
