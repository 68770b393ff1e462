#!/usr/bin/env bash
# A sweep in one process and shared among MPI ranks: wall time of each, and
# whether the CSV files are the same bytes once the wall_seconds column is
# cut (found by its header name; RFC 4180 fields read by Python's csv). Needs a build with the meson feature mpi (ringsim-mpi).
#
#   tools/simbench/mpi_sweep.sh [SCENARIO] [RANKS]
#     (default scenarios/seed-billion-token-causal-contiguous.yaml, 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
scenario=${1:-scenarios/seed-billion-token-causal-contiguous.yaml}
ranks=${2:-2}
ringsim=./build/tools/ringsim/ringsim
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

wall() {  # seconds of "$@"
  local t0 t1
  t0=$(date +%s%N)
  "$@"
  t1=$(date +%s%N)
  awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", ns / 1e9 }'
}
cut_wall() {  # the CSV without its wall_seconds column (comment lines kept)
  python3 -c '
import csv, sys
wall = None
for row in csv.reader(open(sys.argv[1], newline="")):
    if row and row[0].startswith("#"): print(row); continue
    if wall is None: wall = row.index("wall_seconds")
    print(row[:wall] + row[wall + 1:])' "$1"
}

echo "$(date -u +%Y-%m-%d), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $scenario"
one=$(wall "$ringsim" run "$scenario" -f csv -o "$out/one.csv" -q)
echo "1 process (threads: all cores):          ${one} s"
for threads in 0 $(nproc); do
  t=$(wall mpirun -n "$ranks" "$ringsim" run "$scenario" -f csv -o "$out/mpi-$threads.csv" -q -j "$threads")
  same=$(cmp -s <(cut_wall "$out/one.csv") <(cut_wall "$out/mpi-$threads.csv") && echo "same bytes" || echo "DIFFERENT")
  echo "mpirun -n $ranks, -j $threads$([ "$threads" = 0 ] && echo ' (cores / ranks each)'): ${t} s, speed-up $(awk -v a="$one" -v b="$t" 'BEGIN { printf "%.2f", a / b }'), $same minus wall_seconds"
done
