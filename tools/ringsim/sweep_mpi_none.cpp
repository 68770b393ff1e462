// ringsim without MPI (see sweep_mpi.hpp): a run started by mpirun never
// gets here, cli.cpp hands it over to ringsim-mpi first.
#include <stdexcept>

#include "tools/ringsim/sweep_mpi.hpp"

namespace ringsim::cli {

bool mpi_built_in() { return false; }

int run_sharded(const RunOptions&, const Scenario&, SimOptions, MpiWorld, Io) {
  throw std::logic_error("run_sharded: this program has no MPI (cli.cpp hands MPI runs over to ringsim-mpi)");
}

}  // namespace ringsim::cli
