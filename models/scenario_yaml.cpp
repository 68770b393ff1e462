// Scenario loader: YAML (yaml-cpp) -> Scenario, validating every field and
// every point before anything runs. Format: see models/scenario.hpp.
//
// Every error is an InputError naming the file, the 1-based line (from
// yaml-cpp's Mark) and the key path ("sweep[3].ring_size"). Unknown keys are
// errors, not silently ignored, and suggest the closest known key: a typo
// such as `ring_sise` would otherwise fall back to a default and simulate
// something the user did not ask for.
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <optional>

#include "models/input_file.hpp"
#include "models/scenario.hpp"
#include "models/suggest.hpp"

namespace ringsim {

namespace {

constexpr long long kMaxRingSize = 262'144;
constexpr long long kMaxTokens = 1LL << 40;   // 1.1 trillion; products checked below
constexpr long long kMaxHeads = 1 << 16;
constexpr long long kMaxHeadDim = 1 << 16;
constexpr double kMaxSimulatedNs = 9.2e18;  // int64 ns: 292 years

const char* kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    default: return "nothing (null)";
  }
}

int line_of(const YAML::Node& n, int fallback) {
  if (!n.IsDefined()) return fallback;
  int line = n.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

// One YAML map with a fixed set of known keys: rejects unknown and duplicate
// keys on construction, then hands out values with their key paths.
class Map {
 public:
  Map(const YAML::Node& node, std::string path, const std::string& file, int parent_line,
      std::vector<std::string> known)
      : path_(std::move(path)), file_(file), line_(line_of(node, parent_line)) {
    if (!node.IsMap())
      throw InputError(file_, line_, path_, fmt::format("expected a map, got {}", kind_name(node)));
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      int key_line = line_of(kv.first, line_);
      if (std::find(known.begin(), known.end(), key) == known.end()) throw unknown(key, key_line, known);
      if (find(key)) throw InputError(file_, key_line, sub(key), "duplicate key");
      entries_.push_back({key, kv.second, key_line});
    }
  }
  const YAML::Node* find(std::string_view key) const {
    for (const auto& e : entries_)
      if (e.key == key) return &e.value;
    return nullptr;
  }
  const YAML::Node& need(std::string_view key) const {
    if (const YAML::Node* n = find(key)) return *n;
    throw InputError(file_, line_, sub(key), "missing (required)");
  }
  int line(std::string_view key) const {
    for (const auto& e : entries_)
      if (e.key == key) return e.line;
    return line_;
  }
  int line() const { return line_; }
  const std::string& path() const { return path_; }
  std::string sub(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }
  const std::string& file() const { return file_; }

 private:
  struct Entry { std::string key; YAML::Node value; int line; };
  InputError unknown(const std::string& key, int key_line, const std::vector<std::string>& known) const {
    const auto best = closest_name(key, known);
    std::string hint = best ? fmt::format("; did you mean '{}'?", *best)
                            : fmt::format("; known keys: {}", fmt::join(known, ", "));
    return InputError(file_, key_line, sub(key), fmt::format("unknown key{}", hint));
  }
  std::string path_;
  const std::string& file_;
  int line_;
  std::vector<Entry> entries_;
};

const std::string& scalar_text(const Map& m, std::string_view key, const char* expected) {
  const YAML::Node& n = m.need(key);
  if (!n.IsScalar())
    throw InputError(m.file(), m.line(key), m.sub(key),
                     fmt::format("expected {}, got {}", expected, kind_name(n)));
  return n.Scalar();
}

// An integer written as 1048576, "1048576" or 1.5e6 (only if integral).
long long read_int(const Map& m, std::string_view key, long long max) {
  const std::string& text = scalar_text(m, key, "an integer");
  auto fail = [&](const std::string& why) { return InputError(m.file(), m.line(key), m.sub(key), why); };
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    double v = 0;
    try {
      v = parse_quantity(text, Dimension::kCount);
    } catch (const std::invalid_argument&) {
      throw fail(fmt::format("expected an integer, got '{}'", text));
    }
    if (!std::isfinite(v) || std::floor(v) != v)
      throw fail(fmt::format("expected an integer, got '{}'", text));
    if (std::fabs(v) > static_cast<double>(max) * 2 + 1)
      throw fail(fmt::format("{} is larger than the maximum {}", text, max));
    value = static_cast<long long>(v);
  }
  if (value <= 0) throw fail(fmt::format("must be positive, got {}", value));
  if (value > max) throw fail(fmt::format("{} is larger than the maximum {}", value, max));
  return value;
}

// A quantity: a number in base units or a string with units ("50 GB/s").
double read_quantity(const Map& m, std::string_view key, Dimension dim, bool allow_zero) {
  const std::string& text = scalar_text(m, key, "a quantity");
  double v = 0;
  try {
    v = parse_quantity(text, dim);
  } catch (const std::invalid_argument& e) {
    throw InputError(m.file(), m.line(key), m.sub(key), e.what());
  }
  if (!std::isfinite(v) || v < 0 || (v == 0 && !allow_zero))
    throw InputError(m.file(), m.line(key), m.sub(key),
                     fmt::format("must be {}, got '{}'", allow_zero ? "non-negative" : "positive", text));
  return v;
}

