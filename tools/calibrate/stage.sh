#!/bin/bash
# tools/calibrate/stage.sh DEST [BUILD_DIR]: copies what run_device.sh needs on
# the GPU machine into DEST (a folder the device tool carries, e.g.
# /work/main/.stage-NAME): the ringsim-calibrate binary of BUILD_DIR (default
# build-cuda, configured for sm_90a), the fmt and yaml-cpp .so files the GPU
# image lacks, and the Python calibration scripts. Run from the repository root.
set -eu
DEST=${1:?usage: stage.sh DEST [BUILD_DIR]}
BUILD=${2:-build-cuda}
mkdir -p "$DEST"/{bin,devlibs,tools/calibrate,tools/common}
cp "$BUILD/tools/calibrate/ringsim-calibrate" "$DEST/bin/"
cp -L /lib/x86_64-linux-gnu/libfmt.so.9 /lib/x86_64-linux-gnu/libyaml-cpp.so.0.7 "$DEST/devlibs/"
cp tools/calibrate/*.py tools/calibrate/run_device.sh "$DEST/tools/calibrate/"
cp tools/common/device_env.sh "$DEST/tools/common/"
du -sh "$DEST"
