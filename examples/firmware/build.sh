#!/bin/sh
# usage: examples/firmware/build.sh TARGET OUTDIR [MODEL_DATA.c]     (run from the repository root)
# Builds the freestanding libqlow subset for TARGET (cm4, cm7, rv32 or host) into OUTDIR:
#   OUTDIR/libqlow_fw.a   the library (-ffreestanding -nostdlib, QLOW_NO_MALLOC, no stdio, no OpenMP)
#   OUTDIR/libqlow_fw.o   the same objects linked into one relocatable object, for the nm -u check
# and checks with nm -u that it references nothing outside examples/firmware/allowed_undefined.txt.
# With MODEL_DATA.c it also builds the example: OUTDIR/fw.elf (Cortex-M, semihosting), OUTDIR/fw_host
# (host, freestanding library + the same app, printing to stdout) or OUTDIR/fw_app.o (rv32: compile
# and link check only). Prints PASS/FAIL/INFO lines; exits non-zero on failure.
set -eu
target=$1; out=$2; model=${3:-}
here=examples/firmware
srcs=$(ls src/core/*.c src/formats/*.c src/kernels/*.c 2>/dev/null | sort)
common="-std=c11 -Os -g -ffreestanding -ffunction-sections -fdata-sections -DQLOW_FREESTANDING -DQLOW_NO_MALLOC
  -I$here/libc -Iinclude -Isrc -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
  -Wundef -Wcast-qual -Wdouble-promotion ${FW_EXTRA_CFLAGS:-}"
case $target in
  cm4)  cc=${ARM_CC:-arm-none-eabi-gcc}; flags="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -nostdlib";;
  cm7)  cc=${ARM_CC:-arm-none-eabi-gcc}; flags="-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16 -nostdlib";;
  rv32) cc=${RV_CC:-riscv64-unknown-elf-gcc}; flags="-march=rv32imafc -mabi=ilp32f -mcmodel=medany -nostdlib";;
  host) cc=${CC:-cc}; flags="-DQLOW_FORCE_GENERIC";; # a firmware build has only the portable kernels
  *) echo "FAIL unknown firmware target $target"; exit 1;;
esac
tool() { echo "$cc" | sed "s/gcc\$/$1/; s/^cc\$/$1/; s/clang\$/$1/"; }
ar=$(tool ar); nm=$(tool nm)
command -v "$ar" >/dev/null 2>&1 || ar=ar
command -v "$nm" >/dev/null 2>&1 || nm=nm
if ! command -v "$cc" >/dev/null 2>&1; then echo "SKIP $target: $cc not installed"; exit 0; fi

rm -rf "$out/obj"; mkdir -p "$out/obj"
objs=""
for s in $srcs; do
  o="$out/obj/$(echo "$s" | sed 's|^src/||; s|/|_|g; s|\.c$|.o|')"
  $cc $flags $common -c "$s" -o "$o" 2> "$out/cc.log" || {
    head -n 20 "$out/cc.log"; echo "FAIL $target: $s does not compile freestanding"; exit 1; }
  objs="$objs $o"
done
rm -f "$out/libqlow_fw.a"
$ar rcs "$out/libqlow_fw.a" $objs
# One relocatable object holding what the public functions can reach (the nm -u check and the sizes).
roots=$($nm -g --defined-only $objs | awk '$3 ~ /^qlow_[a-z]/ {print "-Wl,-u," $3}' | sort -u)
$cc $flags -nostdlib -r -Wl,--gc-sections $roots $objs -o "$out/libqlow_fw.o"
echo "PASS $target: $(echo $srcs | wc -w) library sources compile with -ffreestanding -DQLOW_NO_MALLOC"
sh $here/check_undefined.sh "$nm" "$out/libqlow_fw.o" "$target"

[ -n "$model" ] || exit 0
app="-I$here -I$(dirname "$model") -fno-tree-loop-distribute-patterns"
case $target in
  cm4|cm7)
    $cc $flags $common $app -T $here/cortex_m.ld -Wl,--gc-sections $here/cortex_m_start.c $here/fw_libc.c \
        $here/fw_app.c "$model" "$out/libqlow_fw.a" -lgcc -o "$out/fw.elf"
    echo "PASS $target: example image links ($(${cc%gcc}size "$out/fw.elf" | awk 'NR==2 {print $1 " text, " $2 " data, " $3 " bss bytes"}'))";;
  rv32)
    $cc $flags $common $app -c $here/fw_app.c -o "$out/fw_app.o"
    $cc $flags $common $app -c "$model" -o "$out/fw_model.o"
    $cc $flags -nostdlib -r -Wl,--gc-sections -Wl,-u,fw_app_run "$out/fw_app.o" "$out/fw_model.o" "$out/libqlow_fw.a" \
        -o "$out/fw_linked.o"
    sh $here/check_undefined.sh "$nm" "$out/fw_linked.o" "$target example"
    echo "PASS $target: example compiles and links against the library (no RISC-V system emulator run)";;
  host)
    ${CC:-cc} -std=c11 -O2 -I$here -Iinclude $here/host_main.c -c -o "$out/host_main.o"
    $cc $flags $common $app -c $here/fw_app.c -o "$out/fw_app.o"
    $cc $flags $common $app -c "$model" -o "$out/fw_model.o"
    ${CC:-cc} -Wl,--gc-sections "$out/host_main.o" "$out/fw_app.o" "$out/fw_model.o" "$out/libqlow_fw.a" -o "$out/fw_host"
    echo "PASS host: freestanding example links";;
esac
