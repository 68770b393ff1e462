// Transports: reading link profiles and their rate curve (see transport.hpp).
#include "models/transport.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "models/input_file.hpp"
#include "models/profile.hpp"
#include "models/yaml_reader.hpp"

namespace ringsim {

namespace fs = std::filesystem;

double transport_seconds(const TransportProfile& t, double bytes) {
  const auto& s = t.samples;
  if (s.empty()) return t.latency_s + bytes / t.bandwidth_bytes_per_s;
  const TransportSample &first = s.front(), &last = s.back();
  if (bytes <= first.bytes) {
    // Down the line through the two smallest samples to its fixed part, kept
    // within [latency, t_first] (the per-step cost a small message still pays).
    const double t_first = first.bytes / first.bytes_per_s;
    double fixed = std::min(t.latency_s, t_first);
    if (s.size() > 1) {
      const double slope = (s[1].bytes / s[1].bytes_per_s - t_first) / (s[1].bytes - first.bytes);
      fixed = std::clamp(t_first - slope * first.bytes, fixed, t_first);
    }
    return fixed + (t_first - fixed) * bytes / first.bytes;
  }
  if (bytes >= last.bytes) {
    if (t.bandwidth_bytes_per_s > last.bytes_per_s)
      return std::min(bytes / last.bytes_per_s, t.latency_s + bytes / t.bandwidth_bytes_per_s);
    return bytes / last.bytes_per_s;
  }
  const auto hi = std::upper_bound(s.begin(), s.end(), bytes, [](double b, const TransportSample& x) { return b < x.bytes; });
  const auto lo = hi - 1;
  const double f = std::log(bytes / lo->bytes) / std::log(hi->bytes / lo->bytes);
  return bytes / (lo->bytes_per_s + f * (hi->bytes_per_s - lo->bytes_per_s));
}

double effective_bytes_per_s(const TransportProfile& t, double bytes) { return bytes / transport_seconds(t, bytes); }

double transport_rate_cap(const TransportProfile& t, double bytes) {
  const double payload_s = transport_seconds(t, bytes) - t.latency_s;
  return payload_s > 0 ? bytes / payload_s : std::numeric_limits<double>::infinity();
}

namespace {

TransportSample read_transport_sample(const YamlMapReader& r) {
  r.require_map({"bytes", "bytes_per_s"});
  return {r.quantity("bytes", Dimension::kBytes, true), r.quantity("bytes_per_s", Dimension::kBytesPerSecond, true)};
}

void read_measured(const YamlMapReader& r, TransportProfile& t) {
  const YAML::Node n = r.get("measured");
  if (!n.IsMap()) r.fail(n, "measured", "expected a map of strings (date, tool, command, ...)");
  for (const auto& kv : n) {
    if (!kv.second.IsScalar()) r.fail(kv.second, "measured." + kv.first.Scalar(), "expected a string");
    t.measured_info.emplace_back(kv.first.Scalar(), kv.second.Scalar());
  }
}

}  // namespace

TransportProfile transport_from_yaml(const YAML::Node& node, const std::string& file) {
  const YamlMapReader r(node, file, "");
  r.require_map({"name", "api", "pattern", "card", "source", "measured", "latency", "bandwidth", "samples"});
  TransportProfile t;
  t.name = r.scalar("name");
  if (t.name.empty()) r.fail(r.get("name"), "name", "must not be empty");
  t.api = r.scalar("api");
  t.pattern = r.has("pattern") ? r.scalar("pattern") : "ring-step";
  if (r.has("card")) t.card = r.scalar("card");
  if (r.has("source")) {
    const std::string s = r.scalar("source");
    if (s != "measured" && s != "reported") r.fail(r.get("source"), "source", fmt::format("expected measured or reported, got \"{}\"", s));
    t.measured = s == "measured";
  }
  if (r.has("measured")) read_measured(r, t);
  if (r.has("latency")) t.latency_s = r.quantity("latency", Dimension::kSeconds, false);
  if (r.has("bandwidth")) t.bandwidth_bytes_per_s = r.quantity("bandwidth", Dimension::kBytesPerSecond, true);
  if (r.has("samples")) read_yaml_samples(r, "", "samples", read_transport_sample, t.samples);
  if (t.samples.empty() && t.bandwidth_bytes_per_s == 0)
    throw InputError(file, yaml_line_of(node), "samples", "a transport needs samples or a bandwidth");
  const YAML::Node list = r.has("samples") ? r.get("samples") : YAML::Node();
  for (std::size_t i = 1; i < t.samples.size(); ++i) {
    if (t.samples[i].bytes <= t.samples[i - 1].bytes)
      throw InputError(file, yaml_line_of(list[i]), fmt::format("samples[{}].bytes", i),
                       "samples must be in increasing order of bytes");
  }
  t.origin = file;
  return t;
}

std::vector<std::string> transport_dirs() {
  std::vector<std::string> dirs;
  for (const ProfileDir& d : profile_dirs()) {
    std::error_code ec;
    const fs::path links = fs::path(d.path) / "links";
    if (d.exists && fs::is_directory(links, ec)) dirs.push_back(links.string());
  }
  return dirs;
}

std::vector<std::string> shipped_transport_names() {
  std::vector<std::string> names;
  for (const std::string& dir : transport_dirs())
    for (std::string& n : profile_names_in(dir)) names.push_back(std::move(n));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

TransportProfile load_transport(const std::string& name_or_path, const std::string& base_dir) {
  const fs::path given(name_or_path);
  const bool bare_name = name_or_path.find('/') == std::string::npos && given.extension() != ".yaml";
  std::vector<fs::path> candidates;
  const std::vector<std::string> dirs = transport_dirs();
  if (bare_name)
    for (const std::string& dir : dirs) candidates.push_back(fs::path(dir) / (name_or_path + ".yaml"));
  if (given.is_relative() && !base_dir.empty()) candidates.push_back(fs::path(base_dir) / given);
  candidates.push_back(given);
  std::error_code ec;
  const auto found = std::find_if(candidates.begin(), candidates.end(), [&](const fs::path& c) { return fs::exists(c, ec); });
  if (found == candidates.end()) {
    throw InputError(name_or_path, 0, "",
                     bare_name ? fmt::format("unknown transport \"{}\"; shipped: {} (in {})", name_or_path,
                                             fmt::join(shipped_transport_names(), ", "), fmt::join(dirs, ", "))
                               : std::string("transport file not found"));
  }
  const std::string text = read_input_file(found->string(), "transport profile");  // regular, capped, UTF-8
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(found->string(), e.mark.line >= 0 ? e.mark.line + 1 : 0, "", e.msg);
  }
  return transport_from_yaml(root, found->string());
}

std::shared_ptr<const TransportProfile> read_link_transport(const YAML::Node& link_map, const std::string& file,
                                                            const std::string& key_prefix,
                                                            const std::string& base_dir,
                                                            const std::string& key) {
  const YamlMapReader r(link_map, file, key_prefix);
  if (!link_map.IsMap() || !r.has(key)) return nullptr;
  const std::string name = r.scalar(key);
  try {
    return std::make_shared<const TransportProfile>(load_transport(name, base_dir));
  } catch (const InputError& e) {
    // Name the scenario's key as well as the link profile's own complaint.
    r.fail(r.get(key), key, e.what());
  }
}

}  // namespace ringsim
