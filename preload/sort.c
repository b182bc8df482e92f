/* sort.c — see sort.h. */
#include "sort.h"

#include "log.h"

static void swap(uint64_t *a, size_t i, size_t j)
{
    uint64_t t = a[i];
    a[i] = a[j];
    a[j] = t;
}

/* Moves keys[at] down the max-heap of the first n keys until both children are smaller. */
static void sift_down(uint64_t *keys, uint64_t *values, size_t at, size_t n)
{
    for (;;) {
        size_t child = 2 * at + 1;
        if (child >= n)
            return;
        if (child + 1 < n && keys[child + 1] > keys[child])
            child++;
        if (keys[at] >= keys[child])
            return;
        swap(keys, at, child);
        if (values)
            swap(values, at, child);
        at = child;
    }
}

void lt_sort_u64(uint64_t *keys, uint64_t *values, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(keys, values, i, n);
    for (size_t end = n; end > 1; end--) {
        swap(keys, 0, end - 1);
        if (values)
            swap(values, 0, end - 1);
        sift_down(keys, values, 0, end - 1);
    }
#ifdef LT_DEBUG_ASSERTS
    for (size_t i = 1; i < n; i++)
        LT_ASSERT(keys[i - 1] <= keys[i]);
#endif
}

size_t lt_sorted_lower_bound(const uint64_t *keys, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
