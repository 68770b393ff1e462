// A sweep shared among MPI ranks: `mpirun -n N ringsim run SCENARIO --out
// FILE` writes the same file as one process, in scenario order.
//
// Every rank loads and checks the scenario (so each fails alike on bad
// input; only rank 0 prints). Rank 0 hands out the points largest first
// (ring_size^2 device-steps) to whichever rank asks, simulates points itself
// meanwhile, receives every other point as the bytes its writer would write
// (ResultWriter::point depends only on the point and its index), and writes
// them in scenario order as soon as they are contiguous; progress comes from
// rank 0. A failure on any rank names the point, keeps the finished points
// in FILE.partial and stops every rank (exit 1).
//
// The MPI side lives in its own program, ringsim-mpi (built with the meson
// feature `mpi` when Open MPI is found), so that ringsim itself links no MPI
// library (2 ms and 2 MiB of start-up). ringsim hands a `run` started by
// mpirun or srun over to ringsim-mpi next to it, git-style, before MPI_Init;
// with no ringsim-mpi it refuses (exit 2).
#pragma once
#include "tools/ringsim/cli_common.hpp"

namespace ringsim::cli {

struct MpiWorld {
  int rank = 0, size = 1;  // from the launcher's environment, before MPI_Init
};
MpiWorld mpi_world();  // {0, 1} when not started by mpirun or srun

// True in ringsim-mpi (sweep_mpi_run.cpp), false in ringsim (sweep_mpi_none.cpp).
bool mpi_built_in();
int run_sharded(const RunOptions& o, const Scenario& s, SimOptions options, MpiWorld world, Io io);

}  // namespace ringsim::cli
