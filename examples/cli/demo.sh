# demo.sh - `make demo`: quantize the bundled stories260K with every method at about 4, 3, 2 and
# 1.6 bits/weight, evaluate all of them against fp32 on the bundled TinyStories text in one run, print
# one table, and generate a sample with the best sub-2-bit model. Run from the repository root with
# QLOW (the CLI) and OUT (a scratch directory) set; make demo does that.
set -u
QLOW=${QLOW:-build/qlow}
OUT=${OUT:-build/demo}
MODEL=data/stories260K.bin
TEXT=data/tinystories_validation_head.txt
WINDOWS=${DEMO_WINDOWS:-32}
mkdir -p "$OUT"
rm -f "$OUT"/*.qlow

# Calibration text: the second half of the file; evaluation uses the first windows, so they are disjoint.
size=$(wc -c < "$TEXT")
tail -c $((size / 2)) "$TEXT" > "$OUT/calib.txt"

start=$(date +%s)
made=""
quantize() { # quantize NAME ARGS...
    name=$1; shift
    if "$QLOW" quantize "$@" --calib "$OUT/calib.txt" -o "$OUT/$name.qlow" "$MODEL" 2> "$OUT/$name.err"; then
        made="$made $OUT/$name.qlow"
    else
        echo "demo: skipped $name: $(head -n 1 "$OUT/$name.err")" >&2
    fi
}

echo "== quantizing $MODEL (calibration: 4096 positions of the second half of $TEXT)"
for b in 4 3 2 1; do quantize "rtn-${b}b" --method rtn --bits $b; done
for b in 4 3 2; do quantize "gptq-${b}b" --method gptq --bits $b; done
# Q-BERT's other two knobs: 8-bit embedding / shared classifier and int8 activations in the kernels.
quantize "gptq-4b-e8a8" --method gptq --bits 4 --embed-bits 8 --act-bits 8
for b in 4 3 2 1.6; do quantize "qbert-${b}" --method qbert --budget $b; done
# PTQ1.61's M161 format needs >= 2.08 bits/weight on stories260K's 64-column rows (per-row fp16 scales,
# per-column r2, 32-column padding of both parts), so its rows are planned at 2.1 and 3: salient counts
# per linear in whole 32-column blocks, each linear's layer-wise fit then refined block-wise.
for b in 3 2.1; do quantize "ptq161-${b}" --method ptq161 --budget $b --blockwise-steps 40; done
# BiLLM-style tops out at 2.69 bits/weight here (B2 everywhere), so billm-3 is the all-B2 model: next to
# ptq161-3 it shows that above ~2.4 bits residual binarization beats PTQ1.61 on this model.
for b in 3 2.1 1.6; do quantize "billm-${b}" --method billm --budget $b; done
echo "   done in $(( $(date +%s) - start )) s"

echo "== evaluating against fp32: windows protocol, W=256, first $WINDOWS windows of $TEXT"
# shellcheck disable=SC2086
"$QLOW" eval --max "$WINDOWS" --csv --ref "$MODEL" $made > "$OUT/results.csv" || exit 1
awk -F, 'NR == 1 { next }
    NR == 2 { base = $12 }
    { printf "| %-12s | %6.3f | %8d | %9.3f | %7.4f | %7.3f | %6.2f | %8.0f | %5.2fx |\n", $1, $2, $4, $5, $7, $8, $9, $12, $12 / base }' \
    "$OUT/results.csv" > "$OUT/table.md"
{
    echo "| model        |    bpw |    bytes |       ppl |     KLD | KLD p99 | top-1% | decode/s | vs fp32 |"
    echo "|--------------|-------:|---------:|----------:|--------:|--------:|-------:|---------:|--------:|"
    cat "$OUT/table.md"
} | tee "$OUT/table.txt"
echo "(bpw: exact bits/weight of the packed linears; bytes: whole model incl. fp32 embedding and norms;"
echo " KLD: mean KL(fp32 || model) per position; decode: batch-1 greedy tokens/s after a 128-token prompt)"

best=$(awk -F, 'NR > 2 && $2 < 2.0 { if (!found || $7 < bk) { bk = $7; bn = $1; found = 1 } } END { if (found) print bn }' \
    "$OUT/results.csv")
if [ -n "$best" ]; then
    echo "== sample from the best sub-2-bit model ($best), greedy:"
    "$QLOW" run --steps 120 "$OUT/$best.qlow" "Once upon a time"
fi
echo "== demo finished in $(( $(date +%s) - start )) s"
