# qlow export: GGUF and fake-quant outputs from the CLI, and clear failures (one stderr line, exit 1/2,
# no output file left behind).
set -u
q="${QLOW_BUILD:-build}/qlow"
if [ ! -x "$q" ]; then echo "SKIP qlow CLI not built ($q)"; exit 0; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

expect() { # expect NAME WANT_RC cmd...
    name=$1; want=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    n=$(wc -l <"$tmp/err")
    if [ "$rc" -eq "$want" ] && { [ "$rc" -eq 0 ] || [ "$n" -eq 1 ]; }; then echo "PASS $name"
    else echo "FAIL $name: exit $rc (want $want), $n stderr lines:"; head -3 "$tmp/err"; fi
}
check() { if eval "$2"; then echo "PASS $1"; else echo "FAIL $1"; fi; }

expect "help" 0 "$q" export --help
check "help text" 'grep -q "usage: qlow export" "$tmp/out"'
expect "gguf q8_0" 0 "$q" export --gguf q8_0 data/stories260K.bin -o "$tmp/m.gguf"
check "gguf magic and version" '[ "$(head -c 4 "$tmp/m.gguf")" = GGUF ] && [ "$(od -An -tu4 -j4 -N4 "$tmp/m.gguf" | tr -d " ")" = 3 ]'
expect "gguf iq4_nl calibrated" 0 "$q" export --gguf iq4_nl --calib data/tinystories_validation_head.txt \
    --calib-tokens 512 data/stories260K.bin -o "$tmp/c.gguf"
expect "quantize for dequant" 0 "$q" quantize --method rtn --bits 4 -o "$tmp/m.qlow" data/stories260K.bin
expect "dequant" 0 "$q" export --dequant "$tmp/m.qlow" --source data/stories260K.bin -o "$tmp/fq.bin"
check "dequant keeps the size" '[ "$(wc -c <"$tmp/fq.bin")" -eq "$(wc -c <data/stories260K.bin)" ]'
check "dequant keeps the header" 'cmp -s -n 28 "$tmp/fq.bin" data/stories260K.bin'
expect "gguf from .qlow" 0 "$q" export --gguf q4_1 "$tmp/m.qlow" -o "$tmp/q.gguf"
expect "dequant safetensors" 0 "$q" export --dequant "$tmp/m.qlow" --source data/stories260K.bin --format safetensors -o "$tmp/fq.safetensors"
expect "inspect fake-quant safetensors" 0 "$q" inspect "$tmp/fq.safetensors"
expect "wrong source" 1 "$q" export --dequant "$tmp/m.qlow" --source "$tmp/fq.bin" -o "$tmp/bad.bin"
check "no output after failure" '[ ! -e "$tmp/bad.bin" ] && [ ! -e "$tmp/bad.bin.tmp" ]'
expect "unknown type" 2 "$q" export --gguf q3_foo data/stories260K.bin -o "$tmp/x.gguf"
expect "both modes" 2 "$q" export --dequant --gguf q4_0 data/stories260K.bin -o "$tmp/x.gguf"
expect "missing source" 2 "$q" export --dequant "$tmp/m.qlow" -o "$tmp/x.bin"
expect "unwritable output" 1 "$q" export --gguf q4_0 data/stories260K.bin -o "$tmp/no/such/dir.gguf"
