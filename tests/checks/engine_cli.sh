# The qlow CLI: --help on every subcommand, and bad input gives one clear stderr line and a nonzero
# exit (2 = usage, 1 = runtime), never a crash.
set -u
q="${QLOW_BUILD:-build}/qlow"
if [ ! -x "$q" ]; then echo "SKIP qlow CLI not built ($q)"; exit 0; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

expect() { # expect NAME WANT_RC WANT_STDERR_LINES cmd...
    name=$1; want=$2; lines=$3; shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    n=$(wc -l <"$tmp/err")
    if [ "$rc" -eq "$want" ] && { [ "$lines" = any ] || [ "$n" -eq "$lines" ]; }; then echo "PASS $name"
    else echo "FAIL $name: exit $rc (want $want), $n stderr lines (want $lines):"; head -3 "$tmp/err"; fi
}

for c in quantize eval run inspect bench; do
    expect "help $c" 0 0 "$q" "$c" --help
    grep -q "usage: qlow $c" "$tmp/out" && echo "PASS help text $c" || echo "FAIL help text $c"
done
expect "top-level help" 0 0 "$q" --help
expect "no arguments" 2 any "$q"
expect "unknown command" 2 1 "$q" frobnicate
expect "unknown option" 2 1 "$q" eval --frob data/stories260K.bin
expect "missing option value" 2 1 "$q" run data/stories260K.bin --steps
expect "bad integer" 2 1 "$q" run --steps ten data/stories260K.bin
expect "bad protocol" 2 1 "$q" eval --protocol lines data/stories260K.bin
expect "missing model" 2 1 "$q" run
expect "unreadable model" 1 1 "$q" run "$tmp/nonexistent.bin" "hi"
head -c 1000 data/stories260K.bin > "$tmp/trunc.bin"
expect "truncated model" 1 1 "$q" inspect "$tmp/trunc.bin"
printf 'garbage garbage garbage garbage' > "$tmp/junk.bin"
expect "garbage model" 1 1 "$q" eval "$tmp/junk.bin"
expect "unreadable text" 1 1 "$q" eval --no-speed --text "$tmp/none.txt" data/stories260K.bin
expect "unreadable tokenizer" 1 1 "$q" run --tokenizer "$tmp/none.bin" data/stories260K.bin
expect "quantize without output" 2 1 "$q" quantize --method rtn --bits 4 data/stories260K.bin
expect "quantize bad method" 2 1 "$q" quantize --method magic --bits 4 -o "$tmp/x.qlow" data/stories260K.bin
expect "quantize bad bits" 2 1 "$q" quantize --method rtn --bits 11 -o "$tmp/x.qlow" data/stories260K.bin
expect "quantize gptq without calib" 2 1 "$q" quantize --method gptq --bits 2 -o "$tmp/x.qlow" data/stories260K.bin
expect "prompt too long for the context" 1 1 "$q" run data/stories260K.bin "$(head -c 20000 data/tinystories_validation_head.txt)"
expect "quantize unreadable calib" 1 1 "$q" quantize --method gptq --bits 4 --calib "$tmp/none.txt" -o "$tmp/x.qlow" data/stories260K.bin
expect "quantize budget too small" 1 1 "$q" quantize --method billm --budget 1.0 --calib data/tinystories_validation_head.txt --calib-tokens 512 -o "$tmp/x.qlow" data/stories260K.bin
[ ! -e "$tmp/x.qlow" ] && echo "PASS no output file after a failed quantize" || echo "FAIL a failed quantize left $tmp/x.qlow"
expect "quantize rtn" 0 0 "$q" quantize --method rtn --bits 4 -o "$tmp/r4.qlow" data/stories260K.bin
expect "inspect .qlow" 0 0 "$q" inspect "$tmp/r4.qlow"
grep -q "layers.4.w2 *Q4" "$tmp/out" && echo "PASS inspect lists Q4 tensors" || echo "FAIL inspect output"
size=$(wc -c < "$tmp/r4.qlow")
cp "$tmp/r4.qlow" "$tmp/bad.qlow"
printf '\377' | dd of="$tmp/bad.qlow" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect "corrupt .qlow" 1 1 "$q" run "$tmp/bad.qlow" "hi"
grep -qi "checksum" "$tmp/err" && echo "PASS corrupt .qlow reports a checksum error" || { echo "FAIL corrupt .qlow message:"; cat "$tmp/err"; }
head -c $((size - 100)) "$tmp/r4.qlow" > "$tmp/short.qlow"
expect "truncated .qlow" 1 1 "$q" eval --no-speed --ref data/stories260K.bin "$tmp/short.qlow"
expect "eval json" 0 0 "$q" eval --max 1 --gen-tokens 8 --reps 1 --json --ref data/stories260K.bin "$tmp/r4.qlow"
grep -q '"kld_p99"' "$tmp/out" && echo "PASS eval --json" || echo "FAIL eval --json"
expect "run" 0 0 "$q" run --steps 20 data/stories260K.bin "Once upon a time"
grep -q "^Once upon a time, there was a little girl" "$tmp/out" && echo "PASS run output" || { echo "FAIL run output"; cat "$tmp/out"; }
