#!/bin/bash
# tools/validate/run_device.sh: runs `ringsim validate` on the GPU machine
# and writes its tables under $OUT (tools/validate/RESULTS.md records runs).
#
#   bash tools/validate/run_device.sh all     every validation scenario (pass-kv,
#                                             pass-q, all-gather, ulysses; 1, 2 and 4
#                                             GPUs), self-calibrated and out of sample
#                                             (--profile) in one table per GPU count,
#                                             twice: out-of-sample links from the stored
#                                             transport profile (with traces), then from
#                                             the scenarios' cluster figures (a few
#                                             minutes on 4 x H200: the 4-GPU table took
#                                             34 s on 2026-11-27; hard limit 8.7 min)
#   bash tools/validate/run_device.sh 1gpu|2gpu|4gpu   one of those tables
#   bash tools/validate/run_device.sh straggler   scenarios/validate-{2,4}gpu-straggler.yaml:
#                                             one GPU slowed on purpose, 2 and 4 GPUs
#                                             (needs 4 GPUs; ~2 min on 4 x H200)
#   bash tools/validate/run_device.sh training    scenarios/validate-{2,4}gpu-training-schedules.yaml
#                                             (pass-q, all-gather, Ulysses training) and
#                                             validate-4gpu-training.yaml causal zigzag (--set)
#   bash tools/validate/run_device.sh smoke   tools/validate/smoke/*.yaml: a few
#                                             small points of every schedule (~1 min)
#
# Run from a staged folder (tools/validate/stage.sh DEST BUILD_DIR makes one:
# the binary built here for sm_90a, the fmt/yaml-cpp .so files the GPU image
# lacks, profiles, scenarios and this script); device tool, kind
# nvidia-h100-x4: carry [".stage-NAME"], command
#   cd .stage-NAME && bash tools/validate/run_device.sh all
# CUDA and cuBLAS come from the machine, NCCL from the system or PyTorch's
# nvidia-nccl wheel. Environment: PROFILE (default: h200-sxm on H200, else
# h100-sxm), TRANSPORT (default nccl-send-recv-h200: the stored transport
# profile the out-of-sample column takes its links from; "none": the
# scenario's cluster figures), A2A (default nccl-all-to-all-h200: its all-to-alls; "none": as
# TRANSPORT), EXTRA (more ringsim validate options, e.g. --save-profile FILE).
set -u
. tools/common/device_env.sh  # NCCL_NVLS_ENABLE=0, library path of the staged folder
OUT=${OUT:-/tmp/validate-out}
WHAT=${1:-all}
BIN=${BIN:-$PWD/bin/ringsim-validate}
export RINGSIM_PROFILE_DIR=${RINGSIM_PROFILE_DIR:-$PWD/models/profiles}
mkdir -p "$OUT/traces"
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$CARD" in *H200*) PROFILE=${PROFILE:-h200-sxm} ;; *) PROFILE=${PROFILE:-h100-sxm} ;; esac
TRANSPORT=${TRANSPORT:-nccl-send-recv-h200}
A2A=${A2A:-nccl-all-to-all-h200}
OOS="--profile $PROFILE"
[ "$TRANSPORT" != none ] && OOS="$OOS --transport $TRANSPORT"
[ "$TRANSPORT" != none ] && [ "$A2A" != none ] && OOS="$OOS --all-to-all $A2A"
{
  date -u; nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
  nvidia-smi topo -m; ldd "$BIN" | grep -E "nccl|cublas|fmt|yaml|not found"; echo "out of sample: $OOS"
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

run() {  # run NAME SECONDS ARGS...: the table streams to $OUT/NAME.txt
  local name=$1 limit=$2 t0=$SECONDS; shift 2
  echo "== $name: ringsim-validate $*"
  timeout -k 10 "$limit" "$BIN" "$@" 2>&1 | tee "$OUT/$name.txt"
  echo "exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s" | tee -a "$OUT/$name.txt"
}
group() {  # group G SECONDS [NAME_SUFFIX ARGS...]: every scenarios/validate-G-*.yaml in one run
  local g=$1 limit=$2 suffix=${3:-}
  shift $(( $# < 3 ? $# : 3 ))
  run "validate-$g$suffix" "$limit" scenarios/validate-"$g"-*.yaml "$@" ${EXTRA:-}
}

case "$WHAT" in
  smoke) run smoke 200 tools/validate/smoke/*.yaml --repeats 3 --block-repeats 5 --trace-prefix "$OUT/traces/" \
           $OOS ${EXTRA:-} ;;
  1gpu|2gpu|4gpu) group "$WHAT" 540 "" $OOS --trace-prefix "$OUT/traces/" ;;
  training)
    for g in 2gpu 4gpu; do
      run "training-schedules-$g" 60 scenarios/validate-$g-training-schedules.yaml $OOS ${EXTRA:-}
    done
    run training-4gpu-causal-zigzag 80 scenarios/validate-4gpu-training.yaml --set attention.causal=true \
      --set attention.layout=zigzag $OOS ${EXTRA:-} ;;
  straggler)
    for g in 2gpu 4gpu; do
      run "straggler-$g" 200 scenarios/validate-$g-straggler.yaml $OOS --trace-prefix "$OUT/traces/" ${EXTRA:-}
    done ;;
  all)
    for g in 1gpu 2gpu 4gpu; do group $g 90 "" $OOS --trace-prefix "$OUT/traces/"; done
    for g in 1gpu 2gpu 4gpu; do group $g 80 -scenario-links --profile "$PROFILE"; done ;;
  *) echo "usage: run_device.sh all|1gpu|2gpu|4gpu|straggler|training|smoke" >&2; exit 2 ;;
esac
# $OUT comes back at most 8 files, 2 folders down: the traces as one archive.
(cd "$OUT" && tar czf traces.tgz traces && rm -rf traces)
