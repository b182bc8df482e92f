/* Unit tests of arena.c: every allocation 16-aligned and distinct, small and larger than a
 * chunk, merge moving every chunk, and one free releasing all (ASan's build checks that). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"

static void test_aligned_and_distinct(void **state)
{
    (void)state;
    struct lts_arena_chunk *a = NULL;
    uint8_t *last = NULL;
    size_t last_n = 0;
    for (size_t i = 0; i < 20000; i++) {
        size_t n = i % 97 == 0 ? (1u << 20) + i : i % 61; /* some larger than any chunk */
        uint8_t *p = lts_arena_alloc(&a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, (int)(i & 0xff), n); /* writable to its end */
        if (last && last_n)            /* the one before is untouched */
            assert_int_equal(last[last_n - 1], (uint8_t)((i - 1) & 0xff));
        last = p, last_n = n;
    }
    lts_arena_free(a);
    lts_arena_free(NULL);
}

static void test_merge(void **state)
{
    (void)state;
    struct lts_arena_chunk *a = NULL, *b = NULL;
    char *x = lts_arena_alloc(&a, 100), *y = lts_arena_alloc(&b, 5u << 20);
    assert_non_null(x);
    assert_non_null(y);
    strcpy(x, "kept in a");
    strcpy(y, "moved from b");
    lts_arena_merge(&a, &b);
    assert_null(b);
    assert_string_equal(x, "kept in a");
    assert_string_equal(y, "moved from b");
    lts_arena_merge(&a, &b); /* an empty one: nothing */
    lts_arena_free(a);        /* both, once: ASan says if not */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aligned_and_distinct),
        cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
