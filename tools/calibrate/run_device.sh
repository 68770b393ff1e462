#!/bin/bash
# tools/calibrate/run_device.sh: calibrates the card(s) of the GPU machine into
# profiles under $OUT (the lead copies them to models/profiles/ and records the
# run in README.md).
#
#   bash tools/calibrate/run_device.sh ours        ringsim-calibrate --grid full --step-costs
#                                                  (forward + backward samples of our kernels,
#                                                  per-step costs; GEMM samples where the
#                                                  binary times them) -> $OUT/<card>.yaml
#   bash tools/calibrate/run_device.sh sdpa        PyTorch SDPA flash and cuDNN on the same
#                                                  grid -> $OUT/<card>-sdpa-{flash,cudnn}.yaml
#   bash tools/calibrate/run_device.sh transport   tools/calibrate/transport_bench.py over
#                                                  every GPU (2 or more) -> $OUT/links/
#   bash tools/calibrate/run_device.sh all         the three
#
# Run from a staged folder (tools/calibrate/stage.sh DEST BUILD_DIR: the
# ringsim-calibrate binary built here for sm_90a, the fmt/yaml-cpp .so files
# the GPU image lacks, and the Python scripts); device tool: carry
# [".stage-NAME"], command `cd .stage-NAME && bash tools/calibrate/run_device.sh all`.
# Profiles are named by the card: h100-sxm or h200-sxm (NAME overrides).
set -u
. tools/common/device_env.sh  # NCCL_NVLS_ENABLE=0, library path of the staged folder
OUT=${OUT:-/tmp/calibrate-out}
WHAT=${1:-all}
BIN=${BIN:-$PWD/bin/ringsim-calibrate}
mkdir -p "$OUT/links"
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
GPUS=$(nvidia-smi -L | wc -l)
case "$CARD" in *H200*) NAME=${NAME:-h200-sxm} ;; *H100*) NAME=${NAME:-h100-sxm} ;; *) NAME=${NAME:-gpu} ;; esac
{
  date -u; nvidia-smi -L
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
  python3 -c 'import torch; print("torch", torch.__version__, "cudnn", torch.backends.cudnn.version())' 2>&1
} > "$OUT/machine-$NAME.txt" 2>&1
cat "$OUT/machine-$NAME.txt"

step() {  # step LABEL SECONDS CMD...: output to $OUT/LABEL.log, time and exit status appended
  local label=$1 limit=$2 t0=$SECONDS; shift 2
  echo "== $label: $*"
  timeout -k 10 "$limit" "$@" > "$OUT/$label.log" 2>&1
  local rc=$?
  tail -5 "$OUT/$label.log"
  echo "exit $rc after $((SECONDS - t0)) s" | tee -a "$OUT/$label.log"
}

ours() {
  step "calibrate-$NAME" 300 "$BIN" --grid full --runs 10 --step-costs --name "$NAME" --out "$OUT/$NAME.yaml"
}
sdpa() {
  local b
  for b in flash cudnn; do
    step "sdpa-$b-$NAME" 200 python3 tools/calibrate/sdpa_calibrate.py --backend "$b" --name "$NAME-sdpa-$b" \
      --out "$OUT/$NAME-sdpa-$b.yaml"
    [ -s "$OUT/$NAME-sdpa-$b.yaml" ] && "$BIN" --check "$OUT/$NAME-sdpa-$b.yaml" >> "$OUT/sdpa-$b-$NAME.log" 2>&1
  done
}
transport() {
  if [ "$GPUS" -lt 2 ]; then echo "transport: one GPU, skipped"; return; fi
  step "transport-$NAME" 200 python3 tools/calibrate/transport_bench.py --world-size "$GPUS" --out-dir "$OUT/links"
}
case "$WHAT" in
  ours) ours ;;
  sdpa) sdpa ;;
  transport) transport ;;
  all) ours; sdpa; transport ;;
  *) echo "usage: run_device.sh ours|sdpa|transport|all" >&2; exit 2 ;;
esac
ls -la "$OUT" "$OUT/links"
