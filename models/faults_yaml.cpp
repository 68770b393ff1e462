// Reading and checking a scenario's `faults` section; format in
// models/faults.hpp. Every error names file, line and key (exit 2 in the CLI).
#include <filesystem>
#include <fstream>

#include "models/faults.hpp"
#include "models/scenario.hpp"
#include "models/scenario_points.hpp"

namespace ringsim {

using namespace yaml;

namespace {

constexpr long long kMaxRepeats = 10'000;
constexpr long long kMaxSeed = 1LL << 62;

double read_factor(const Map& m, std::string_view key) {
  const std::string& text = scalar_text(m, key, "a positive number");
  double v = 0;
  try {
    v = parse_quantity(text, Dimension::kCount);
  } catch (const std::invalid_argument&) {
    throw InputError(m.file(), m.line(key), m.sub(key), fmt::format("expected a number, got '{}'", text));
  }
  if (!std::isfinite(v) || v <= 0)
    throw InputError(m.file(), m.line(key), m.sub(key), fmt::format("must be > 0, got {}", text));
  return v;
}

const Map list_item(const YAML::Node& list, std::size_t i, const std::string& key, const Map& parent,
                    std::vector<std::string> known) {
  return Map(list[i], fmt::format("{}[{}]", key, i), parent.file(), parent.line(), std::move(known));
}

const YAML::Node& need_list(const Map& m, std::string_view key) {
  const YAML::Node& n = m.need(key);
  if (!n.IsSequence())
    throw InputError(m.file(), m.line(key), m.sub(key), fmt::format("expected a list, got {}", kind_name(n)));
  return n;
}

void read_stragglers(const Map& f, FaultSpec& spec) {
  const YAML::Node& list = need_list(f, "stragglers");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Map m = list_item(list, i, f.sub("stragglers"), f, {"device", "slowdown", "from_step"});
    StragglerSpec s;
    s.device = read_int(m, "device", kMaxRingSize, 0);
    s.slowdown = read_factor(m, "slowdown");
    if (m.find("from_step")) s.from_step = read_int(m, "from_step", kMaxRingSize, 0);
    s.line = m.line();
    for (const StragglerSpec& other : spec.stragglers)
      if (other.device == s.device)
        throw InputError(m.file(), m.line("device"), m.sub("device"), fmt::format("device {} listed twice", s.device));
    spec.stragglers.push_back(s);
  }
}

void read_fraction(const Map& f, FaultSpec& spec) {
  const Map m(f.need("straggler_fraction"), f.sub("straggler_fraction"), f.file(), f.line("straggler_fraction"),
              {"fraction", "slowdown", "seed"});
  StragglerFraction s;
  s.fraction = read_factor(m, "fraction");
  if (s.fraction > 1)
    throw InputError(m.file(), m.line("fraction"), m.sub("fraction"), fmt::format("must be at most 1, got {}", s.fraction));
  s.slowdown = read_factor(m, "slowdown");
  s.seed = m.find("seed") ? static_cast<std::uint64_t>(read_int(m, "seed", kMaxSeed, 0)) : 0;
  s.line = m.line();
  spec.fraction = s;
}

std::vector<double> read_samples(const Map& m, const std::string& scenario_path) {
  const std::string& name = scalar_text(m, "file", "a file of samples");
  std::filesystem::path path(name);
  if (path.is_relative()) path = std::filesystem::path(scenario_path).parent_path() / path;
  std::ifstream in(path);
  if (!in) throw InputError(m.file(), m.line("file"), m.sub("file"), fmt::format("cannot read '{}'", path.string()));
  std::vector<double> samples;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    try {
      std::size_t used = 0;
      const double v = std::stod(line.substr(first), &used);
      if (!std::isfinite(v) || v < 0 || line.find_first_not_of(" \t\r", first + used) != std::string::npos)
        throw std::invalid_argument("bad");
      samples.push_back(v);
    } catch (const std::exception&) {
      throw InputError(path.string(), n, m.sub("file"),
                       fmt::format("expected one non-negative factor per line (1.03 = 3% slower), got '{}'", line));
    }
  }
  if (samples.empty()) throw InputError(m.file(), m.line("file"), m.sub("file"), "holds no samples");
  return samples;
}

void read_applies(const Map& m, JitterSpec& j) {
  const YAML::Node& list = need_list(m, "applies_to");
  j.compute = j.transfer = false;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string what = list[i].IsScalar() ? list[i].Scalar() : "";
    if (what == "compute") j.compute = true;
    else if (what == "transfer") j.transfer = true;
    else
      throw InputError(m.file(), line_of(list[i], m.line("applies_to")), fmt::format("{}[{}]", m.sub("applies_to"), i),
                       fmt::format("unknown target '{}' (compute or transfer)", what));
  }
  if (!j.compute && !j.transfer) throw InputError(m.file(), m.line("applies_to"), m.sub("applies_to"), "is empty");
}

