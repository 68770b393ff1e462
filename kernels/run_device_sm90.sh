#!/bin/bash
# Device-machine session for the Hopper kernel (kernels/README.md, "Hopper
# kernel"): correctness first (gpu suite, the benchmark's checks), then
# timings (ours, cuBLAS path, PyTorch flash / cuDNN), then sanitizers and
# Nsight Compute. Logs under $OUT. Stops after the first failed check.
#
# Binaries are built on the dev machine (meson, nvcc 13.0, sm_90a) and carried
# with this script in one folder (the device tool sends /work/main's tree):
#   S=/work/main/.stage-hopper; mkdir -p $S
#   cp build/kernels/bench_chunk_attention build/tests/kernels/test_kernels_gpu \
#      tools/calibrate/sdpa_peer.py kernels/run_device_sm90.sh $S/
# device tool: carry [".stage-hopper"], command:
#   cd .stage-hopper && bash run_device_sm90.sh [check|sanitize|time|profile|all]...
#   check: gpu suite    sanitize: memcheck + racecheck    time: benchmark + peers
#   profile: ncu of the Hopper kernel (bf16 d128 4K full and causal)
set -u
OUT=${OUT:-/tmp/out}
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
STEPS=${*:-all}
has() { [[ " $STEPS " == *" $1 "* || " $STEPS " == *" all "* ]]; }
{
  date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
  nvcc --version | tail -1; ldd ./bench_chunk_attention ./test_kernels_gpu | grep 'not found'
} > $OUT/env.txt 2>&1
cat $OUT/env.txt
if has check; then
  echo "== gpu tests"
  timeout 200 ./test_kernels_gpu > $OUT/test_gpu.log 2>&1; rc=$?
  tail -25 $OUT/test_gpu.log
  [ $rc -ne 0 ] && { echo "GPU TESTS FAILED (rc $rc)"; grep -B2 -A12 'ERROR\|error' $OUT/test_gpu.log | head -120; exit 1; }
fi
if has sanitize; then
  echo "== memcheck, racecheck (sub-view test: portable, both Hopper tilings, dispatcher)"
  for tool in memcheck racecheck; do
    timeout 90 compute-sanitizer --tool $tool ./test_kernels_gpu -tc='*padded*' > $OUT/$tool.log 2>&1
    grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|test cases|assertions' $OUT/$tool.log
  done
fi
if has time; then
  echo "== bench (checks every variant, then times the shipped ones; SM clock and power logged)"
  nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu --format=csv,noheader -lms 250 \
    > $OUT/clocks.csv 2>&1 &
  smi=$!
  timeout 240 ./bench_chunk_attention --fast > $OUT/bench.log 2>&1; rc=$?
  kill $smi
  sort -t, -k2 -n $OUT/clocks.csv | awk -F, '{c[NR]=$2; p[NR]=$3} END {print "sm clock MHz min/median/max:", c[1], c[int(NR/2)], c[NR], "(" NR " samples)"}' 
  grep -v '^check.* ok$' $OUT/bench.log | grep -v '^| ' | tail -80
  [ $rc -ne 0 ] && { echo "BENCH FAILED (rc $rc)"; exit 1; }
  echo "== peers"; timeout 150 python3 sdpa_peer.py > $OUT/peer.log 2>&1; grep -E '^\|' $OUT/peer.log
fi
if has profile; then
  # Sections as kernels/profile_device.sh, plus the wgmma pipe and every stall reason.
  SECTIONS="--section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy
    --section ComputeWorkloadAnalysis --section InstructionStats --section MemoryWorkloadAnalysis --section LaunchStats"
  METRICS="sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,regex:smsp__warp_issue_stalled_.*_per_warp_active\.pct"
  for shape in ${PROFILE_SHAPES:-full}; do
    f=$OUT/ncu_sm90_$shape.txt
    arg=$([ $shape = causal ] && echo causal)
    timeout 90 ncu --clock-control none $SECTIONS --metrics "$METRICS" -k regex:attention_kernel \
      --launch-count 1 ./bench_chunk_attention --profile fused $arg > $f 2>&1 ||
      timeout 90 ncu --clock-control none $SECTIONS -k regex:attention_kernel \
      --launch-count 1 ./bench_chunk_attention --profile fused $arg > $f 2>&1
    grep -E 'profiled|Duration|Compute \(SM\) Throughput|Memory Throughput|Registers Per|Issue Slots Busy|Warp Cycles Per Issued|No Eligible|Eligible Warps|Executed Ipc A|gmma|L2 Hit|DRAM Throughput|highest-utilized' $f | head -30
    grep -E 'issue_stalled' $f | sort -k3 -g -r | head -8
  done
fi
ls -la $OUT
