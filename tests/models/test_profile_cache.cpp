// models/profile_cache.hpp: a profile read back from the cache equals the
// one yaml-cpp parsed (whole-struct equality, every field), for every shipped
// profile and for a profile with every field away from its default; an entry
// serves only the exact bytes it was made from, a corrupt entry is ignored,
// and a cache that cannot be written costs nothing but time.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "models/profile_cache.hpp"
#include "tests/models/profile_fixtures.hpp"

namespace fs = std::filesystem;
using namespace ringsim;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// RINGSIM_CACHE_DIR pointed at a fresh folder (or `value`) for one test.
class CacheDir {
 public:
  explicit CacheDir(const char* value = nullptr) {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("ringsim-cache-test-" + std::to_string(rd()) + std::to_string(rd()));
    if (const char* old = std::getenv("RINGSIM_CACHE_DIR")) saved_ = old;
    setenv("RINGSIM_CACHE_DIR", value ? value : path_.c_str(), 1);
  }
  ~CacheDir() {
    if (saved_) setenv("RINGSIM_CACHE_DIR", saved_->c_str(), 1);
    else unsetenv("RINGSIM_CACHE_DIR");
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::vector<fs::path> entries() const {
    std::vector<fs::path> out;
    std::error_code ec;
    if (fs::exists(path_, ec))
      for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path());
    return out;
  }

 private:
  fs::path path_;
  std::optional<std::string> saved_;
};

DeviceProfile parsed(const std::string& text, const std::string& file) {
  return profile_from_yaml(YAML::Load(text), file);
}

fs::path shipped_file(const std::string& name) {
  for (const ProfileDir& d : profile_dirs())
    if (d.exists && fs::exists(fs::path(d.path) / (name + ".yaml"))) return fs::path(d.path) / (name + ".yaml");
  return {};
}


}  // namespace

TEST_CASE("profile cache: every shipped profile reads back equal to its YAML, and load_profile uses it") {
  CacheDir dir;
  const std::vector<std::string> names = shipped_profile_names();
  REQUIRE(names.size() >= 5);
  for (const std::string& name : names) {
    CAPTURE(name);
    const fs::path file = shipped_file(name);
    const std::string text = read_text(file);
    const DeviceProfile yaml = parsed(text, file.string());
    CHECK_FALSE(cached_profile(text).has_value());
    const DeviceProfile first = load_profile(name, "");  // parses, keeps an entry
    CHECK(first == yaml);
    std::optional<DeviceProfile> kept = cached_profile(text);
    REQUIRE(kept.has_value());
    CHECK(kept->origin.empty());
    kept->origin = yaml.origin;
    CHECK(*kept == yaml);
    CHECK(load_profile(name, "") == yaml);  // from the entry
  }
  CHECK(dir.entries().size() == names.size());
}

TEST_CASE("profile cache: a profile with every field set round-trips") {
  CacheDir dir;
  const DeviceProfile p = test::full_profile();
  cache_profile("every field", p);
  const std::optional<DeviceProfile> back = cached_profile("every field");
  REQUIRE(back.has_value());
  CHECK(*back == p);
  // The equality the tests rest on sees each field: one changed, not equal.
  DeviceProfile q = p;
  q.gemm_efficiency = 0.7;
  CHECK_FALSE(q == p);
  q = p;
  q.attention[0].reason = "other";
  CHECK_FALSE(q == p);
}

TEST_CASE("profile cache: an entry serves only its own bytes; a corrupt entry is ignored") {
  CacheDir dir;
  const DeviceProfile p = test::full_profile();
  const std::string text = "name: every-field\n";
  cache_profile(text, p);
  CHECK_FALSE(cached_profile(text + " ").has_value());
  CHECK_FALSE(cached_profile("name: every-fielD\n").has_value());
  REQUIRE(dir.entries().size() == 1);
  const fs::path entry = dir.entries().front();
  const std::string whole = read_text(entry);
  // One byte of the archive flipped: the hash refuses it.
  std::string flipped = whole;
  flipped[flipped.size() - 9] = static_cast<char>(flipped[flipped.size() - 9] ^ 0x40);
  std::ofstream(entry, std::ios::binary | std::ios::trunc) << flipped;
  CHECK_FALSE(cached_profile(text).has_value());
  // Cut short, and with bytes after it.
  std::ofstream(entry, std::ios::binary | std::ios::trunc) << whole.substr(0, whole.size() - 5);
  CHECK_FALSE(cached_profile(text).has_value());
  std::ofstream(entry, std::ios::binary | std::ios::trunc) << whole << "x";
  CHECK_FALSE(cached_profile(text).has_value());
  std::ofstream(entry, std::ios::binary | std::ios::trunc) << whole;
  REQUIRE(cached_profile(text).has_value());
  CHECK(*cached_profile(text) == p);
}

TEST_CASE("profile cache: off (RINGSIM_CACHE_DIR=none) or unwritable, profiles load as before") {
  const std::string name = shipped_profile_names().front();
  const fs::path file = shipped_file(name);
  const DeviceProfile yaml = parsed(read_text(file), file.string());
  {
    CacheDir dir("none");
    CHECK(profile_cache_dir().empty());
    CHECK(load_profile(name, "") == yaml);
    CHECK(dir.entries().empty());
  }
  {
    CacheDir dir;
    std::ofstream(dir.path()) << "a file where the folder should be";
    CHECK(load_profile(name, "") == yaml);
    CHECK_FALSE(cached_profile(read_text(file)).has_value());
    fs::remove(dir.path());
  }
}
