// Parsed device profiles kept between runs. yaml-cpp reads a calibrated
// profile (about 130 KB of flow maps) at some 2,400 instructions per byte:
// 310 of the 370 million instructions of a one-point `ringsim run` on
// h100-sxm (callgrind, 2026-11-27), about 40 ms. load_profile keeps what it
// parsed here, as a Boost.Serialization binary archive behind the file's exact
// bytes, and later runs read that instead when the bytes are the same.
//
// Where: $RINGSIM_CACHE_DIR ("none" or "": no cache), else
// $XDG_CACHE_HOME/ringsim, else $HOME/.cache/ringsim. The file name is a
// hash of the profile's bytes and this build; the entry starts with those
// bytes, compared in full before it is used. Anything wrong with an entry
// (another build, a short or corrupt file, an unwritable folder) means the
// YAML is read as before: the cache only ever saves time.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "models/profile.hpp"

namespace ringsim {

std::string profile_cache_dir();  // empty: no cache
// The profile parsed earlier from exactly `text`, if kept (origin left empty).
std::optional<DeviceProfile> cached_profile(std::string_view text);
// Keeps `p`, parsed from `text`; never throws (a failed write keeps nothing).
void cache_profile(std::string_view text, const DeviceProfile& p);

}  // namespace ringsim
