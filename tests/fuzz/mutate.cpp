// Mutated scenarios; see mutate.hpp. Tree mutations go through yaml-cpp
// (every node re-emitted in block style, one key per line), text mutations
// work on that text.
#include "tests/fuzz/mutate.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <sstream>

namespace ringsim::fuzz {

namespace {

namespace fs = std::filesystem;
using YAML::Node;

constexpr long long kMaxBaseRing = 256;  // shrunk sweeps run in milliseconds, even in event mode
constexpr std::size_t kMaxBasePoints = 4;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string pick(std::mt19937_64& rng, const std::vector<std::string>& from) { return from[rng() % from.size()]; }

void set_block(Node n) {
  n.SetStyle(YAML::EmitterStyle::Block);
  if (n.IsMap())
    for (auto kv : n) set_block(kv.second);
  if (n.IsSequence())
    for (auto item : n) set_block(item);
}

std::string emit(Node n) {
  set_block(n);
  YAML::Emitter out;
  out << n;
  return std::string(out.c_str()) + "\n";
}

// Every node under the root with its key path as the loaders write it
// ("cluster.intra_node.latency", "sweep[2].ring_size").
struct Slot {
  std::string path;
  Node parent;
  std::string key;  // in a map; "" in a sequence
  Node node;
};

void collect(Node n, const std::string& path, std::vector<Slot>& out) {
  if (n.IsMap()) {
    for (auto kv : n) {
      const std::string key = kv.first.Scalar();
      const std::string sub = path.empty() ? key : path + "." + key;
      out.push_back({sub, n, key, kv.second});
      collect(kv.second, sub, out);
    }
  } else if (n.IsSequence()) {
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string sub = fmt::format("{}[{}]", path, i);
      out.push_back({sub, n, "", n[i]});
      collect(n[i], sub, out);
    }
  }
}

bool numeric(const std::string& text) {
  double v = 0;
  const char* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, v);
  return r.ec == std::errc() && r.ptr != text.data();  // "450 GB/s" counts: a number first
}

// Strings whatever they hold: names, and the calibration record.
bool string_field(const std::string& path) {
  for (const char* s : {"name", "card", "calibration"})
    if (path == s || path.find(std::string(".") + s) != std::string::npos || path.rfind(std::string(s) + ".", 0) == 0)
      return true;
  return false;
}

long long ring_of(const Node& point, const Node& sequence) {
  auto value = [&](const char* k) -> long long {
    const Node v = point[k] ? point[k] : sequence[k];
    return v && v.IsScalar() ? static_cast<long long>(v.as<double>()) : 0;
  };
  if (point["ring_size"]) return value("ring_size");
  const long long chunk = value("chunk_tokens");
  return chunk > 0 ? value("tokens") / chunk : value("ring_size");
}

// The scenario with at most kMaxBasePoints sweep points of rings up to kMaxBaseRing.
Node shrink(Node root, std::size_t& points) {
  points = 1;
  const Node sweep = root["sweep"];
  if (!sweep) return root;
  Node kept(YAML::NodeType::Sequence);
  for (const Node& p : sweep)
    if (kept.size() < kMaxBasePoints && ring_of(p, root["sequence"]) <= kMaxBaseRing) kept.push_back(p);
  if (kept.size() == 0) root.remove("sweep");
  else root["sweep"] = kept;
  points = std::max<std::size_t>(1, kept.size());
  return root;
}

const std::vector<std::string> kBadNumbers{"-1", "-1e9", "nan", "NaN", ".nan", "inf", "-inf", ".inf", "infinity"};
const std::vector<std::string> kOddNumbers{"0", "9223372036854775808", "1e308", "1e-308", "4.5", "1e18", "2e-9",
                                           "18446744073709551616", "0x10", "1_000", "", "~", "true"};

}  // namespace

Mutator::Mutator(const std::string& scenario_dir, const std::string& profile_dir) : profile_dir_(profile_dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(scenario_dir))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    std::size_t points = 0;
    Node root = shrink(YAML::Load(read(f)), points);
    bases_.push_back({f.filename().string(), emit(root), points});
  }
}

