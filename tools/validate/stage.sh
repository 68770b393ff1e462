#!/bin/bash
# tools/validate/stage.sh DEST [BUILD_DIR]: copies what run_device.sh needs on
# the GPU machine into DEST (a folder the device tool carries, e.g.
# /work/main/.stage-NAME): the ringsim-validate binary of BUILD_DIR (default
# build-cuda; configure it with `meson setup build-cuda` for sm_90a and build
# `ninja -C build-cuda tools/validate/ringsim-validate`), the fmt and
# yaml-cpp .so files the GPU image lacks, the shipped profiles, the
# validation and smoke scenarios and the run script. Run from the repository root.
set -eu
DEST=${1:?usage: stage.sh DEST [BUILD_DIR]}
BUILD=${2:-build-cuda}
mkdir -p "$DEST"/{bin,devlibs,models,scenarios,tools/validate,tools/common}
cp "$BUILD/tools/validate/ringsim-validate" "$DEST/bin/"
cp -L /lib/x86_64-linux-gnu/libfmt.so.9 /lib/x86_64-linux-gnu/libyaml-cpp.so.0.7 "$DEST/devlibs/"
rm -rf "$DEST/models/profiles" "$DEST/tools/validate/smoke"
cp -r models/profiles "$DEST/models/"
cp scenarios/validate-*.yaml "$DEST/scenarios/"
cp -r tools/validate/smoke tools/validate/run_device.sh "$DEST/tools/validate/"
cp tools/common/device_env.sh "$DEST/tools/common/"
du -sh "$DEST"
