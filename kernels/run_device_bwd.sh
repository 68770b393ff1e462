#!/bin/bash
# One device-machine session for the attention backward (kernels/README.md):
# GPU tests, checking benchmark, PyTorch peers, sanitizers, optionally a quick
# calibration; logs under $OUT, with the wall time of each phase (phases.txt)
# and the SM clock and power during the benchmark (clocks.csv). Binaries are
# built on the dev machine (meson, nvcc 13.0, sm_90a) and carried in $BIN,
# loose or as $BIN/bins.tgz (test_kernels_bwd_gpu, bench_chunk_attention_backward;
# ringsim-calibrate when CALIBRATE=1), with this script; the peer scripts are
# read from tools/calibrate/ of the tree:
#   BIN=.stage-bwd bash .stage-bwd/run_device_bwd.sh
#   BIN=.stage-bwdtune BENCH_ARGS=--speed CALIBRATE=0 bash .stage-bwdtune/run_device_bwd.sh
# Timeouts keep a hung phase from taking the later ones with it.
set -u
OUT=${OUT:-/tmp/out}
BIN=${BIN:-.stage-bwd}
BENCH_ARGS=${BENCH_ARGS:-}
PEER=${PEER:-tools/calibrate/sdpa_backward_peer.py}
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0
T0=$(date +%s.%N)
phase() { echo "$1 $(awk "BEGIN{print $(date +%s.%N) - $T0}") s" | tee -a $OUT/phases.txt; }
if [ -f $BIN/bins.tgz ]; then tar xzf $BIN/bins.tgz -C $BIN; fi
{
  date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv
  ldd $BIN/test_kernels_bwd_gpu $BIN/bench_chunk_attention_backward | grep 'not found'
} > $OUT/env.txt 2>&1
cat $OUT/env.txt
phase start
echo "== gpu tests"; timeout ${TEST_TIMEOUT:-60} $BIN/test_kernels_bwd_gpu > $OUT/test_gpu.log 2>&1; echo "rc=$?"
grep -E 'worst|test cases|assertions|ERROR|FAILED' $OUT/test_gpu.log | head -30
phase tests
echo "== bench $BENCH_ARGS"
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu --format=csv -lms 250 > $OUT/clocks.csv 2>&1 &
SMI=$!
timeout ${BENCH_TIMEOUT:-60} $BIN/bench_chunk_attention_backward $BENCH_ARGS > $OUT/bench.log 2>&1; echo "rc=$?"
kill $SMI 2>/dev/null
grep -v -E '^check.* ok$|^time ' $OUT/bench.log
phase bench
echo "== peers"; timeout ${PEER_TIMEOUT:-60} python3 $PEER > $OUT/peer.log 2>&1; echo "rc=$?"; grep '|\|measured' $OUT/peer.log
phase peers
echo "== memcheck, racecheck (sanitizer subset)"
{
  for tool in memcheck racecheck; do
    echo "-- $tool"; timeout ${SAN_TIMEOUT:-45} compute-sanitizer --tool $tool $BIN/test_kernels_bwd_gpu -tc='*sanitizer*' 2>&1 | tail -6
  done
} > $OUT/sanitizer.log 2>&1; cat $OUT/sanitizer.log
phase sanitizers
if [ "${CALIBRATE:-1}" = 1 ]; then
  echo "== calibrate (quick)"
  timeout 60 $BIN/ringsim-calibrate --grid quick --out $OUT/profile_quick.yaml 2> $OUT/calibrate.log; echo "rc=$?"
  tail -2 $OUT/calibrate.log; grep -c 'backward' $OUT/profile_quick.yaml
  phase calibrate
fi
