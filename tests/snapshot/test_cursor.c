/* Unit tests of cursor.c: LEB128 numbers at every length and at 2^64's edge, zigzag signed
 * numbers, strings, ranges; every read cut short fails with the section's name and the
 * offset; the first failure is the one kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cursor.h"

static struct lts_error err;

static struct lts_cursor over(const uint8_t *bytes, size_t n)
{
    memset(&err, 0, sizeof(err));
    return (struct lts_cursor){bytes, bytes + n, bytes, "BLOCKS", &err, false, NULL, NULL};
}

static size_t put_uv(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    do {
        out[n] = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
        n++;
        v >>= 7;
    } while (v);
    return n;
}

static void test_numbers(void **state)
{
    (void)state;
    const uint64_t values[] = {0, 1, 127, 128, 300, 1u << 20, (1ull << 35) - 1, 1ull << 56,
                               UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        uint8_t b[10];
        size_t n = put_uv(b, values[i]);
        struct lts_cursor c = over(b, n);
        uint64_t v = 0;
        assert_true(lts_get_uv(&c, &v));
        assert_true(v == values[i]);
        assert_ptr_equal(c.p, c.end);
        for (size_t cut = 0; cut < n; cut++) { /* every cut: truncated, at the cut */
            c = over(b, cut);
            assert_false(lts_get_uv(&c, &v));
            assert_string_equal(err.message, "truncated BLOCKS section");
            assert_int_equal(err.offset, cut);
            assert_true(err.has_offset);
        }
    }
    /* a tenth byte above 1 would be past 2^64 */
    uint8_t big[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    struct lts_cursor c = over(big, sizeof(big));
    uint64_t v;
    assert_false(lts_get_uv(&c, &v));
    assert_string_equal(err.message, "number too large in BLOCKS section");
    /* zigzag: 0, -1, 1, -2, ... */
    const uint8_t zz[] = {0, 1, 2, 3, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    c = over(zz, sizeof(zz));
    const int64_t want[] = {0, -1, 1, -2, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < 6; i++) {
        int64_t s;
        assert_true(lts_get_sv(&c, &s));
        assert_true(s == want[i]);
    }
}

static void test_ranges_and_strings(void **state)
{
    (void)state;
    uint8_t b[32];
    size_t n = put_uv(b, 65);
    struct lts_cursor c = over(b, n);
    uint32_t v;
    assert_false(lts_get_u32_max(&c, &v, 64, "depth"));
    assert_string_equal(err.message, "depth 65 out of range in BLOCKS section");
    /* the first failure is kept; later reads fail too, and say nothing new */
    uint8_t u8;
    assert_false(lts_get_u8(&c, &u8));
    assert_string_equal(err.message, "depth 65 out of range in BLOCKS section");

    b[0] = 5;
    memcpy(b + 1, "hello", 5);
    c = over(b, 6);
    const char *s = (const char *)1;
    size_t len = 0;
    assert_true(lts_get_str(&c, &s, &len)); /* validating: no allocator, no copy */
    assert_null(s);
    assert_int_equal(len, 5);
    c = over(b, 6);
    const uint8_t *view;
    assert_true(lts_get_str_view(&c, &view, &len));
    assert_memory_equal(view, "hello", 5);
    c = over(b, 5); /* one byte short */
    assert_false(lts_get_str_view(&c, &view, &len));
    assert_string_equal(err.message, "string longer than its BLOCKS section");
    assert_int_equal(err.offset, 1);
}

static void *no_memory(void *ctx, size_t n)
{
    (void)ctx, (void)n;
    return NULL;
}

static void *from_heap(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void test_allocator(void **state)
{
    (void)state;
    uint8_t b[] = {2, 'o', 'k'};
    struct lts_cursor c = over(b, sizeof(b));
    c.alloc = from_heap;
    const char *s = NULL;
    assert_true(lts_get_str(&c, &s, NULL));
    assert_string_equal(s, "ok"); /* a NUL-terminated copy */
    assert_ptr_not_equal(s, (const char *)b + 1);
    free((void *)s);
    c = over(b, sizeof(b));
    c.alloc = no_memory;
    assert_false(lts_get_str(&c, &s, NULL));
    assert_string_equal(err.message, "out of memory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_ranges_and_strings),
        cmocka_unit_test(test_allocator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
