// `ringsim calibrate --check` (see profile_check.hpp).
#include "tools/calibrate/profile_check.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "models/input_error.hpp"
#include "models/profile.hpp"
#include "models/profile_writer.hpp"
#include "models/sample_check.hpp"

namespace ringsim::calibrate {

int check_profile(const std::string& path) {
  DeviceProfile p;
  try {
    p = load_profile(path, "");
  } catch (const InputError& e) {
    std::fprintf(stderr, "ringsim calibrate: %s\n", e.what());
    return 2;
  }
  for (AttentionSample& a : p.attention) a.suspect = false, a.reason.clear();
  const std::size_t flagged = flag_suspect_samples(p.attention);
  std::vector<std::string> comments;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line) && line.rfind("#", 0) == 0;)
    comments.push_back(line.size() > 2 && line[1] == ' ' ? line.substr(2) : line.substr(1));
  std::ostringstream text;
  write_profile_yaml(text, p, comments);
  const std::string partial = path + ".partial";
  std::ofstream out(partial);
  out << text.str();
  out.close();
  if (!out || std::rename(partial.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "ringsim calibrate: cannot write %s\n", path.c_str());
    return 2;
  }
  for (const AttentionSample& a : p.attention)
    if (a.suspect) std::fprintf(stderr, "  suspect: %s d%d %d heads %s q%lld kv%lld: %s\n", dtype_name(a.dtype), a.head_dim,
                                a.q_heads, mask_name(a.mask), a.q_tokens, a.kv_tokens, a.reason.c_str());
  std::fprintf(stderr, "ringsim calibrate: %zu of %zu samples flagged suspect in %s\n", flagged, p.attention.size(),
               path.c_str());
  return 0;
}

}  // namespace ringsim::calibrate
