#!/bin/bash
# One H100: ringsim-calibrate (now with its cuBLAS GEMM grid) and torch.matmul's grid
# (tools/calibrate/layer_check.py measure_gemms) on the same card, both into $OUT.
set -u
. tools/common/device_env.sh
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/machine.txt
date -u >> $OUT/machine.txt
t0=$SECONDS
timeout -k 5 240 bin/ringsim-calibrate --grid full --runs 10 --out $OUT/calibrated.yaml > $OUT/calibrate.log 2>&1
echo "calibrate exit $? after $((SECONDS - t0)) s" | tee -a $OUT/calibrate.log
tail -3 $OUT/calibrate.log
t0=$SECONDS
timeout -k 5 120 python3 -c '
import json, sys
sys.path.insert(0, "tools/calibrate")
import torch, layer_check as lc
out = lc.measure_gemms(torch, 5, lambda s: print(s, flush=True))
json.dump(out, open(sys.argv[1], "w"))' $OUT/torch-gemm.json > $OUT/torch.log 2>&1
echo "torch exit $? after $((SECONDS - t0)) s" | tee -a $OUT/torch.log
