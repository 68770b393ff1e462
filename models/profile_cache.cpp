// Parsed device profiles kept between runs; see profile_cache.hpp.
#include "models/profile_cache.hpp"

#include <unistd.h>

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

namespace boost::serialization {

// Every field, in declaration order (the round-trip test in
// tests/models/test_profile_cache.cpp compares whole profiles, so a field
// left out here fails it).
template <class A>
void serialize(A& a, ringsim::AttentionSample& s, unsigned) {
  a & s.dtype & s.head_dim & s.q_heads & s.kv_heads & s.mask & s.q_tokens & s.kv_tokens & s.seconds & s.spread &
      s.suspect & s.reason;
}
template <class A>
void serialize(A& a, ringsim::KernelTile& t, unsigned) {
  a & t.block_m & t.block_n & t.ctas_per_sm;
}
template <class A>
void serialize(A& a, ringsim::StepOverheadSample& s, unsigned) {
  a & s.transport & s.messages & s.bytes & s.dtype & s.head_dim & s.q_heads & s.kv_heads & s.mask & s.q_tokens &
      s.kv_tokens & s.seconds;
}
template <class A>
void serialize(A& a, ringsim::LinkUnderComputeSample& s, unsigned) {
  a & s.transport & s.bytes & s.dtype & s.head_dim & s.q_heads & s.kv_heads & s.mask & s.q_tokens & s.kv_tokens &
      s.factor;
}
template <class A>
void serialize(A& a, ringsim::InterferenceSample& s, unsigned) {
  a & s.kind & s.dtype & s.head_dim & s.q_heads & s.kv_heads & s.mask & s.q_tokens & s.kv_tokens & s.bytes & s.share;
}
template <class A>
void serialize(A& a, ringsim::GemmSample& s, unsigned) {
  a & s.dtype & s.m & s.n & s.k & s.seconds;
}
template <class A>
void serialize(A& a, ringsim::MergeSample& s, unsigned) {
  a & s.q_tokens & s.q_heads & s.head_dim & s.seconds;
}
template <class A>
void serialize(A& a, ringsim::DeviceProfile& p, unsigned) {
  a & p.name & p.card & p.measured & p.calibration & p.kernel & p.sm_count & p.tile & p.attention_efficiency &
      p.memory_bytes & p.hbm_bytes_per_s & p.copy_bytes_per_s & p.copy_latency_s & p.copy_compute_share &
      p.link_compute_share & p.flops_per_s & p.launch_overhead_s & p.reserved_memory_bytes & p.attention & p.merge &
      p.backward & p.interference & p.step_overhead & p.link_under_compute & p.gemm & p.gemm_efficiency;
}

}  // namespace boost::serialization

namespace ringsim {
namespace fs = std::filesystem;

namespace {

// This build: a rebuild of this file (any change to the profile's fields
// recompiles it) never reads an older build's entries.
constexpr std::string_view kBuild = __DATE__ " " __TIME__;

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::string entry_path(std::string_view text) {
  const std::string dir = profile_cache_dir();
  if (dir.empty()) return {};
  return (fs::path(dir) / fmt::format("profile-{:016x}-{:016x}.bin", fnv1a(text), fnv1a(kBuild))).string();
}

}  // namespace

std::string profile_cache_dir() {
  if (const char* d = std::getenv("RINGSIM_CACHE_DIR")) {
    const std::string dir(d);
    return dir == "none" ? std::string() : dir;
  }
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "ringsim").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "ringsim").string();
  return {};
}

// An entry: the profile's bytes, the archive's size and hash (a corrupt
// archive can decode without error into wrong figures), then the archive.
std::optional<DeviceProfile> cached_profile(std::string_view text) {
  const std::string path = entry_path(text);
  if (path.empty()) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string head(text.size(), '\0');
  std::uint64_t size = 0, hash = 0;
  if (!in.read(head.data(), static_cast<std::streamsize>(head.size())) || head != text ||
      !in.read(reinterpret_cast<char*>(&size), sizeof size) || !in.read(reinterpret_cast<char*>(&hash), sizeof hash) ||
      size > (std::uint64_t{1} << 30))
    return std::nullopt;
  std::string archive_bytes(size, '\0');
  if (!in.read(archive_bytes.data(), static_cast<std::streamsize>(size)) || in.peek() != EOF ||
      fnv1a(archive_bytes) != hash)
    return std::nullopt;
  try {
    std::istringstream archive_in(archive_bytes);
    boost::archive::binary_iarchive archive(archive_in);
    DeviceProfile p;
    archive >> p;
    return p;
  } catch (const std::exception&) {  // boost::archive::archive_exception
    return std::nullopt;
  }
}

void cache_profile(std::string_view text, const DeviceProfile& p) {
  const std::string path = entry_path(text);
  if (path.empty()) return;
  std::error_code ec;
  // Written aside, then renamed: a reader sees a whole entry or none.
  const std::string tmp = fmt::format("{}.{}.tmp", path, static_cast<long>(getpid()));
  try {
    std::ostringstream archive_out;
    {
      DeviceProfile kept = p;
      kept.origin.clear();
      boost::archive::binary_oarchive archive(archive_out);
      archive << static_cast<const DeviceProfile&>(kept);
    }
    const std::string bytes = archive_out.str();
    const std::uint64_t size = bytes.size(), hash = fnv1a(bytes);
    fs::create_directories(fs::path(path).parent_path(), ec);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.write(reinterpret_cast<const char*>(&size), sizeof size);
    out.write(reinterpret_cast<const char*>(&hash), sizeof hash);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (out) {
      fs::rename(tmp, path, ec);
      if (!ec) return;
    }
  } catch (const std::exception&) {
    // No entry: the next run reads the YAML again.
  }
  fs::remove(tmp, ec);
}

}  // namespace ringsim
