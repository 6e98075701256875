/* sort.c - heapsort of index arrays: O(n log n) worst case with O(1) extra memory, which keeps the
 * duplicate-name and overlap checks of hostile files fast without allocating or recursing. */
#include "io/io_internal.h"

static void sift_down(uint32_t *idx, size_t root, size_t n, qlow__cmp_fn cmp, const void *ctx)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && cmp(ctx, idx[child], idx[child + 1]) < 0) child++;
        if (cmp(ctx, idx[root], idx[child]) >= 0) return;
        uint32_t t = idx[root];
        idx[root] = idx[child];
        idx[child] = t;
        root = child;
    }
}

void qlow__sort_indices(uint32_t *idx, size_t n, qlow__cmp_fn cmp, const void *ctx)
{
    if (n < 2) return;
    for (size_t i = n / 2; i-- > 0;) sift_down(idx, i, n, cmp, ctx);
    for (size_t end = n - 1; end > 0; end--) {
        uint32_t t = idx[0];
        idx[0] = idx[end];
        idx[end] = t;
        sift_down(idx, 0, end, cmp, ctx);
    }
}

qlow_status qlow__find_by_name(const uint32_t *order, size_t n, qlow__name_fn name_of, const void *ctx,
                               const char *name, size_t *index)
{
    size_t len = strlen(name), lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, mlen = 0;
        const char *mname = name_of(ctx, order[mid], &mlen);
        int c = qlow__bytes_cmp(mname, mlen, name, len);
        if (c == 0) {
            *index = order[mid];
            return QLOW_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return QLOW_E_NOT_FOUND;
}
