// Profile writer: see profile_writer.hpp.
#include "models/profile_writer.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "models/compute_model.hpp"

namespace ringsim {

namespace {

std::string g6(double v) { return fmt::format("{:.6g}", v); }
// Byte counts are whole numbers: written in full, never rounded.
std::string whole(double v) { return fmt::format("{:.0f}", v); }

// The block-shape keys every per-shape sample carries.
template <typename Sample>
void block_keys(YAML::Emitter& e, const Sample& a) {
  e << YAML::Key << "dtype" << YAML::Value << dtype_name(a.dtype) << YAML::Key << "head_dim" << YAML::Value
    << a.head_dim << YAML::Key << "q_heads" << YAML::Value << a.q_heads << YAML::Key << "kv_heads" << YAML::Value
    << a.kv_heads << YAML::Key << "mask" << YAML::Value << mask_name(a.mask) << YAML::Key << "q_tokens"
    << YAML::Value << a.q_tokens << YAML::Key << "kv_tokens" << YAML::Value << a.kv_tokens;
}

// A block sample; `flops_factor` scales the forward's flops in the derived
// tflops (2.5 for a backward: five matmuls of the forward's two).
void block_sample(YAML::Emitter& e, const AttentionSample& a, double flops_factor) {
  e << YAML::Flow << YAML::BeginMap;
  block_keys(e, a);
  const double flops = flops_factor * block_flops({a.q_heads, a.kv_heads, a.head_dim, a.dtype},
                                                  {a.q_tokens, a.kv_tokens, a.mask, false});
  e << YAML::Key << "seconds" << YAML::Value << g6(a.seconds) << YAML::Key << "tflops" << YAML::Value
    << fmt::format("{:.1f}", flops / a.seconds * 1e-12);
  if (a.spread > 0) e << YAML::Key << "spread" << YAML::Value << fmt::format("{:.4f}", a.spread);
  if (a.suspect) e << YAML::Key << "suspect" << YAML::Value << true << YAML::Key << "reason" << YAML::Value << a.reason;
  e << YAML::EndMap;
}

void step_overhead(YAML::Emitter& e, const StepOverheadSample& a) {
  e << YAML::Flow << YAML::BeginMap << YAML::Key << "transport" << YAML::Value << step_transport_name(a.transport)
    << YAML::Key << "messages" << YAML::Value << a.messages << YAML::Key << "bytes" << YAML::Value << whole(a.bytes);
  block_keys(e, a);
  e << YAML::Key << "seconds" << YAML::Value << g6(a.seconds) << YAML::EndMap;
}

void link_under_compute(YAML::Emitter& e, const LinkUnderComputeSample& a) {
  e << YAML::Flow << YAML::BeginMap << YAML::Key << "transport" << YAML::Value << step_transport_name(a.transport)
    << YAML::Key << "bytes" << YAML::Value << whole(a.bytes);
  block_keys(e, a);
  e << YAML::Key << "factor" << YAML::Value << fmt::format("{:.4f}", a.factor) << YAML::EndMap;
}

void interference(YAML::Emitter& e, const InterferenceSample& a) {
  e << YAML::Flow << YAML::BeginMap << YAML::Key << "kind" << YAML::Value << transfer_kind_name(a.kind);
  block_keys(e, a);
  e << YAML::Key << "bytes" << YAML::Value << whole(a.bytes) << YAML::Key << "share" << YAML::Value << g6(a.share)
    << YAML::EndMap;
}

template <typename T, typename Write>
void list(YAML::Emitter& e, const char* key, const std::vector<T>& items, Write write) {
  if (items.empty()) return;
  e << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const T& item : items) write(e, item);
  e << YAML::EndSeq;
}

void device_facts(YAML::Emitter& e, const DeviceProfile& p) {
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  e << YAML::Key << "memory" << YAML::Value << fmt::format("{:.2f} GiB", p.memory_bytes / kGiB);
  e << YAML::Key << "hbm_bandwidth" << YAML::Value << fmt::format("{:.3g} TB/s", p.hbm_bytes_per_s * 1e-12);
  if (p.copy_bytes_per_s > 0)
    e << YAML::Key << "copy_bandwidth" << YAML::Value << fmt::format("{:.3g} TB/s", p.copy_bytes_per_s * 1e-12);
  if (p.copy_latency_s > 0) e << YAML::Key << "copy_latency" << YAML::Value << fmt::format("{:.3g} us", p.copy_latency_s * 1e6);
  if (p.copy_compute_share > 0) e << YAML::Key << "copy_compute_share" << YAML::Value << g6(p.copy_compute_share);
  if (p.link_compute_share > 0) e << YAML::Key << "link_compute_share" << YAML::Value << g6(p.link_compute_share);
  e << YAML::Key << "tflops" << YAML::Value << YAML::Flow << YAML::BeginMap;
  for (const auto& [t, rate] : p.flops_per_s) e << YAML::Key << dtype_name(t) << YAML::Value << g6(rate * 1e-12);
  e << YAML::EndMap;
  e << YAML::Key << "launch_overhead" << YAML::Value << fmt::format("{:.3g} us", p.launch_overhead_s * 1e6);
  e << YAML::Key << "reserved_memory" << YAML::Value << fmt::format("{:.3g} GiB", p.reserved_memory_bytes / kGiB);
}

void kernel_facts(YAML::Emitter& e, const DeviceProfile& p) {
  if (!p.kernel.empty()) e << YAML::Key << "kernel" << YAML::Value << p.kernel;
  if (p.sm_count > 0) e << YAML::Key << "sm_count" << YAML::Value << p.sm_count;
  if (p.tile.block_m > 0) {
    e << YAML::Key << "tile" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "block_m" << YAML::Value
      << p.tile.block_m << YAML::Key << "block_n" << YAML::Value << p.tile.block_n << YAML::Key << "ctas_per_sm"
      << YAML::Value << p.tile.ctas_per_sm << YAML::EndMap;
  }
  if (p.attention_efficiency != 1) e << YAML::Key << "attention_efficiency" << YAML::Value << g6(p.attention_efficiency);
  if (p.gemm_efficiency != 1) e << YAML::Key << "gemm_efficiency" << YAML::Value << g6(p.gemm_efficiency);
}

void gemm_sample(YAML::Emitter& e, const GemmSample& g) {
  const double flops = 2.0 * static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
  e << YAML::Flow << YAML::BeginMap << YAML::Key << "dtype" << YAML::Value << dtype_name(g.dtype) << YAML::Key << "m"
    << YAML::Value << g.m << YAML::Key << "n" << YAML::Value << g.n << YAML::Key << "k" << YAML::Value << g.k
    << YAML::Key << "seconds" << YAML::Value << g6(g.seconds) << YAML::Key << "tflops" << YAML::Value
    << fmt::format("{:.1f}", flops / g.seconds * 1e-12) << YAML::EndMap;
}

}  // namespace