bool read_bool(const Map& m, std::string_view key) {
  const std::string& text = scalar_text(m, key, "true or false");
  bool value = false;
  if (!YAML::convert<bool>::decode(m.need(key), value))
    throw InputError(m.file(), m.line(key), m.sub(key), fmt::format("expected true or false, got '{}'", text));
  return value;
}

LinkSpec read_link(const Map& cluster, std::string_view key) {
  Map link(cluster.need(key), cluster.sub(key), cluster.file(), cluster.line(key), {"bandwidth", "latency"});
  LinkSpec spec;
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
            {"q_heads", "kv_heads", "head_dim", "dtype"});
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
}

void read_attention(const Map& root, Scenario& s) {
  Map att(root.need("attention"), "attention", root.file(), root.line("attention"), {"causal", "layout"});
  s.causal = read_bool(att, "causal");
  if (!att.find("layout")) {
    if (s.causal)
      throw InputError(att.file(), att.line(), "attention.layout",
                       "missing (required when causal is true): contiguous or zigzag");
    s.layout = Layout::kContiguous;
    return;
  }
  const std::string& layout = scalar_text(att, "layout", "contiguous or zigzag");
  if (layout == "contiguous") s.layout = Layout::kContiguous;
  else if (layout == "zigzag") s.layout = Layout::kZigzag;
  else
    throw InputError(att.file(), att.line("layout"), "attention.layout",
                     fmt::format("unknown layout '{}' (contiguous or zigzag)", layout));
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
  s.gpus_per_node = static_cast<int>(read_int(cluster, "gpus_per_node", kMaxRingSize));
  if (cluster.find("ranks_per_gpu")) {
    s.ranks_per_gpu = static_cast<int>(read_int(cluster, "ranks_per_gpu", kMaxRingSize));  // read_int: > 0
  }
  s.intra_node = read_link(cluster, "intra_node");
  s.inter_node = read_link(cluster, "inter_node");
  if (!s.profile.flops_per_s.count(s.shape.dtype)) {
    std::vector<std::string> have;
    for (const auto& [dtype, rate] : s.profile.flops_per_s) have.push_back(dtype_name(dtype));
    throw InputError(s.path, line_of(root.need("model")["dtype"], root.line("model")), "model.dtype",
                     fmt::format("profile '{}' has no {} rate (its tflops list: {})", s.profile.name,
                                 dtype_name(s.shape.dtype), fmt::join(have, ", ")));
  }
}

// tokens and ring_size | chunk_tokens of sequence or of one sweep point;
// fields a sweep point leaves out come from `base` (the sequence).
struct PointSpec {
  long long tokens = 0;
  std::optional<long long> ring_size, chunk_tokens;
  long long ranks_per_gpu = 0;  // 0: the scenario's
};

PointSpec read_point_spec(const Map& m, const PointSpec* base) {
  PointSpec spec = base ? *base : PointSpec{};
  if (m.find("tokens") || !base) spec.tokens = read_int(m, "tokens", kMaxTokens);
  bool has_ring = m.find("ring_size") != nullptr, has_chunk = m.find("chunk_tokens") != nullptr;
  if (has_ring && has_chunk)
    throw InputError(m.file(), m.line("chunk_tokens"), m.sub("chunk_tokens"),
                     "give ring_size or chunk_tokens, not both");
  if (!has_ring && !has_chunk && !base)
    throw InputError(m.file(), m.line(), m.sub("ring_size"), "missing (required): ring_size or chunk_tokens");
  if (has_ring) spec = {spec.tokens, read_int(m, "ring_size", kMaxRingSize), std::nullopt, spec.ranks_per_gpu};
  if (has_chunk) spec = {spec.tokens, std::nullopt, read_int(m, "chunk_tokens", kMaxTokens), spec.ranks_per_gpu};
  if (m.find("ranks_per_gpu")) spec.ranks_per_gpu = read_int(m, "ranks_per_gpu", kMaxRingSize);  // > 0
  return spec;
}

Point resolve_point(const Scenario& s, const Map& m, const PointSpec& spec) {
  Point p{spec.tokens, spec.ring_size.value_or(0), spec.ranks_per_gpu};
  if (spec.chunk_tokens) {
    long long chunk = *spec.chunk_tokens;
    if (spec.tokens % chunk != 0)
      throw InputError(m.file(), m.line("chunk_tokens"), m.sub("chunk_tokens"),
                       fmt::format("chunk_tokens {} does not divide tokens {}", chunk, spec.tokens));
    p.ring_size = spec.tokens / chunk;
    if (p.ring_size > kMaxRingSize)
      throw InputError(m.file(), m.line("chunk_tokens"), m.sub("chunk_tokens"),
                       fmt::format("gives ring_size {} (tokens / chunk_tokens), larger than the maximum {}",
                                   p.ring_size, kMaxRingSize));
  }
  check_point(s, p, m.path(), m.line());
  return p;
}

