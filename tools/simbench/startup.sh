#!/usr/bin/env bash
# Start-up cost of the ringsim binary: wall time (median of N runs) and peak
# RSS (/usr/bin/time -v) of `ringsim profiles` and of a one-point run
# (tools/simbench/startup-point.yaml, on the measured h100-sxm profile, and
# the same point on the 14-line datasheet profile), and whether the binary
# links any CUDA library. Target (issue 14): under 20 ms and 64 MiB each.
# With the parsed-profile cache (models/profile_cache.hpp) and without it
# (RINGSIM_CACHE_DIR=none): without, 83% of the one-point run's instructions
# are yaml-cpp reading the 128 KB measured profile (callgrind, 2026-11-27).
#
#   tools/simbench/startup.sh [RINGSIM] [N]     (default ./build/tools/ringsim/ringsim, 30)
set -euo pipefail
cd "$(dirname "$0")/../.."
ringsim=${1:-./build/tools/ringsim/ringsim}
runs=${2:-30}
point=tools/simbench/startup-point.yaml

median_ms() {  # median wall time of N runs of "$@", in ms
  local times=()
  for ((i = 0; i < runs; i++)); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" > /dev/null
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] / 1000 }'
}

cpu_ms() {  # median user + system CPU time of N runs of "$@", in ms (what a loaded machine's wall time hides)
  python3 -c '
import resource, subprocess, sys
n, cmd, ms = int(sys.argv[1]), sys.argv[2:], []
for _ in range(n):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ms.append(1e3 * (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))
print("%.1f" % sorted(ms)[(n - 1) // 2])' "$runs" "$@"
}

peak_mib() {  # peak RSS of one run of "$@", in MiB
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }'
}

echo "ringsim start-up, $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "binary: $ringsim ($(ldd "$ringsim" | grep -ci -E 'cuda|cublas|nccl') CUDA libraries linked)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
row() {  # label, then the command
  local label=$1
  shift
  printf '%-34s %12s %12s %14s\n' "$label" "$(median_ms "$@")" "$(cpu_ms "$@")" "$(peak_mib "$@")"
}
printf '%-34s %12s %12s %14s\n' "command" "median ms" "median CPU ms" "peak RSS MiB"
datasheet=$(mktemp --suffix=.yaml)
cache=$(mktemp -d)
trap 'rm -rf "$datasheet" "$cache"' EXIT
sed 's/device: h100-sxm$/device: h100-sxm-datasheet/' "$point" > "$datasheet"
# Parsed profiles kept (models/profile_cache.hpp): every run after the first
# that reads a profile; then without the cache, as a first run does.
export RINGSIM_CACHE_DIR=$cache
"$ringsim" profiles > /dev/null
echo "parsed-profile cache on (filled by one run before):"
row "ringsim profiles" "$ringsim" profiles
row "ringsim run startup-point.yaml" "$ringsim" run "$point" --quiet
row "  the same on h100-sxm-datasheet" "$ringsim" run "$datasheet" --quiet
export RINGSIM_CACHE_DIR=none
echo "parsed-profile cache off (RINGSIM_CACHE_DIR=none; a first run):"
row "ringsim profiles" "$ringsim" profiles
row "ringsim run startup-point.yaml" "$ringsim" run "$point" --quiet
row "  the same on h100-sxm-datasheet" "$ringsim" run "$datasheet" --quiet
