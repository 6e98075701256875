#!/usr/bin/env bash
# CI stage of the engine: `make demo` must run from the repository and print its table with a row
# for every method, and the sample; then `make install` must install a working qlow.
set -euo pipefail
out=$(make -s O=build/ci-engine demo)
printf '%s\n' "$out" | tail -n 30
for m in rtn-4b gptq-2b qbert-2 ptq161-2.1 billm-1.6; do
    printf '%s\n' "$out" | grep -q "^| $m " || { echo "demo table lacks $m"; exit 1; }
done
printf '%s\n' "$out" | grep -q "== sample from the best sub-2-bit model" || { echo "demo printed no sample"; exit 1; }
dest=$(mktemp -d); trap 'rm -rf "$dest"' EXIT
make -s O=build/ci-engine DESTDIR="$dest" PREFIX=/usr install > /dev/null
"$dest/usr/bin/qlow" --version
"$dest/usr/bin/qlow" run --steps 8 data/stories260K.bin "Once upon a time" > /dev/null
echo "engine: ok"
