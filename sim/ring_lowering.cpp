// Ring costs and ring routes for the exact fast paths; see sim/ring_lowering.hpp.
#include "sim/ring_lowering.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "models/flow_network.hpp"

namespace ringsim {

TimeNs RingCosts::device_compute_ns(long long d, long long ring_size) const {
  __int128 sum = static_cast<__int128>(diagonal_ns) + static_cast<__int128>(lower_ns) * d +
                 static_cast<__int128>(upper_ns) * (ring_size - 1 - d);
  if (sum > kTimeNever) throw TimeOverflow("device compute time exceeds 2^63 ns (292 years)");
  return static_cast<TimeNs>(sum);
}

TimeNs RingCosts::max_device_compute_ns(long long ring_size) const {
  return device_compute_ns(lower_ns >= upper_ns ? ring_size - 1 : 0, ring_size);
}

double RingCosts::mean_device_compute_ns(long long ring_size) const {
  return static_cast<double>(diagonal_ns) +
         static_cast<double>(ring_size - 1) * (static_cast<double>(lower_ns) + static_cast<double>(upper_ns)) / 2;
}

double RingLowering::total_flops() const {
  const double p = static_cast<double>(ring_size);
  return p * flops_diagonal + p * (p - 1) / 2 * (flops_lower + flops_upper);
}

TimeNs RingLowering::device_compute_ns(long long d) const {
  TimeNs t = costs.device_compute_ns(d, ring_size);
  if (!grad) return t;
  const __int128 extra = static_cast<__int128>(grad->pre_ns) + static_cast<__int128>(grad->add_lower_ns) * d +
                         static_cast<__int128>(grad->add_upper_ns) * (ring_size - 1 - d);
  if (extra + t > kTimeNever) throw TimeOverflow("device compute time exceeds 2^63 ns (292 years)");
  return t + static_cast<TimeNs>(extra);
}

TimeNs RingCosts::max_ns() const { return std::max({diagonal_ns, lower_ns, upper_ns}); }

RingLinks ring_links(const Topology& topo, long long ring_size, double bytes, long long ranks_per_gpu) {
  RingLinks out;
  if (ring_size == 1) return out;
  out.tx_ns.resize(ring_size);
  out.bytes_ns.resize(ring_size);
  std::vector<long long> user(static_cast<std::size_t>(topo.link_count()), -1);  // sender using it
  for (long long d = 0; d < ring_size; ++d) {
    const long long from = d / ranks_per_gpu, to = (d + 1) % ring_size / ranks_per_gpu;
    const Route r = from == to ? topo.loopback(from) : topo.route(from, to);
    // Alone on its route, at the route's rate or its transport's cap (as the engine).
    const double rate = std::min(r.bytes_per_s, flow_rate_cap_bytes_per_s(r, bytes));
    out.bytes_ns[d] = transfer_time_ns(bytes, rate);
    out.tx_ns[d] = checked_add_ns(r.latency_ns, out.bytes_ns[d]);
    for (LinkId l : r.links) {
      long long& u = user[static_cast<std::size_t>(l)];
      if (u >= 0 && out.disjoint) {
        out.disjoint = false;
        out.why = fmt::format("link {} carries both {}->{} and {}->{}", l, u, (u + 1) % ring_size,
                              d, (d + 1) % ring_size);
      }
      u = d;
    }
  }
  return out;
}

}  // namespace ringsim
