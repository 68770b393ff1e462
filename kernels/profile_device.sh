#!/bin/bash
# Profiling session for the fused kernel (device machine): quick checking
# benchmark, Nsight Compute sections of two tilings, SASS of all kernels.
set -u
OUT=${OUT:-/tmp/out}
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
B=.devbin/bench_chunk_attention
timeout 120 $B --quick > $OUT/bench.log 2>&1; grep -E '^time|FAIL' $OUT/bench.log
for i in ${PROFILE_VARIANTS:-fused_m128n128 fused_w4m2n64}; do  # variant names (bench_chunk_attention)
  timeout 120 ncu --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy \
    --section ComputeWorkloadAnalysis --section InstructionStats --section MemoryWorkloadAnalysis --section LaunchStats \
    -k regex:fused_attention --launch-count 1 $B --profile $i > $OUT/ncu_$i.txt 2>&1
  grep -E 'profiled|Duration|Compute \(SM\) Throughput|Registers Per|Achieved Occupancy|Issue Slots Busy|Stall|Warp Cycles Per Issued|No Eligible|Executed Ipc A|Shared Memory|Bank|L1/TEX Hit|L2 Hit|Block Limit' $OUT/ncu_$i.txt | head -40
done
cuobjdump -sass $B > $OUT/sass.txt 2>&1; gzip -f $OUT/sass.txt; ls -la $OUT
