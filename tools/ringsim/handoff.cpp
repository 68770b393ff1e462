// `ringsim calibrate|validate ARGS` hands over to the separate programs
// ringsim-calibrate and ringsim-validate, git-style: the ringsim binary
// itself links no CUDA library (it starts in milliseconds on machines with
// no GPU), and the CUDA tools are built only where nvcc is found. The
// program is looked for next to ringsim first (an install, or the build
// tree, where tools/ringsim/meson.build links them beside ringsim), then
// on PATH. A run started by mpirun goes the same way to ringsim-mpi
// (tools/ringsim/sweep_mpi.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <optional>
#include <ostream>

#include "models/profile.hpp"
#include "tools/ringsim/cli_common.hpp"
#include "tools/ringsim/sweep_mpi.hpp"

namespace ringsim::cli {

namespace {

bool is_executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::string> find_program(const std::string& program, std::string& looked) {
  const std::string here = executable_dir();
  if (!here.empty()) {
    const std::string path = (std::filesystem::path(here) / program).string();
    looked = here;
    if (is_executable(path)) return path;
  }
  const char* env = std::getenv("PATH");
  const std::string dirs = env ? env : "";
  looked += dirs.empty() ? "; PATH is empty" : "; PATH";
  for (std::size_t at = 0; at <= dirs.size();) {
    const std::size_t colon = std::min(dirs.find(':', at), dirs.size());
    const std::string dir = dirs.substr(at, colon - at);
    const std::string path = (std::filesystem::path(dir.empty() ? "." : dir) / program).string();
    if (!dir.empty() && is_executable(path)) return path;
    at = colon + 1;
  }
  return std::nullopt;
}

// Runs `program` (next to ringsim, else on PATH) with `args`; returns only
// when it cannot, after saying why (`missing`: what to do about it).
int exec_program(const std::string& program, const std::vector<std::string>& args, Io io,
                 const std::string& missing) {
  std::string looked;
  const auto path = find_program(program, looked);
  if (!path) {
    fmt::print(io.err, "ringsim: {}; {} is not next to ringsim nor on PATH (looked in {}).\n", missing, program, looked);
    return 2;
  }
  std::vector<std::string> words{*path};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  io.out.flush();
  io.err.flush();
  ::execv(path->c_str(), argv.data());
  fmt::print(io.err, "ringsim: cannot run {}: {}\n", *path, std::strerror(errno));
  return 1;
}

}  // namespace

int hand_over(const std::vector<std::string>& args, Io io) {
  std::size_t first = 0;
  // --profile-dir before the command reaches the tool as RINGSIM_PROFILE_DIR.
  for (; first < args.size() && args[first] == "--profile-dir"; first += 2)
    if (first + 1 < args.size()) ::setenv("RINGSIM_PROFILE_DIR", args[first + 1].c_str(), 1);
  const std::string command = args.at(first);
  return exec_program("ringsim-" + command, {args.begin() + static_cast<std::ptrdiff_t>(first) + 1, args.end()}, io,
                      fmt::format("'{}' is the separate program ringsim-{}, built only where CUDA (nvcc) is found: "
                                  "build ringsim with CUDA, or install it", command, command));
}

int hand_over_mpi(const std::vector<std::string>& args, Io io) {
  return exec_program("ringsim-mpi", args, io,
                      fmt::format("started by an MPI launcher as {} ranks, which needs ringsim-mpi, built where Open "
                                  "MPI is found (apt-get install libopenmpi-dev, meson setup -Dmpi=enabled)",
                                  mpi_world().size));
}

}  // namespace ringsim::cli
