// Scenario loader: YAML (yaml-cpp) -> Scenario, validating every field and
// every point before anything runs. Format: see models/scenario.hpp. This
// file reads model, attention and cluster; models/scenario_points.cpp reads
// sequence and sweep and checks each point.
//
// Every error is an InputError naming the file, the 1-based line (from
// yaml-cpp's Mark) and the key path ("sweep[3].ring_size"). Unknown keys are
// errors, not silently ignored, and suggest the closest known key: a typo
// such as `ring_sise` would otherwise fall back to a default and simulate
// something the user did not ask for.
#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <filesystem>

#include "models/input_file.hpp"
#include "models/scenario.hpp"
#include "models/scenario_points.hpp"
#include "models/yaml_map.hpp"

namespace ringsim {

using namespace yaml;

namespace {

LinkSpec read_link(const Map& cluster, std::string_view key, const std::string& scenario_path) {
  Map link(cluster.need(key), cluster.sub(key), cluster.file(), cluster.line(key),
           {"bandwidth", "latency", "transport", "all_to_all_transport"});
  LinkSpec spec;
  // Named link profiles (models/profiles/links/NAME.yaml or a path beside the
  // scenario): how the deployment moves messages over this fabric.
  const std::string dir = std::filesystem::path(scenario_path).parent_path().string();
  const YAML::Node& node = cluster.need(key);
  spec.transport = read_link_transport(node, cluster.file(), cluster.sub(key), dir.empty() ? "." : dir);
  spec.all_to_all = read_link_transport(node, cluster.file(), cluster.sub(key), dir.empty() ? "." : dir,
                                        "all_to_all_transport");
  spec.bytes_per_s = read_quantity(link, "bandwidth", Dimension::kBytesPerSecond, false);
  double latency_s = read_quantity(link, "latency", Dimension::kSeconds, true);
  try {
    spec.latency_ns = ceil_ns(latency_s);
  } catch (const std::exception&) {
    throw InputError(link.file(), link.line("latency"), link.sub("latency"), "latency does not fit in 292 years");
  }
  return spec;
}

void read_model(const Map& root, Scenario& s) {
  Map model(root.need("model"), "model", root.file(), root.line("model"),
            {"q_heads", "kv_heads", "head_dim", "dtype", "layers", "hidden", "ffn_hidden", "vocab"});
  s.shape.q_heads = static_cast<int>(read_int(model, "q_heads", kMaxHeads));
  s.shape.kv_heads = static_cast<int>(read_int(model, "kv_heads", kMaxHeads));
  s.shape.head_dim = static_cast<int>(read_int(model, "head_dim", kMaxHeadDim));
  if (s.shape.q_heads % s.shape.kv_heads != 0)
    throw InputError(model.file(), model.line("kv_heads"), "model.kv_heads",
                     fmt::format("kv_heads {} does not divide q_heads {}", s.shape.kv_heads, s.shape.q_heads));
  const std::string& dtype = scalar_text(model, "dtype", "bf16, fp16 or fp32");
  auto parsed = parse_dtype(dtype);
  if (!parsed)
    throw InputError(model.file(), model.line("dtype"), "model.dtype",
                     fmt::format("unknown dtype '{}' (bf16, fp16 or fp32)", dtype));
  s.shape.dtype = *parsed;
  read_model_size(model, s);
}

// attention.{schedule, ulysses_degree, inner_ring, ulysses_placement}: the
// schedule's name is checked against the registry later (sim/schedule.hpp),
// since models/ does not know the schedules.
void read_sharding(const Map& att, Scenario& s) {
  const auto remember = [&](const char* key) {
    if (att.find(key)) s.key_lines[att.sub(key)] = att.line(key);
  };
  if (att.find("schedule")) {
    s.schedule = scalar_text(att, "schedule", "a schedule name");
    if (s.schedule.empty()) throw InputError(att.file(), att.line("schedule"), "attention.schedule", "must not be empty");
  }
  if (att.find("ulysses_degree")) s.ulysses_degree = read_int(att, "ulysses_degree", kMaxRingSize);
  if (att.find("inner_ring")) s.inner_ring = read_int(att, "inner_ring", kMaxRingSize);
  if (att.find("ulysses_placement")) {
    const std::string& p = scalar_text(att, "ulysses_placement", "inside-node or across-nodes");
    if (p == placement_name(UlyssesPlacement::kInsideNode)) s.ulysses_placement = UlyssesPlacement::kInsideNode;
    else if (p == placement_name(UlyssesPlacement::kAcrossNodes)) s.ulysses_placement = UlyssesPlacement::kAcrossNodes;
    else
      throw InputError(att.file(), att.line("ulysses_placement"), "attention.ulysses_placement",
                       fmt::format("unknown placement '{}' (inside-node or across-nodes)", p));
  }
  for (const char* key : {"causal", "layout", "schedule", "ulysses_degree", "inner_ring", "ulysses_placement", "pass"})
    remember(key);
}

// attention.{pass, grad_dtype}: which pass, and the dtype of the gradients
// that travel (fp32, or bf16 as some systems send them; fp16 gradients need
// loss scaling, which ringsim does not model).
void read_pass(const Map& att, Scenario& s) {
  if (att.find("pass")) s.pass = read_pass_name(att, "pass");
  if (!att.find("grad_dtype")) return;
  const std::string& text = scalar_text(att, "grad_dtype", "fp32 or bf16");
  const auto dtype = parse_dtype(text);
  if (!dtype || *dtype == DType::kFp16)
    throw InputError(att.file(), att.line("grad_dtype"), "attention.grad_dtype",
                     fmt::format("unknown gradient dtype '{}' (fp32 or bf16)", text));
  s.grad_dtype = *dtype;
}

void read_attention(const Map& root, Scenario& s) {
  Map att(root.need("attention"), "attention", root.file(), root.line("attention"),
          {"causal", "layout", "schedule", "ulysses_degree", "inner_ring", "ulysses_placement", "pass", "grad_dtype"});
  s.causal = read_bool(att, "causal");
  read_sharding(att, s);
  read_pass(att, s);
  if (!att.find("layout")) {
    if (s.causal)
      throw InputError(att.file(), att.line(), "attention.layout",
                       "missing (required when causal is true): contiguous, zigzag or striped");
    s.layout = Layout::kContiguous;
    return;
  }
  s.layout = read_layout(att, "layout");
}

DeviceProfile read_device(const Map& cluster, const std::string& scenario_path) {
  const YAML::Node& node = cluster.need("device");
  int line = cluster.line("device");
  if (node.IsMap()) return profile_from_yaml(node, scenario_path, "cluster.device");
  if (!node.IsScalar())
    throw InputError(cluster.file(), line, "cluster.device",
                     fmt::format("expected a profile name, a path or a map, got {}", kind_name(node)));
  std::string dir = std::filesystem::path(scenario_path).parent_path().string();
  try {
    return load_profile(node.Scalar(), dir.empty() ? "." : dir);
  } catch (const InputError& e) {
    if (e.line > 0) throw;  // an error inside the profile file: it names its own place
    throw InputError(cluster.file(), line, "cluster.device", e.what());
  }
}

void read_cluster(const Map& root, Scenario& s) {
  Map cluster(root.need("cluster"), "cluster", root.file(), root.line("cluster"),
              {"device", "gpus_per_node", "ranks_per_gpu", "intra_node", "inter_node"});
  s.profile = read_device(cluster, s.path);
  s.gpus_per_node = static_cast<int>(read_int(cluster, "gpus_per_node", kMaxGpusPerNode));
  if (cluster.find("ranks_per_gpu")) {
    s.ranks_per_gpu = static_cast<int>(read_int(cluster, "ranks_per_gpu", kMaxGpusPerNode));  // read_int: > 0
  }
  s.intra_node = read_link(cluster, "intra_node", s.path);
  s.inter_node = read_link(cluster, "inter_node", s.path);
  if (!s.profile.flops_per_s.count(s.shape.dtype)) {
    std::vector<std::string> have;
    for (const auto& [dtype, rate] : s.profile.flops_per_s) have.push_back(dtype_name(dtype));
    throw InputError(s.path, line_of(root.need("model")["dtype"], root.line("model")), "model.dtype",
                     fmt::format("profile '{}' has no {} rate (its tflops list: {})", s.profile.name,
                                 dtype_name(s.shape.dtype), fmt::join(have, ", ")));
  }
}

YAML::Node parse_file(const std::string& path) {
  const std::string text = read_input_file(path, "scenario file");
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    throw InputError(path, e.mark.line >= 0 ? e.mark.line + 1 : 0, "",
                     fmt::format("not valid YAML: nested more than {} levels deep", e.depth()));
  } catch (const YAML::Exception& e) {
    throw InputError(path, e.mark.line >= 0 ? e.mark.line + 1 : 0, "", fmt::format("not valid YAML: {}", e.msg));
  }
  if (root.IsNull()) throw InputError(path, 1, "", "empty file (expected a scenario map)");
  return root;
}

}  // namespace

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::kContiguous: return "contiguous";
    case Layout::kZigzag: return "zigzag";
    case Layout::kStriped: return "striped";
  }
  return "?";
}

