#!/usr/bin/env bash
# CI stage of the pyfw subsystem: Python tests with every interpreter, the amalgamation, and the
# firmware cross builds (Cortex-M4F, Cortex-M7, RV32IMAFC when its compiler is present) with the nm -u
# check, the size table, and the example run under QEMU. Debian packages: gcc-arm-none-eabi
# libnewlib-arm-none-eabi python3-numpy qemu-system-arm (and optionally gcc-riscv64-unknown-elf).
set -euo pipefail
cd "$(dirname "$0")/.."

want="qemu-system-arm gcc-riscv64-unknown-elf"
missing=""
for p in $want; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
  echo "installing:$missing"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1 ||
    echo "NOTE could not install$missing; the stages that need them are skipped"
fi

jobs=2
make -s -j$jobs lib
summary() { # prints the lines, fails if any FAIL
  local log=$1; cat "$log"; ! grep -q '^FAIL' "$log"; }

echo "-- python wrapper (python3 on PATH and /usr/bin/python3)"
sh tests/checks/python.sh > build/ci_pyfw_python.log 2>&1 || true
summary build/ci_pyfw_python.log

echo "-- amalgamation"
make -s amalgamate
AMALG_FULL=1 sh tests/checks/amalgamation.sh > build/ci_pyfw_amalg.log 2>&1 || true
summary build/ci_pyfw_amalg.log

echo "-- firmware cross builds"
make -s firmware FW_TARGETS="cm4 cm7 $(command -v riscv64-unknown-elf-gcc >/dev/null && echo rv32)" \
  | tee build/ci_pyfw_firmware.log
! grep -q '^FAIL' build/ci_pyfw_firmware.log

echo "-- firmware example on the host (freestanding) and under QEMU"
make -s firmware-host
if command -v qemu-system-arm >/dev/null; then
  make -s firmware-qemu > build/ci_pyfw_qemu.log 2>&1 || true
  summary build/ci_pyfw_qemu.log
else
  echo "SKIP qemu-system-arm not installed: the images were built but not run"
fi
