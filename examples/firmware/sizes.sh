# usage: sizes.sh FW_DIR TARGET...
# Markdown tables of the firmware footprint, from <target>-size and <target>-nm:
#  1. per target: the freestanding library (every public function and what it reaches) and the example
#     image (code, flash data = the packed matrices and tables, RAM);
#  2. per format (first ARM target): code of the format's own kernel and dequantizer functions (found by
#     name in the linked image), flash of the packed wq (64x64) and w2 (64x172) images, GEMV workspace.
set -u
dir=$1; shift
targets="$*"
tool() { case $1 in rv32) echo riscv64-unknown-elf-$2;; host) echo $2;; *) echo arm-none-eabi-$2;; esac; }
echo "| target | library code+rodata (B) | library data+bss (B) | example code (B) | example flash data (B) | example RAM (B) |"
echo "|---|---:|---:|---:|---:|---:|"
for t in $targets; do
    lib=$dir/$t/libqlow_fw.o
    [ -f "$lib" ] || continue
    libt=$($(tool $t size) "$lib" | awk 'NR == 2 {print $1}')
    libd=$($(tool $t size) "$lib" | awk 'NR == 2 {print $2 + $3}')
    elf=$dir/$t/fw.elf
    if [ -f "$elf" ]; then
        ex=$($(tool $t size) -A "$elf" | awk '$1 == ".text" {t = $2} $1 == ".rodata" {r = $2} $1 == ".data" {d = $2} $1 == ".bss" {b = $2} END {printf "%d | %d | %d", t, r, d + b}')
    else ex="- | - | -"; fi
    echo "| $t | $libt | $libd | $ex |"
done
arm=""
for t in $targets; do case $t in cm*) arm=$t; break;; esac; done
[ -n "$arm" ] && [ -f "$dir/$arm/fw.elf" ] || exit 0
echo
echo "Per format on $arm: kernel code = the GEMV row kernel of the format's family (Q8/Q4/Q3/Q2 share"
echo "one, B1/B2/T158/T2 share one, M161 uses both) plus its dequantizer and validator; the shared"
echo "dispatch, activation quantization and wrapping code is in the library total. Packers are linked"
echo "only because the format traits table points at them (never called on the device):"
echo
echo "| format | kernel code (B) | packer linked (B) | flash, wq 64x64 (B) | flash, w2 64x172 (B) | GEMV workspace (B) |"
echo "|---|---:|---:|---:|---:|---:|"
syms=$(arm-none-eabi-nm -S --radix=d "$dir/$arm/fw.elf")
code() { echo "$syms" | awk -v re="$1" '$4 ~ re {s += $2 + 0} END {print s + 0}'; }
while read -r fmt re pack; do
    c=$(code "$re")
    p=$(code "$pack")
    wq=$(awk -v f="$fmt" '$1 == "wq" && $2 == f {print $3}' "$dir/fw_model_sizes.txt")
    w2=$(awk -v f="$fmt" '$1 == "w2" && $2 == f {print $3}' "$dir/fw_model_sizes.txt")
    ws=$(awk -v f="$fmt" '$1 == "w2" && $2 == f {print $4}' "$dir/fw_model_sizes.txt")
    echo "| $fmt | $c | $p | ${wq:--} | ${w2:--} | ${ws:--} |"
done <<'MAP'
Q8 ^(q_rows|q_block_codes|dot32|qlow__dequant_row_q|qlow__validate_q)$ ^qlow__pack_q$
Q4 ^(q_rows|q_block_codes|dot32|qlow__dequant_row_q|qlow__validate_q)$ ^qlow__pack_q$
Q3 ^(q_rows|q_block_codes|dot32|qlow__dequant_row_q|qlow__validate_q)$ ^qlow__pack_q$
Q2 ^(q_rows|q_block_codes|dot32|qlow__dequant_row_q|qlow__validate_q)$ ^qlow__pack_q$
B1 ^(bt_rows|bt_block_sum|bt_code|b_rows|masked_sum|qlow__dequant_row_b1|qlow__validate_b)$ ^qlow__pack_b1$
B2 ^(bt_rows|bt_block_sum|bt_code|b_rows|masked_sum|qlow__dequant_row_b2|qlow__validate_b)$ ^qlow__pack_b2$
T158 ^(bt_rows|bt_block_sum|bt_code|t158_rows|qlow__dequant_row_t158|qlow__validate_t158)$ ^qlow__pack_t158$
T2 ^(bt_rows|bt_block_sum|bt_code|t2_rows|qlow__dequant_row_t2|qlow__validate_t2)$ ^qlow__pack_t2$
M161 ^(q_rows|q_block_codes|dot32|bt_rows|bt_block_sum|bt_code|qlow__dequant_row_m161|qlow__validate_m161)$ ^qlow__pack_m161$
MAP
