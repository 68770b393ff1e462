#!/bin/bash
# One device-machine session for the kernels (see kernels/README.md): GPU tests,
# checking benchmark, PyTorch peers, calibration; logs under $OUT.
# Binaries are built on the dev machine (meson, nvcc 13.0, sm_90a) and carried
# in .devbin/ (bench_chunk_attention, test_kernels_gpu, ringsim-calibrate).
#   bash kernels/run_device.sh [quick|full]   (the grid of ringsim-calibrate)
set -u
OUT=${OUT:-/tmp/out}
GRID=${1:-full}
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
{
  date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
  which meson ninja nvcc g++ python3; g++ --version | head -1; nvcc --version | tail -2
  for h in fmt/core.h yaml-cpp/yaml.h boost/graph/adjacency_list.hpp doctest/doctest.h; do
    [ -e /usr/include/$h ] && echo "header $h: yes" || echo "header $h: NO"; done
  ldd .devbin/* | grep 'not found'
} > $OUT/env.txt 2>&1
cat $OUT/env.txt
echo "== gpu tests"; timeout 240 .devbin/test_kernels_gpu 2>&1 | tail -40 | tee $OUT/test_gpu.log
echo "== memcheck, racecheck (ring test)"
for tool in memcheck racecheck; do
  timeout 150 compute-sanitizer --tool $tool .devbin/test_kernels_gpu -tc='*ring*' 2>&1 | tail -4
done | tee $OUT/sanitizer.log
echo "== bench"; timeout 180 .devbin/bench_chunk_attention 2>&1 | tee $OUT/bench.log | grep -v '^check.* ok$'
echo "== peers"; timeout 120 python3 tools/calibrate/sdpa_peer.py 2>&1 | tee $OUT/peer.log
echo "== calibrate"; timeout 240 .devbin/ringsim-calibrate --grid $GRID --out $OUT/profile.yaml 2> $OUT/calibrate.log; tail -3 $OUT/calibrate.log
echo "== meson on the device (g++ 13)"
( timeout 60 meson setup /tmp/mb -Dtests=enabled > $OUT/meson_device.log 2>&1; echo "meson setup rc=$?" >> $OUT/meson_device.log ) ; tail -4 $OUT/meson_device.log
