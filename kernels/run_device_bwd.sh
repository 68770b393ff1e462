#!/bin/bash
# One device-machine session for the attention backward (kernels/README.md):
# GPU tests, checking benchmark, PyTorch peers, sanitizers, a quick
# calibration; logs under $OUT. Binaries are built on the dev machine (meson,
# nvcc 13.0, sm_90a) and carried in $BIN with this script and the peer script:
#   test_kernels_bwd_gpu bench_chunk_attention_backward ringsim-calibrate
#   sdpa_backward_peer.py sdpa_peer.py run_device_bwd.sh
#   BIN=.stage-bwd bash .stage-bwd/run_device_bwd.sh
set -u
OUT=${OUT:-/tmp/out}
BIN=${BIN:-.stage-bwd}
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
{
  date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
  ldd $BIN/test_kernels_bwd_gpu $BIN/bench_chunk_attention_backward $BIN/ringsim-calibrate | grep 'not found'
} > $OUT/env.txt 2>&1
cat $OUT/env.txt
echo "== gpu tests"; timeout 90 $BIN/test_kernels_bwd_gpu > $OUT/test_gpu.log 2>&1; echo "rc=$?"
grep -E 'worst|test cases|assertions|ERROR|FAILED' $OUT/test_gpu.log | head -20
echo "== bench"; timeout 90 $BIN/bench_chunk_attention_backward > $OUT/bench.log 2>&1; echo "rc=$?"
grep -v -E '^check.* ok$|^time ' $OUT/bench.log
echo "== peers"; timeout 90 python3 $BIN/sdpa_backward_peer.py > $OUT/peer.log 2>&1; echo "rc=$?"; grep '|\|measured' $OUT/peer.log
echo "== memcheck (sanitizer subset + ring), racecheck, synccheck (sanitizer subset)"
{
  echo "-- memcheck"; timeout 60 compute-sanitizer --tool memcheck $BIN/test_kernels_bwd_gpu -tc='*sanitizer*,*ring*' 2>&1 | tail -4
  for tool in racecheck synccheck; do
    echo "-- $tool"; timeout 45 compute-sanitizer --tool $tool $BIN/test_kernels_bwd_gpu -tc='*sanitizer*' 2>&1 | tail -4
  done
} > $OUT/sanitizer.log 2>&1; cat $OUT/sanitizer.log
if [ "${CALIBRATE:-1}" = 1 ]; then
  echo "== calibrate (quick)"
  timeout 60 $BIN/ringsim-calibrate --grid quick --out $OUT/profile_quick.yaml 2> $OUT/calibrate.log; echo "rc=$?"
  tail -2 $OUT/calibrate.log; grep -c 'backward' $OUT/profile_quick.yaml
fi
