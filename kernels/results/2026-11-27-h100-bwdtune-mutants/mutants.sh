#!/bin/bash
# Final test binary (kAuto by head_dim) on the whole backward suite, then three
# mutants of the fused kernel, each on the test case that should catch it.
set -u
OUT=${OUT:-/tmp/out}; cd "$(dirname "$0")"; tar xzf m.tgz
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 40 ./test_final > $OUT/test_final.log 2>&1; echo "final: rc=$?"; tail -4 $OUT/test_final.log | head -3
for m in stride:'*padded*' splitmask:'*sanitizer*' dsbuf:'*sanitizer*'; do
  name=${m%%:*}; tc=${m#*:}
  timeout 30 ./test_$name -tc="$tc" > $OUT/mutant_$name.log 2>&1; echo "mutant $name ($tc): rc=$?"
  grep -E 'test cases|assertions' $OUT/mutant_$name.log
  echo "  failing variants: $(grep -oE 'var.name := \S+' $OUT/mutant_$name.log | sort | uniq -c | tr '\n' ' ')"
done
