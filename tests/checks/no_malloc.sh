# A -DQLOW_NO_MALLOC build references neither malloc nor free (nor calloc/realloc), checked with nm.
set -u
cc=${CC:-cc}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
for src in src/*/*.c; do
  o="$tmp/$(echo "$src" | tr / _).o"
  $cc -std=c11 -O1 -DQLOW_NO_MALLOC -Iinclude -Isrc -c "$src" -o "$o" || { echo "FAIL compile $src"; fail=1; }
done
und=$(nm -u "$tmp"/*.o | awk '{print $2}' | sort -u)
bad=$(echo "$und" | grep -E '^(malloc|free|calloc|realloc|aligned_alloc|posix_memalign)$' || true)
if [ -z "$bad" ] && [ $fail -eq 0 ]; then echo "PASS no-malloc build references no allocator"; else echo "FAIL no-malloc build references: $bad"; fi
# And the feature query reports it.
printf '#include "qlow.h"\nint main(void){ return qlow_has_feature(QLOW_FEATURE_NO_MALLOC) ? 0 : 1; }\n' > "$tmp/m.c"
if $cc -Iinclude "$tmp/m.c" "$tmp"/*.o -lm -o "$tmp/m" 2>/dev/null && "$tmp/m"; then echo "PASS has_feature(NO_MALLOC) in a no-malloc build"; else echo "FAIL has_feature(NO_MALLOC)"; fi
