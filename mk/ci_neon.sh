#!/usr/bin/env bash
# CI stage: the NEON kernels on AArch64 (cross compiler + qemu-aarch64 user emulation), see mk/neon.mk.
# Debian packages: gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user (installed by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s check-neon O=build/ci-neon
