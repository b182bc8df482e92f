/* Unit tests of the content module's counting over many buffers: the bounded histogram's
 * promises (a kept string's count is exact, or bounded by its uncounted part; a string not
 * kept was seen at most `floor` times) against exact counts, and the field view gathered one
 * buffer at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "content.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const struct content_entry *lookup(const struct content_entry *e, size_t n,
                                          const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].len == strlen(text) && !memcmp(e[i].text, text, e[i].len))
            return &e[i];
    return NULL;
}

/* Ten strings in every block from the first on, among 100,000 that occur once: the ten are
 * counted exactly although most of the others are dropped. */
static void frequent_strings_stay_exact(void **state)
{
    (void)state;
    struct content_histogram *h = content_histogram_new_bounded(256);
    char text[32];
    for (int block = 0; block < 10000; block++) {
        for (int k = 0; k < 10; k++) {
            snprintf(text, sizeof(text), "field%d=value", k);
            content_histogram_add(h, text, strlen(text));
            snprintf(text, sizeof(text), "id=%d-%d", block, k);
            content_histogram_add(h, text, strlen(text));
        }
    }
    assert_int_equal(content_histogram_total(h), 200000);
    assert_true(content_histogram_floor(h) >= 1);
    size_t n;
    const struct content_entry *e = content_histogram_sorted(h, &n);
    assert_true(n <= 256);
    for (int k = 0; k < 10; k++) {
        assert_int_equal(e[k].count, 10000);
        assert_int_equal(e[k].uncounted, 0);
    }
    assert_true(n == 10 || e[10].count <= 1 + e[10].uncounted);
    content_histogram_free(h);
}

/* Random streams with a skewed distribution: every promise holds for every string. */
static void bounds_hold_against_exact_counts(void **state)
{
    (void)state;
    enum { DISTINCT = 5000, ADDED = 200000 };
    for (int round = 0; round < 5; round++) {
        static uint64_t truth[DISTINCT];
        memset(truth, 0, sizeof(truth));
        struct content_histogram *h = content_histogram_new_bounded(64u << round);
        char text[16];
        for (int i = 0; i < ADDED; i++) {
            /* skewed: low numbers far more often, and a late burst of one string */
            unsigned v = (unsigned)(next_random() % DISTINCT);
            v = (unsigned)((uint64_t)v * v / DISTINCT);
            if (i > ADDED / 2 && i % 7 == 0)
                v = DISTINCT - 1;
            truth[v]++;
            snprintf(text, sizeof(text), "s%u", v);
            content_histogram_add(h, text, strlen(text));
        }
        uint64_t floor = content_histogram_floor(h);
        size_t n;
        const struct content_entry *e = content_histogram_sorted(h, &n);
        for (unsigned v = 0; v < DISTINCT; v++) {
            snprintf(text, sizeof(text), "s%u", v);
            const struct content_entry *got = lookup(e, n, text);
            if (got) {
                assert_true(got->count <= truth[v]);
                assert_true(truth[v] <= got->count + got->uncounted);
            } else {
                assert_true(truth[v] <= floor);
            }
        }
        /* the late burst (ADDED / 14 times) is kept, and sorted in by what it counted */
        snprintf(text, sizeof(text), "s%u", DISTINCT - 1);
        assert_non_null(lookup(e, n, text));
        content_histogram_free(h);
    }
}

/* An unbounded histogram never drops anything. */
static void unbounded_keeps_everything(void **state)
{
    (void)state;
    struct content_histogram *h = content_histogram_new();
    char text[16];
    for (int i = 0; i < 50000; i++) {
        snprintf(text, sizeof(text), "u%d", i);
        content_histogram_add(h, text, strlen(text));
    }
    size_t n;
    content_histogram_sorted(h, &n);
    assert_int_equal(n, 50000);
    assert_int_equal(content_histogram_floor(h), 0);
    content_histogram_free(h);
}

/* Objects {vtable, heap pointer, "GET"/"SET" key, a counter}: gathered one at a time. */
static void fields_one_buffer_at_a_time(void **state)
{
    (void)state;
    struct content_fields *fs = content_fields_new(8, 8);
    assert_non_null(fs);
    for (int i = 0; i < 1000; i++) {
        uint8_t obj[40] = {0};
        uint64_t vtable = 0x555555554000ull + 0x10, heap = 0x7f0000001000ull + 64u * (unsigned)i;
        uint64_t counter = (uint64_t)i * 3 + 1;
        memcpy(obj, &vtable, 8);
        memcpy(obj + 8, &heap, 8);
        memcpy(obj + 16, i % 4 == 3 ? "SET" : "GET", 3);
        memcpy(obj + 24, &counter, 8);
        content_fields_add(fs, obj, i % 10 == 0 ? 32 : sizeof(obj)); /* some cut shorter */
    }
    content_fields_add(fs, (const uint8_t *)"short", 5); /* reaches no word */
    size_t n;
    const struct content_field *f = content_fields_result(fs, &n);
    assert_int_equal(n, 5);
    assert_int_equal(f[0].kind, CONTENT_FIELD_CONSTANT);
    assert_int_equal(f[0].value, 0x555555554010ull);
    assert_int_equal(f[0].buffers, 1000);
    assert_int_equal(f[1].kind, CONTENT_FIELD_VARYING);
    assert_true(f[1].aligned);
    assert_int_equal(f[1].min, 0x7f0000001000ull);
    assert_int_equal(f[1].max, 0x7f0000001000ull + 64u * 999);
    assert_int_equal(f[2].kind, CONTENT_FIELD_TEXT);
    size_t nt;
    const struct content_entry *t = content_histogram_sorted(f[2].tokens, &nt);
    assert_int_equal(nt, 2);
    assert_string_equal(t[0].text, "GET");
    assert_int_equal(t[0].count, 750);
    assert_int_equal(t[1].count, 250);
    assert_int_equal(f[3].kind, CONTENT_FIELD_VARYING);
    assert_false(f[3].aligned);
    assert_int_equal(f[4].buffers, 900);
    content_fields_free(fs);
}

/* A 32-bit process's objects {vtable, counter, "GET"}: 4-byte words. */
static void fields_of_four_byte_words(void **state)
{
    (void)state;
    struct content_fields *fs = content_fields_new(8, 4);
    assert_non_null(fs);
    for (uint32_t i = 0; i < 100; i++) {
        uint8_t obj[12] = {0};
        uint32_t vtable = 0x56557010, counter = 2 * i + 1;
        memcpy(obj, &vtable, 4);
        memcpy(obj + 4, &counter, 4);
        memcpy(obj + 8, "GET", 3);
        content_fields_add(fs, obj, sizeof(obj));
    }
    size_t n;
    const struct content_field *f = content_fields_result(fs, &n);
    assert_int_equal(content_fields_word(fs), 4);
    assert_int_equal(n, 3);
    assert_int_equal(f[0].kind, CONTENT_FIELD_CONSTANT);
    assert_int_equal(f[0].value, 0x56557010);
    assert_int_equal(f[1].kind, CONTENT_FIELD_VARYING);
    assert_int_equal(f[1].offset, 4);
    assert_int_equal(f[2].kind, CONTENT_FIELD_TEXT);
    assert_int_equal(f[2].offset, 8);
    content_fields_free(fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frequent_strings_stay_exact),
        cmocka_unit_test(bounds_hold_against_exact_counts),
        cmocka_unit_test(unbounded_keeps_everything),
        cmocka_unit_test(fields_one_buffer_at_a_time),
        cmocka_unit_test(fields_of_four_byte_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