void read_jitter(const Map& f, FaultSpec& spec, const std::string& scenario_path) {
  const Map m(f.need("jitter"), f.sub("jitter"), f.file(), f.line("jitter"),
              {"distribution", "sigma", "seed", "applies_to", "file"});
  JitterSpec j;
  const std::string& dist = scalar_text(m, "distribution", "normal, lognormal or empirical");
  const auto wrong = [&](const char* key, const std::string& why) { return InputError(m.file(), m.line(key), m.sub(key), why); };
  if (dist == "normal") j.distribution = JitterDistribution::kNormal;
  else if (dist == "lognormal") j.distribution = JitterDistribution::kLognormal;
  else if (dist == "empirical") j.distribution = JitterDistribution::kEmpirical;
  else throw wrong("distribution", fmt::format("unknown distribution '{}' (normal, lognormal or empirical)", dist));
  if (j.distribution == JitterDistribution::kEmpirical) {
    if (m.find("sigma")) throw wrong("sigma", "empirical jitter takes its spread from `file`, not sigma");
    j.file = scalar_text(m, "file", "a file");
    j.samples = read_samples(m, scenario_path);
  } else {
    if (m.find("file")) throw wrong("file", fmt::format("only empirical jitter reads a file ({} takes sigma)", dist));
    j.sigma = read_factor(m, "sigma");
    if (j.sigma > 10) throw wrong("sigma", fmt::format("{} is larger than the maximum 10", j.sigma));
  }
  j.seed = m.find("seed") ? static_cast<std::uint64_t>(read_int(m, "seed", kMaxSeed, 0)) : 0;
  if (m.find("applies_to")) read_applies(m, j);
  j.line = m.line();
  spec.jitter = j;
}

LinkFault read_link_fault(const Map& m) {
  LinkFault l;
  l.key = m.path();
  l.line = m.line();
  if (m.find("nic")) {
    if (m.find("from") || m.find("to"))
      throw InputError(m.file(), m.line("nic"), m.sub("nic"), "a link is either {from, to} or {nic}, not both");
    l.kind = LinkFault::kNic;
    l.nic = read_int(m, "nic", kMaxRingSize, 0);
    if (m.find("fail_at")) l.fail_at_ns = ceil_ns(read_quantity(m, "fail_at", Dimension::kSeconds, true));
  } else {
    if (m.find("fail_at"))
      throw InputError(m.file(), m.line("fail_at"), m.sub("fail_at"), "fail_at applies to a NIC ({nic: N, fail_at: ...})");
    l.from = read_int(m, "from", kMaxRingSize, 0);
    l.to = read_int(m, "to", kMaxRingSize, 0);
    if (l.from == l.to)
      throw InputError(m.file(), m.line("to"), m.sub("to"), fmt::format("no link from GPU {} to itself", l.from));
  }
  if (m.find("bandwidth_factor")) l.bandwidth_factor = read_factor(m, "bandwidth_factor");
  if (l.bandwidth_factor > 1)
    throw InputError(m.file(), m.line("bandwidth_factor"), m.sub("bandwidth_factor"),
                     fmt::format("must be at most 1 (a degraded link), got {}", l.bandwidth_factor));
  if (!m.find("bandwidth_factor") && !l.fail_at_ns)
    throw InputError(m.file(), m.line(), m.path(), "says nothing: give bandwidth_factor or (for a NIC) fail_at");
  return l;
}

}  // namespace

FaultSpec read_fault_section(const Map& parent, const std::string& scenario_path) {
  const Map f(parent.need("faults"), parent.sub("faults"), parent.file(), parent.line("faults"),
              {"stragglers", "straggler_fraction", "jitter", "links", "repeats"});
  FaultSpec spec;
  spec.line = f.line();
  spec.key = f.path();
  if (f.find("stragglers")) read_stragglers(f, spec);
  if (f.find("straggler_fraction")) read_fraction(f, spec);
  if (f.find("jitter")) read_jitter(f, spec, scenario_path);
  if (f.find("links")) {
    const YAML::Node& list = need_list(f, "links");
    for (std::size_t i = 0; i < list.size(); ++i)
      spec.links.push_back(read_link_fault(
          list_item(list, i, f.sub("links"), f, {"from", "to", "nic", "bandwidth_factor", "fail_at"})));
  }
  if (f.find("repeats")) spec.repeats = static_cast<int>(read_int(f, "repeats", kMaxRepeats));
  return spec;
}

void check_all_faults(const Scenario& s) {
  for (const Point& p : s.points) check_faults(s, p, p.where);
}

}  // namespace ringsim
