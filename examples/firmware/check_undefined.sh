# usage: check_undefined.sh NM RELOCATABLE.o LABEL
# The freestanding library, linked into one relocatable object, may only reference the symbols listed
# in examples/firmware/allowed_undefined.txt (memcpy/memset and compiler-runtime helpers). Prints
# PASS/FAIL lines; exit 1 on failure.
set -u
nm=$1; obj=$2; label=$3
allowed=$(grep -v '^#' "$(dirname "$0")/allowed_undefined.txt" | grep .)
und=$($nm -u "$obj" | awk '{print $NF}' | sort -u)
bad=""
for s in $und; do echo "$allowed" | grep -qx "$s" || bad="$bad $s"; done
echo "INFO $label undefined symbols: $(echo $und)"
if [ -z "$bad" ]; then echo "PASS $label: nm -u lists only allowed symbols"; else echo "FAIL $label: unexpected undefined symbols:$bad"; exit 1; fi
for s in malloc free calloc realloc printf fprintf puts abort exit __assert_func omp_get_thread_num GOMP_parallel; do
    if echo "$und" | grep -qx "$s"; then echo "FAIL $label references $s"; exit 1; fi
done
