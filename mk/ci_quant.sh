#!/usr/bin/env bash
# CI stage of the quant subsystem: the issue-2 primitives table on the bundled model must run and list
# every primitive (56 table rows), with no status errors.
set -euo pipefail
out=$(make -s O=build/ci-quant quant-table)
rows=$(printf '%s\n' "$out" | grep -c '^| [A-Za-z]' || true)
printf '%s\n' "$out" | tail -n 12
# 57 = the header line plus 56 primitives
if [ "$rows" -ne 57 ]; then echo "quant-table printed $rows table lines, want 57"; exit 1; fi
echo "quant-table: ok ($((rows - 1)) primitives)"