std::optional<Layout> parse_layout(std::string_view s) {
  for (Layout l : {Layout::kContiguous, Layout::kZigzag, Layout::kStriped}) {
    if (s == layout_name(l)) return l;
  }
  return std::nullopt;
}

long long layout_parts(Layout layout, long long parts) { return layout == Layout::kZigzag ? 2 * parts : parts; }

const char* pass_name(Pass p) {
  switch (p) {
    case Pass::kForward: return "forward";
    case Pass::kBackward: return "backward";
    case Pass::kTraining: return "training";
  }
  return "?";
}

std::optional<Pass> parse_pass(std::string_view s) {
  for (Pass p : {Pass::kForward, Pass::kBackward, Pass::kTraining}) {
    if (s == pass_name(p)) return p;
  }
  return std::nullopt;
}

const char* placement_name(UlyssesPlacement p) {
  return p == UlyssesPlacement::kInsideNode ? "inside-node" : "across-nodes";
}

Scenario load_scenario(const std::string& path) { return load_scenario(path, {}); }

namespace {

Scenario read_scenario(const std::string& path, YAML::Node node) {
  Scenario s;
  s.path = path;
  Map root(node, "", s.path, 1, {"name", "model", "attention", "sequence", "cluster", "sweep", "parallel", "faults"});
  s.name = scalar_text(root, "name", "a string");
  if (s.name.empty()) throw InputError(s.path, root.line("name"), "name", "must not be empty");
  for (const char* section : {"attention", "sequence"}) s.key_lines[section] = root.line(section);
  read_model(root, s);
  read_attention(root, s);
  read_cluster(root, s);
  read_parallel(root, s);
  read_points(root, s);
  if (root.find("faults")) s.faults = read_fault_section(root, s.path);
  check_all_faults(s);
  return s;
}

}  // namespace

Scenario load_scenario(const std::string& path, const std::vector<Override>& overrides) {
  YAML::Node node = parse_file(path);
  try {
    apply_overrides(node, overrides);
    Scenario s = read_scenario(path, node);
    s.overrides = overrides;
    return s;
  } catch (const InputError& e) {
    if (auto aimed = from_command_line(e, overrides)) throw *aimed;
    throw;
  }
}

ClusterSpec cluster_for(const Scenario& s, const Point& p) {
  ClusterSpec spec;
  const long long rpg = ranks_per_gpu(s, p);
  spec.gpus = p.ring_size / rpg;
  if (rpg > 1) {
    // A device-to-device copy reads and writes each byte: payload at half the
    // copy rate; a profile without a measured copy falls back on HBM.
    const double copy = s.profile.copy_bytes_per_s > 0 ? s.profile.copy_bytes_per_s : s.profile.hbm_bytes_per_s;
    spec.copy_link = LinkSpec{copy / 2, ceil_ns(s.profile.copy_latency_s)};
  }
  spec.gpus_per_node = s.gpus_per_node;
  spec.intra_node = s.intra_node;
  spec.inter_node = s.inter_node;
  return spec;
}

}  // namespace ringsim
