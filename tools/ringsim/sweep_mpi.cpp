// Who launched this process, from the launcher's environment; see sweep_mpi.hpp.
#include "tools/ringsim/sweep_mpi.hpp"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace ringsim::cli {

namespace {

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : -1;
}

}  // namespace

MpiWorld mpi_world() {
  // Open MPI's mpirun, then MPICH's hydra, then srun with an MPI plugin.
  for (const auto& [size_var, rank_var] : {std::pair{"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"},
                                           std::pair{"PMI_SIZE", "PMI_RANK"}}) {
    if (const int size = env_int(size_var); size > 0) return {std::max(0, env_int(rank_var)), size};
  }
  if (env_int("PMIX_RANK") >= 0 && env_int("SLURM_NTASKS") > 0) return {env_int("PMIX_RANK"), env_int("SLURM_NTASKS")};
  return {};
}

}  // namespace ringsim::cli
