/* kvsort.c - heap sort of (key, weight) pairs: bounded stack, no allocation, deterministic. */
#include "quant/rowquant.h"

static void sift_down(qlow__kv *a, int64_t root, int64_t n)
{
    for (;;) {
        int64_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && a[child].key < a[child + 1].key) child++;
        if (!(a[root].key < a[child].key)) return;
        qlow__kv t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

void qlow__kv_sort(qlow__kv *a, int64_t n)
{
    for (int64_t start = n / 2 - 1; start >= 0; start--) sift_down(a, start, n);
    for (int64_t end = n - 1; end > 0; end--) {
        qlow__kv t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}
