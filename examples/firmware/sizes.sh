# usage: sizes.sh FW_DIR TARGET...
# Code size of the freestanding library per target: one row per object (grouped per format when the
# object's name says which), as a markdown table of text/data/bss bytes from <target>-size.
set -u
dir=$1; shift
echo "| target | object | text | data | bss |"
echo "|---|---|---:|---:|---:|"
for t in "$@"; do
    case $t in rv32) size=riscv64-unknown-elf-size;; *) size=arm-none-eabi-size;; esac
    find "$dir/$t/obj" -name '*.o' | sort | while read -r o; do
        rel=${o#"$dir/$t/obj/"}
        $size "$o" | awk -v t="$t" -v n="$rel" 'NR == 2 {printf "| %s | %s | %d | %d | %d |\n", t, n, $1, $2, $3}'
    done
    $size "$dir/$t/libqlow_fw.o" | awk -v t="$t" 'NR == 2 {printf "| %s | **whole library** | %d | %d | %d |\n", t, $1, $2, $3}'
done
