// Per-step cost samples: reading and lookups (see step_costs.hpp).
#include "models/step_costs.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "models/compute_model.hpp"
#include "models/sample_grid.hpp"
#include "models/yaml_reader.hpp"

namespace ringsim {

const char* step_transport_name(StepTransport t) { return t == StepTransport::kNccl ? "nccl" : "copy"; }

std::optional<StepTransport> parse_step_transport(std::string_view s) {
  for (StepTransport t : {StepTransport::kNccl, StepTransport::kCopy})
    if (s == step_transport_name(t)) return t;
  return std::nullopt;
}

namespace {

constexpr long long kMaxHeads = 1 << 20;
constexpr long long kMaxTokens = 1LL << 50;

// The block-shape keys every per-shape sample carries.
template <typename Sample>
void read_block_keys(const YamlMapReader& s, Sample& a) {
  a.transport = s.choice<StepTransport>("transport", parse_step_transport, "nccl or copy");
  a.dtype = s.choice<DType>("dtype", parse_dtype, "bf16, fp16 or fp32");
  a.mask = s.choice<MaskKind>("mask", parse_mask, "full, causal or zigzag_diagonal");
  a.head_dim = static_cast<int>(s.positive_int("head_dim", kMaxHeads));
  a.q_heads = static_cast<int>(s.positive_int("q_heads", kMaxHeads));
  a.kv_heads = static_cast<int>(s.positive_int("kv_heads", kMaxHeads));
  a.q_tokens = s.positive_int("q_tokens", kMaxTokens);
  a.kv_tokens = s.positive_int("kv_tokens", kMaxTokens);
  a.bytes = s.quantity("bytes", Dimension::kBytes, true);
}

StepOverheadSample read_step_overhead(const YamlMapReader& s) {
  s.require_map({"transport", "messages", "bytes", "dtype", "head_dim", "q_heads", "kv_heads", "mask", "q_tokens",
                 "kv_tokens", "seconds"});
  StepOverheadSample a{};
  read_block_keys(s, a);
  a.messages = static_cast<int>(s.positive_int("messages", 2));
  a.seconds = s.quantity("seconds", Dimension::kSeconds, false);
  return a;
}

LinkUnderComputeSample read_link_under_compute(const YamlMapReader& s) {
  s.require_map({"transport", "bytes", "dtype", "head_dim", "q_heads", "kv_heads", "mask", "q_tokens", "kv_tokens",
                 "factor"});
  LinkUnderComputeSample a{};
  read_block_keys(s, a);
  a.factor = s.number_in("factor", 0, 1);
  if (!(a.factor > 0)) s.fail(s.get("factor"), "factor", "must be above 0 (a transfer that never moves)");
  return a;
}

// Steps 1 (dtype, head_dim, mask) to 4 of the lookup in step_costs.hpp, for
// samples already narrowed to the transport (and message count); `value`
// reads the sample's figure.
template <typename Sample, typename Value>
double lookup(std::vector<const Sample*> fam, const AttentionShape& shape, const BlockShape& block, double bytes,
              Value value) {
  fam = grid::prefer(fam, [&](const Sample& a) { return a.dtype == shape.dtype && a.head_dim == shape.head_dim; });
  fam = grid::prefer(fam, [&](const Sample& a) { return a.mask == block.mask; });
  std::vector<std::tuple<long long, long long, double>> cells;
  for (const Sample* a : grid::nearest_bytes(grid::best_heads(fam, shape.q_heads, shape.kv_heads), bytes))
    cells.emplace_back(a->q_tokens, a->kv_tokens, value(*a));
  return grid::bilinear_log_clamped(cells, block.q_tokens, block.kv_tokens);
}

}  // namespace

void read_step_cost_samples(const YamlMapReader& r, const std::string& prefix, DeviceProfile& p) {
  if (r.has("step_overhead")) read_yaml_samples(r, prefix, "step_overhead", read_step_overhead, p.step_overhead);
  if (r.has("link_under_compute"))
    read_yaml_samples(r, prefix, "link_under_compute", read_link_under_compute, p.link_under_compute);
}

StepOverhead ComputeModel::step_overhead(const BlockShape& block, StepTransport transport, double message_bytes,
                                         int messages) const {
  std::vector<const StepOverheadSample*> fam;
  for (const StepOverheadSample& a : profile_.step_overhead)
    if (a.transport == transport) fam.push_back(&a);
  if (fam.empty()) return {};
  fam = grid::prefer(fam, [&](const StepOverheadSample& a) { return a.messages == messages; });
  const double s = lookup(fam, shape_, block, message_bytes, [](const StepOverheadSample& a) { return a.seconds; });
  return {ceil_ns(std::max(0.0, s)), true};
}

double ComputeModel::link_rate_factor(const BlockShape& block, StepTransport transport, double message_bytes) const {
  std::vector<const LinkUnderComputeSample*> fam;
  for (const LinkUnderComputeSample& a : profile_.link_under_compute)
    if (a.transport == transport) fam.push_back(&a);
  if (fam.empty()) return 1.0;
  const double f = lookup(fam, shape_, block, message_bytes, [](const LinkUnderComputeSample& a) { return a.factor; });
  return std::clamp(f, 1e-6, 1.0);
}

}  // namespace ringsim
