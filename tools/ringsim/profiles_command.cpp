// `ringsim profiles`: where profile names are looked up (in order, and what
// each place holds), then every profile a name finds, with the file it
// comes from.
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>

#include <ostream>

#include "models/profile.hpp"
#include "models/profile_cache.hpp"
#include "tools/ringsim/cli_common.hpp"
#include "tools/ringsim/csv.hpp"

namespace ringsim::cli {

namespace {

std::string dir_state(const ProfileDir& d) {
  if (d.path.empty()) return d.source == "--profile-dir" ? "(not given)" : "(not set)";
  if (!d.exists) return fmt::format("{} (missing)", one_line(d.path));
  const std::size_t n = profile_names_in(d.path).size();
  return fmt::format("{} ({} profile{})", one_line(d.path), n, n == 1 ? "" : "s");
}

}  // namespace

int profiles_command(Io io) {
  fmt::print(io.out, "profile directories, searched in this order (a name resolves in the first that has NAME.yaml):\n");
  int i = 0;
  for (const ProfileDir& d : profile_dirs()) fmt::print(io.out, "  {}. {:<23} {}\n", ++i, d.source, dir_state(d));
  const std::string cache = profile_cache_dir();
  fmt::print(io.out, "parsed profiles kept in: {} (RINGSIM_CACHE_DIR; \"none\": off)\n",
             cache.empty() ? std::string("nowhere (off)") : one_line(cache));
  fmt::print(io.out, "\n{:<20} {:<30} {:<21} {:>10} {:>12}  {:<34} {}\n", "name", "card", "source", "memory", "hbm",
             "dense TFLOP/s", "file");
  for (const std::string& name : shipped_profile_names()) {
    const DeviceProfile p = load_profile(name, "");
    const std::string source =
        p.measured ? fmt::format("measured {}", p.calibration.count("date") ? p.calibration.at("date") : "") : "datasheet";
    std::vector<std::string> rates;
    for (const auto& [dtype, rate] : p.flops_per_s) rates.push_back(fmt::format("{} {:g}", dtype_name(dtype), rate / 1e12));
    fmt::print(io.out, "{:<20} {:<30} {:<21} {:>10} {:>12}  {:<34} {}\n", one_line(p.name), one_line(p.card),
               one_line(source), format_bytes(p.memory_bytes), format_rate(p.hbm_bytes_per_s),
               fmt::format("{}", fmt::join(rates, ", ")), one_line(p.origin));
  }
  return 0;
}

}  // namespace ringsim::cli