void read_points(const Map& root, Scenario& s) {
  Map seq(root.need("sequence"), "sequence", root.file(), root.line("sequence"),
          {"tokens", "ring_size", "chunk_tokens"});
  PointSpec base = read_point_spec(seq, nullptr);
  Point sequence_point = resolve_point(s, seq, base);  // checked even when a sweep replaces it
  const YAML::Node* sweep = root.find("sweep");
  if (!sweep) {
    s.points.push_back(sequence_point);
    return;
  }
  if (!sweep->IsSequence() || sweep->size() == 0)
    throw InputError(s.path, root.line("sweep"), "sweep",
                     sweep->IsSequence() ? "is empty" : fmt::format("expected a list, got {}", kind_name(*sweep)));
  for (std::size_t i = 0; i < sweep->size(); ++i) {
    Map point((*sweep)[i], fmt::format("sweep[{}]", i), s.path, root.line("sweep"),
              {"tokens", "ring_size", "chunk_tokens", "ranks_per_gpu"});
    s.points.push_back(resolve_point(s, point, read_point_spec(point, &base)));
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
  return layout == Layout::kZigzag ? "zigzag" : "contiguous";
}

Scenario load_scenario(const std::string& path) {
  YAML::Node node = parse_file(path);
  Scenario s;
  s.path = path;
  Map root(node, "", s.path, 1, {"name", "model", "attention", "sequence", "cluster", "sweep"});
  s.name = scalar_text(root, "name", "a string");
  if (s.name.empty()) throw InputError(s.path, root.line("name"), "name", "must not be empty");
  read_model(root, s);
  read_attention(root, s);
  read_cluster(root, s);
  read_points(root, s);
  return s;
}

void check_point(const Scenario& s, const Point& p, const std::string& where, int line) {
  auto key = [&](const char* k) { return where.empty() ? std::string(k) : fmt::format("{}.{}", where, k); };
  auto fail = [&](const char* k, const std::string& why) { return InputError(s.path, line, key(k), why); };
  if (p.tokens <= 0) throw fail("tokens", fmt::format("must be positive, got {}", p.tokens));
  if (p.tokens > kMaxTokens) throw fail("tokens", fmt::format("{} is larger than the maximum {}", p.tokens, kMaxTokens));
  if (p.ring_size <= 0) throw fail("ring_size", fmt::format("must be positive, got {}", p.ring_size));
  if (p.ring_size > kMaxRingSize)
    throw fail("ring_size", fmt::format("{} is larger than the maximum {}", p.ring_size, kMaxRingSize));
  bool zigzag = s.layout == Layout::kZigzag;
  long long parts = zigzag ? 2 * p.ring_size : p.ring_size;
  if (p.tokens % parts != 0)
    throw fail("ring_size", zigzag ? fmt::format("tokens {} is not divisible by 2 * ring_size = {} (zigzag "
                                                 "splits the sequence into 2 * ring_size chunks)", p.tokens, parts)
                                   : fmt::format("tokens {} is not divisible by ring_size {}", p.tokens, parts));
  if (p.ranks_per_gpu < 0) throw fail("ranks_per_gpu", fmt::format("must be positive, got {}", p.ranks_per_gpu));
  const long long rpg = ranks_per_gpu(s, p);
  if (p.ring_size % rpg != 0) {
    // A point without its own ranks_per_gpu takes the cluster's: name that key.
    const std::string owner = p.ranks_per_gpu > 0 ? key("ranks_per_gpu") : "cluster.ranks_per_gpu";
    throw InputError(s.path, line, owner,
                     fmt::format("ring_size {}{} is not a multiple of ranks_per_gpu {} (every GPU holds the "
                                 "same number of ranks)", p.ring_size, where.empty() ? "" : " of " + where, rpg));
  }
  // The largest buffer over the whole sequence, in bytes, must fit in int64.
  long long heads = std::max(s.shape.q_heads, s.shape.kv_heads), bytes = 0;
  if (__builtin_mul_overflow(p.tokens, heads * s.shape.head_dim * 8LL, &bytes))
    throw fail("tokens", fmt::format("{} tokens x {} heads x head_dim {} overflows 64-bit byte counts",
                                     p.tokens, heads, s.shape.head_dim));
  // A lower bound on one device's compute time (all its flops at the peak
  // rate, halved for causal masks) must fit in int64 nanoseconds.
  auto rate = s.profile.flops_per_s.find(s.shape.dtype);
  if (rate != s.profile.flops_per_s.end() && rate->second > 0) {
    double flops = 4.0 * static_cast<double>(p.chunk_tokens()) * static_cast<double>(p.tokens) *
                   s.shape.head_dim * s.shape.q_heads * (s.causal ? 0.5 : 1.0);
    if (flops / rate->second * kNsPerSecond > kMaxSimulatedNs)
      throw fail("tokens", fmt::format("one device would compute for at least {:.3g} years, past the 292 "
                                       "years int64 nanoseconds hold", flops / rate->second / 3.156e7));
  }
}

long long ranks_per_gpu(const Scenario& s, const Point& p) {
  return p.ranks_per_gpu > 0 ? p.ranks_per_gpu : s.ranks_per_gpu;
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
