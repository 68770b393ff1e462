#!/usr/bin/env bash
# Start-up cost of the ringsim binary: wall time (median of N runs) and peak
# RSS (/usr/bin/time -v) of `ringsim profiles` and of a one-point run
# (tools/simbench/startup-point.yaml, on the measured h100-sxm profile, and
# the same point on the 14-line datasheet profile), and whether the binary
# links any CUDA library. Target (issue 14): under 20 ms and 64 MiB each.
# (98% of the one-point run's instructions are yaml-cpp reading the 40 KB
# measured profile: valgrind --tool=callgrind, 2026-11-27.)
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

peak_mib() {  # peak RSS of one run of "$@", in MiB
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }'
}

echo "ringsim start-up, $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "binary: $ringsim ($(ldd "$ringsim" | grep -ci -E 'cuda|cublas|nccl') CUDA libraries linked)"
printf '%-34s %12s %14s\n' "command" "median ms" "peak RSS MiB"
printf '%-34s %12s %14s\n' "ringsim profiles" "$(median_ms "$ringsim" profiles)" "$(peak_mib "$ringsim" profiles)"
printf '%-34s %12s %14s\n' "ringsim run startup-point.yaml" "$(median_ms "$ringsim" run "$point" --quiet)" \
  "$(peak_mib "$ringsim" run "$point" --quiet)"
datasheet=$(mktemp --suffix=.yaml)
trap 'rm -f "$datasheet"' EXIT
sed 's/device: h100-sxm$/device: h100-sxm-datasheet/' "$point" > "$datasheet"
printf '%-34s %12s %14s\n' "  the same on h100-sxm-datasheet" "$(median_ms "$ringsim" run "$datasheet" --quiet)" \
  "$(peak_mib "$ringsim" run "$datasheet" --quiet)"
