// Text-level mutations and the known slow cases; see mutate.hpp.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "tests/fuzz/mutate.hpp"

namespace ringsim::fuzz {

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// The text with its `sweep:` block (the last top-level key) cut off.
std::string without_sweep(const std::string& yaml) {
  const auto at = yaml.find("\nsweep:");
  return at == std::string::npos ? yaml : yaml.substr(0, at + 1);
}

std::string duplicate_line(std::mt19937_64& rng, FuzzCase& c) {
  std::vector<std::string> lines = lines_of(c.yaml);
  std::vector<std::size_t> keyed;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find(':') != std::string::npos && lines[i].find("- ") == std::string::npos) keyed.push_back(i);
  const std::size_t i = keyed[rng() % keyed.size()];
  // A map key written twice: the second copy right after the first's value
  // (a nested block stays with the second, the first holds null).
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(i) + 1, lines[i]);
  c.yaml = joined(lines);
  c.expect = Expect::kReject;
  return fmt::format("duplicate line {}: {}", i + 1, lines[i]);
}

std::string invalid_utf8(std::mt19937_64& rng, FuzzCase& c) {
  std::vector<std::string> lines = lines_of(c.yaml);
  const std::size_t i = rng() % lines.size();
  const char* bytes[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
  const char* b = bytes[rng() % std::size(bytes)];
  lines[i].insert(lines[i].size() / 2, b);
  c.yaml = joined(lines);
  c.expect = Expect::kReject;
  return fmt::format("invalid UTF-8 in line {}", i + 1);
}

std::string alias_bomb(std::mt19937_64& rng, FuzzCase& c) {
  if (rng() % 2 == 0) {  // billion laughs: 10 levels of 10 aliases, first in the file
    std::string bomb = "zz_lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (int i = 1; i < 10; ++i)
      bomb += fmt::format("zz_lol{0}: &a{0} [*a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}]\n",
                          i, i - 1);
    c.yaml = bomb + c.yaml;
    c.expect = Expect::kReject;
    c.key = "zz_lol0";
    return "billion laughs";
  }
  // 20,000 sweep points, each an alias of the first (ring 1): valid, long.
  std::string sweep = "sweep:\n  - &p {ring_size: 1}\n";
  for (int i = 0; i < 20000; ++i) sweep += "  - *p\n";
  c.yaml = without_sweep(c.yaml) + sweep;
  c.expect = Expect::kAny;
  c.points = 20001;
  return "20,000 aliased sweep points";
}

std::string structure(std::mt19937_64& rng, FuzzCase& c) {
  switch (rng() % 5) {
    case 0: {
      const std::string deep = std::string(5000, '[') + std::string(5000, ']');
      c.yaml = "name: " + deep + "\n" + c.yaml.substr(c.yaml.find('\n') + 1);
      c.expect = Expect::kReject;
      return "nested 5,000 levels deep";
    }
    case 1:
      c.yaml += "# " + std::string((1 << 20) + 100, 'x') + "\n";
      c.expect = Expect::kReject;
      c.file_level = true;
      return "past 1 MiB";
    case 2:
      c.yaml = c.yaml.substr(0, rng() % c.yaml.size());
      c.expect = c.yaml.find_first_not_of(" \n") == std::string::npos ? Expect::kReject : Expect::kAny;
      return "truncated";
    case 3: {
      for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) c.yaml[rng() % c.yaml.size()] = static_cast<char>(rng());
      c.expect = Expect::kAny;
      return "random bytes";
    }
    default: {
      std::string crlf;
      for (char ch : c.yaml) crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
      c.yaml = "\xef\xbb\xbf" + crlf;
      c.expect = Expect::kAny;
      return "BOM and CRLF line ends";
    }
  }
}

}  // namespace

std::string text_mutation(std::mt19937_64& rng, FuzzCase& c) {
  switch (rng() % 4) {
    case 0: return duplicate_line(rng, c);
    case 1: return invalid_utf8(rng, c);
    case 2: return alias_bomb(rng, c);
    default: return structure(rng, c);
  }
}

std::string known_case(std::mt19937_64& rng, FuzzCase& c, const std::string& profile_dir) {
  YAML::Node root = YAML::Load(c.yaml);
  root.remove("sweep");
  root["attention"] = YAML::Load("{causal: false}");
  if (rng() % 2 == 0) {
    // Every rank on one GPU: each flow event re-solves all P flows on the
    // shared copy link (about P^3), with no progress line on the way.
    const long long ring = std::vector<long long>{1024, 8192, 65536, 262144}[rng() % 4];
    root["sequence"] = YAML::Load(fmt::format("{{tokens: {}, ring_size: {}}}", ring * 128, ring));
    root["cluster"]["ranks_per_gpu"] = ring;
    c.known = "all ranks on one GPU: P^3 flow re-solves (engine)";
    c.yaml = YAML::Dump(root) + "\n";
    return fmt::format("ranks_per_gpu = ring_size = {}", ring);
  }
  // An interference share next to 1: the engine's double-to-int64 cast of
  // the stretched compute time overflows (undefined behaviour).
  YAML::Node profile = root["cluster"]["device"];
  if (profile.IsScalar()) {
    std::ifstream in(std::filesystem::path(profile_dir) / (profile.Scalar() + ".yaml"));
    std::stringstream text;
    text << in.rdbuf();
    profile = YAML::Load(text.str());
  }
  // One copy in flight leaves the compute 2.2e-16 of its rate: a 100 us
  // block stretches to 4.5e20 ns, past int64.
  profile[rng() % 2 ? "copy_compute_share" : "link_compute_share"] = "0.9999999999999998";
  root["cluster"]["device"] = profile;
  root["cluster"]["ranks_per_gpu"] = 2;
  root["sequence"] = YAML::Load("{tokens: 65536, ring_size: 4}");
  c.known = "interference share next to 1: double-to-int64 cast (engine)";
  c.yaml = YAML::Dump(root) + "\n";
  return "a compute share of 0.9999999999999998, 2 ranks per GPU";
}

}  // namespace ringsim::fuzz
