/* Unit tests of hashmap.c: number and byte-string keys through many growths, key 0, keys
 * that differ only in length, absent keys, and every slot visited once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hashmap.h"

static void test_numbers(void **state)
{
    (void)state;
    struct hashmap m = HASHMAP_INIT;
    assert_null(hashmap_find_number(&m, 0)); /* empty: nothing, no crash */
    const uint64_t n = 100000;
    for (uint64_t i = 0; i < n; i++) {
        bool inserted = false;
        struct hashmap_slot *s = hashmap_number(&m, i * 4096, &inserted); /* aligned keys */
        assert_non_null(s);
        assert_true(inserted);
        assert_int_equal(s->value, 0);
        s->value = i + 1;
    }
    assert_int_equal(m.count, n);
    for (uint64_t i = 0; i < n; i++) {
        struct hashmap_slot *s = hashmap_find_number(&m, i * 4096);
        assert_non_null(s);
        assert_int_equal(s->value, i + 1);
        bool inserted = true;
        assert_ptr_equal(hashmap_number(&m, i * 4096, &inserted), s);
        assert_false(inserted);
    }
    assert_null(hashmap_find_number(&m, 4096 * n));
    assert_null(hashmap_find_number(&m, 1));
    uint64_t visited = 0, sum = 0;
    hashmap_each(&m, s)
    {
        visited++;
        sum += s->value;
    }
    assert_int_equal(visited, n);
    assert_int_equal(sum, n * (n + 1) / 2);
    hashmap_free(&m);
}

static void test_bytes(void **state)
{
    (void)state;
    struct hashmap m = HASHMAP_INIT;
    static char keys[5000][16];
    for (int i = 0; i < 5000; i++) {
        snprintf(keys[i], sizeof(keys[i]), "channelid=%d", 4000 + i);
        struct hashmap_slot *s = hashmap_bytes(&m, keys[i], strlen(keys[i]), NULL);
        assert_non_null(s);
        s->value++;
    }
    /* a second copy of each key finds the same slot */
    for (int i = 0; i < 5000; i++) {
        char copy[16];
        memcpy(copy, keys[i], sizeof(copy));
        struct hashmap_slot *s = hashmap_find_bytes(&m, copy, strlen(copy));
        assert_non_null(s);
        assert_int_equal(s->value, 1);
        assert_int_equal(s->len, strlen(copy));
    }
    /* a prefix is another key; the empty key is a key */
    assert_null(hashmap_find_bytes(&m, "channelid=4", 11));
    assert_non_null(hashmap_bytes(&m, "", 0, NULL));
    assert_non_null(hashmap_find_bytes(&m, "", 0));
    assert_int_equal(m.count, 5001);
    hashmap_free(&m);
    assert_null(m.slots);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