namespace {

// One mutation of the tree in place; returns its description.
using TreeMutation = std::function<std::string(std::mt19937_64&, Node, FuzzCase&, const std::string& under)>;

// The slots under `under`; a profile's hundreds of samples only half the
// time, so its scalar fields get their share of mutations.
std::vector<Slot> slots_under(Node root, const std::string& under) {
  std::vector<Slot> all, out;
  collect(root, "", all);
  const bool samples = all.size() % 2 == 0;  // varies with the tree, deterministic per case
  for (Slot& s : all) {
    const bool sample = s.path.find("attention[") != std::string::npos || s.path.find("merge[") != std::string::npos;
    if (s.path.rfind(under, 0) == 0 && (samples || !sample)) out.push_back(s);
  }
  return out;
}

std::string delete_key(std::mt19937_64& rng, Node root, FuzzCase& c, const std::string& under) {
  std::vector<Slot> maps;
  for (Slot& s : slots_under(root, under))
    if (!s.key.empty()) maps.push_back(s);
  if (maps.empty()) return "nothing to delete";
  Slot s = maps[rng() % maps.size()];
  s.parent.remove(s.key);
  c.expect = Expect::kAny;
  return "delete " + s.path;
}

std::string unknown_key(std::mt19937_64& rng, Node root, FuzzCase& c, const std::string& under) {
  std::vector<Slot> maps;
  for (Slot& s : slots_under(root, under))
    if (s.node.IsMap() && !string_field(s.path)) maps.push_back(s);
  Slot s = maps.empty() ? Slot{"", root, "", root} : maps[rng() % maps.size()];
  s.node["zz_unknown"] = 1;
  c.expect = Expect::kReject;
  c.key = s.path.empty() ? "zz_unknown" : s.path + ".zz_unknown";
  return "unknown key " + c.key;
}

std::string wrong_type(std::mt19937_64& rng, Node root, FuzzCase& c, const std::string& under) {
  std::vector<Slot> scalars;
  for (Slot& s : slots_under(root, under))
    if (s.node.IsScalar() && !s.key.empty()) scalars.push_back(s);
  if (scalars.empty()) return "no scalar";
  Slot s = scalars[rng() % scalars.size()];
  Node replacement = YAML::Load(pick(rng, {"{a: 1}", "[1, 2]", "[]", "{}"}));
  s.parent[s.key] = replacement;
  c.expect = Expect::kReject;
  c.key = s.path;
  return "collection at " + s.path;
}

std::string numeric_value(std::mt19937_64& rng, Node root, FuzzCase& c, const std::string& under) {
  std::vector<Slot> numbers;
  for (Slot& s : slots_under(root, under))
    if (s.node.IsScalar() && !s.key.empty() && !string_field(s.path) && numeric(s.node.Scalar())) numbers.push_back(s);
  if (numbers.empty()) return "no number";
  Slot s = numbers[rng() % numbers.size()];
  const bool bad = rng() % 2 == 0;
  const std::string value = pick(rng, bad ? kBadNumbers : kOddNumbers);
  s.parent[s.key] = value;
  c.expect = bad ? Expect::kReject : Expect::kAny;
  c.key = bad ? s.path : "";
  return fmt::format("{} at {}", value.empty() ? "empty" : value, s.path);
}

std::string huge_ring(std::mt19937_64& rng, Node root, FuzzCase& c, const std::string&) {
  const std::string value = pick(rng, {"262144", "262145", "1e9", "65536", "100000"});
  const bool chunk = rng() % 3 == 0;
  Node target = root["sweep"] ? root["sweep"][rng() % root["sweep"].size()] : root["sequence"];
  if (chunk) {
    target.remove("ring_size");
    target["chunk_tokens"] = "1";
  } else {
    target.remove("chunk_tokens");
    target["ring_size"] = value;
  }
  c.expect = !chunk && (value == "262145" || value == "1e9") ? Expect::kReject : Expect::kAny;
  return chunk ? "chunk_tokens 1" : "ring_size " + value;
}

// --mode, --format and sometimes a sampled trace; controls keep mode auto
// (recurrence would refuse a shared GPU, rightly, with exit 2).
std::vector<std::string> command_line(std::mt19937_64& rng, Expect expect) {
  std::vector<std::string> args{"--format", pick(rng, {"table", "csv", "json"})};
  if (args[1] == "csv" && rng() % 2) args.insert(args.end(), {"--csv-header", "plain"});
  if (expect == Expect::kAccept) return args;
  const unsigned r = rng() % 100;
  if (r < 15) args.insert(args.end(), {"--mode", "event"});
  else if (r < 25) args.insert(args.end(), {"--mode", "recurrence"});
  else if (r < 30) args.insert(args.end(), {"--mode", "folded"});
  else if (r < 40) args.insert(args.end(), {"--trace", "TRACE", "--trace-devices", "0-3"});
  return args;
}

}  // namespace

FuzzCase Mutator::make(std::mt19937_64& rng, std::uint64_t index) const {
  const Base& base = bases_[index % bases_.size()];
  FuzzCase c;
  Node root = YAML::Load(base.yaml);
  // A third of the cases carry the profile inline, mutated inside.
  std::string under;
  const Node device = root["cluster"]["device"];
  if (rng() % 3 == 0 && device.IsScalar() && fs::exists(fs::path(profile_dir_) / (device.Scalar() + ".yaml"))) {
    root["cluster"]["device"] = YAML::Load(read(fs::path(profile_dir_) / (device.Scalar() + ".yaml")));
    under = "cluster.device";
  }
  c.yaml = emit(root);
  const int kind = static_cast<int>(rng() % 100);
  std::string what;
  if (kind < 6) {
    c.expect = Expect::kAccept;
    c.points = base.points;
    what = "control";
  } else if (kind < 70) {
    const TreeMutation mutations[] = {delete_key, unknown_key, wrong_type, numeric_value, numeric_value, huge_ring};
    what = mutations[rng() % std::size(mutations)](rng, root, c, under);
    c.yaml = emit(root);
  } else if (kind < 96) {
    what = text_mutation(rng, c);
  } else {
    what = known_case(rng, c, profile_dir_);
  }
  if (!under.empty()) what = "inline profile: " + what;
  c.name = fmt::format("{}: {}", base.file, what);
  c.args = command_line(rng, c.expect);
  return c;
}

}  // namespace ringsim::fuzz