void write_profile_yaml(std::ostream& out, const DeviceProfile& p, const std::vector<std::string>& comments) {
  for (const std::string& line : comments) out << "# " << line << "\n";
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "name" << YAML::Value << p.name;
  if (!p.card.empty()) e << YAML::Key << "card" << YAML::Value << p.card;
  e << YAML::Key << "source" << YAML::Value << (p.measured ? "measured" : "datasheet");
  if (!p.calibration.empty()) {
    e << YAML::Key << "calibration" << YAML::Value << YAML::Flow << YAML::BeginMap;
    for (const auto& [k, v] : p.calibration) e << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << v;
    e << YAML::EndMap;
  }
  kernel_facts(e, p);
  device_facts(e, p);
  list(e, "attention", p.attention, [](YAML::Emitter& em, const AttentionSample& a) { block_sample(em, a, 1.0); });
  list(e, "backward", p.backward, [](YAML::Emitter& em, const AttentionSample& a) { block_sample(em, a, 2.5); });
  list(e, "merge", p.merge, [](YAML::Emitter& em, const MergeSample& m) {
    em << YAML::Flow << YAML::BeginMap << YAML::Key << "q_tokens" << YAML::Value << m.q_tokens << YAML::Key << "q_heads"
       << YAML::Value << m.q_heads << YAML::Key << "head_dim" << YAML::Value << m.head_dim << YAML::Key << "seconds"
       << YAML::Value << g6(m.seconds) << YAML::EndMap;
  });
  list(e, "interference", p.interference, interference);
  list(e, "step_overhead", p.step_overhead, step_overhead);
  list(e, "link_under_compute", p.link_under_compute, link_under_compute);
  list(e, "gemm", p.gemm, gemm_sample);
  e << YAML::EndMap;
  out << e.c_str() << "\n";
}

}  // namespace ringsim
