#!/bin/bash
# tools/validate/run_device.sh: runs `ringsim validate` on every validation
# scenario on a machine with 1-2 GPUs, with and without the interference
# model (--no-interference), and writes the tables and traces under $OUT
# (tools/validate/RESULTS.md records one such run).
#
# The binary is built where nvcc is (no GPU needed) and carried:
#   meson setup build-validate -Dtests=disabled && ninja -C build-validate tools/validate/ringsim-validate
#   mkdir -p build-validate/devlibs && cp -L /lib/x86_64-linux-gnu/lib{fmt.so.9,yaml-cpp.so.0.7} build-validate/devlibs/
# then (device tool): carry build-validate/tools/validate/ringsim-validate and
# build-validate/devlibs, command: bash tools/validate/run_device.sh [1gpu|2gpu|all]
# The GPU machine may lack fmt/yaml-cpp (no registry there): devlibs holds them;
# CUDA, cuBLAS and NCCL come from the machine (NCCL from the pip wheel if not
# in the system paths).
set -u
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-/tmp/validate-out}
WHAT=${1:-all}
mkdir -p "$OUT" "$OUT/traces"
BIN=build-validate/tools/validate/ringsim-validate
LIBS=$PWD/build-validate/devlibs:/usr/local/cuda/lib64
if ! ldconfig -p | grep -q libnccl.so.2; then
  NCCL_PIP=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib"))' 2>/dev/null)
  LIBS=$LIBS:$NCCL_PIP
fi
export LD_LIBRARY_PATH=$LIBS:${LD_LIBRARY_PATH:-}
{
  date -u; nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
  nvidia-smi topo -m; ldd "$BIN" | grep -E "nccl|cublas|fmt|yaml|not found"
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
run() {  # run NAME ARGS...: the table streams to $OUT/NAME.txt
  local name=$1; shift
  echo "== $name: $BIN $*"
  timeout 200 "$BIN" "$@" 2>&1 | tee "$OUT/$name.txt"
  echo "exit ${PIPESTATUS[0]}" | tee -a "$OUT/$name.txt"
}
ONE="scenarios/validate-1gpu-noncausal.yaml scenarios/validate-1gpu-causal.yaml scenarios/validate-1gpu-zigzag.yaml"
TWO="scenarios/validate-2gpu-noncausal.yaml scenarios/validate-2gpu-causal.yaml scenarios/validate-2gpu-zigzag.yaml"
if [ "$WHAT" = 1gpu ] || [ "$WHAT" = all ]; then
  run validate-1gpu $ONE --trace-prefix "$OUT/traces/"
  run validate-1gpu-no-interference $ONE --no-interference
fi
if [ "$WHAT" = 2gpu ] || [ "$WHAT" = all ]; then
  run validate-2gpu $TWO --trace-prefix "$OUT/traces/"
  run validate-2gpu-no-interference $TWO --no-interference
fi
(cd "$OUT" && tar czf traces.tgz traces && rm -rf traces)
