/* test_sort.c — lt_sort_u64 against qsort: every length up to 70 and a large one, random and
 * ordered and constant keys, with and without values carried along. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sort.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Keys of one of four shapes; values record each key's original position. */
static void fill(uint64_t *keys, uint64_t *values, size_t n, int shape, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) {
        switch (shape) {
        case 0: keys[i] = ((uint64_t)rand_r(seed) << 32) ^ (uint64_t)rand_r(seed); break;
        case 1: keys[i] = i; break;
        case 2: keys[i] = n - i; break;
        default: keys[i] = (uint64_t)rand_r(seed) % 4; break; /* many equal keys */
        }
        values[i] = i;
    }
}

static void check(size_t n, int shape, unsigned *seed, bool with_values)
{
    uint64_t *keys = malloc((n + 1) * sizeof(*keys)), *values = malloc((n + 1) * sizeof(*values));
    uint64_t *orig = malloc((n + 1) * sizeof(*orig)), *want = malloc((n + 1) * sizeof(*want));
    assert_non_null(keys && values && orig && want);
    fill(keys, values, n, shape, seed);
    memcpy(orig, keys, n * sizeof(*keys));
    memcpy(want, keys, n * sizeof(*keys));
    qsort(want, n, sizeof(*want), cmp_u64);
    lt_sort_u64(keys, with_values ? values : NULL, n);
    assert_memory_equal(keys, want, n * sizeof(*keys));
    for (size_t i = 0; with_values && i < n; i++)
        assert_int_equal(orig[values[i]], keys[i]); /* each value stayed with its key */
    for (size_t i = 0; !with_values && i < n; i++)
        assert_int_equal(values[i], i); /* untouched */
    free(keys), free(values), free(orig), free(want);
}

static void test_every_small_length(void **state)
{
    (void)state;
    unsigned seed = 7;
    for (size_t n = 0; n <= 70; n++)
        for (int shape = 0; shape < 4; shape++) {
            check(n, shape, &seed, true);
            check(n, shape, &seed, false);
        }
}

static void test_large(void **state)
{
    (void)state;
    unsigned seed = 11;
    for (int shape = 0; shape < 4; shape++)
        check(100003, shape, &seed, shape % 2 == 0);
}

/* The lower bound against a linear search, on every key around every element of sorted
 * arrays with runs of equal keys, of every length up to 40. */
static void test_lower_bound(void **state)
{
    (void)state;
    uint64_t keys[40];
    for (size_t n = 0; n <= 40; n++) {
        for (size_t i = 0; i < n; i++)
            keys[i] = 10 * (i / 3) + 5; /* 5 5 5 15 15 15 ... */
        for (uint64_t key = 0; key <= 10 * (n / 3) + 20; key++) {
            size_t want = 0;
            while (want < n && keys[want] < key)
                want++;
            assert_int_equal(lt_sorted_lower_bound(keys, n, key), want);
        }
    }
    uint64_t top[] = {0, UINT64_MAX - 1, UINT64_MAX};
    assert_int_equal(lt_sorted_lower_bound(top, 3, UINT64_MAX), 2);
    assert_int_equal(lt_sorted_lower_bound(top, 3, 1), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_small_length),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_lower_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
