/* test_retention.c — retention.c, a root's chain to a reachable block, on a snapshot built
 * in memory (model_fixture.h) whose cache is a list: a global holds its first block, each
 * block the next. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model_fixture.h"
#include "retention.h"

/* The last cache block: five links from the global, each found in the one before. */
static void test_chain_from_the_global(void **state)
{
    (void)state;
    struct lts_snapshot *s = fixture_snapshot(
        &(struct spec){.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .reach = true});
    const struct lts_block **index = retention_index(s);
    assert_non_null(index);
    uint64_t first = FIRST_BLOCK + 30 * 0x100;
    for (uint32_t k = 0; k < CACHE_BLOCKS; k++) {
        struct retention r;
        uint64_t addr = first + k * 0x1000;
        assert_int_equal(retention_trace(s, index, addr, &r), 0);
        assert_int_equal(r.hops, k + 1);
        assert_int_equal(r.links[r.nlinks - 1].addr, addr);
        assert_int_equal(r.links[0].addr, first);
        assert_non_null(r.links[0].block);
        assert_int_equal(r.links[0].block->size, CACHE_SIZE);
        assert_non_null(r.root);
        assert_int_equal(r.root->type, LT_ROOT_TYPE_MAPPING);
        assert_int_equal(r.root_word, GLOBALS + 8);
    }
    free(index);
    lts_close(s);
    fixture_release(NULL);
}

/* A lost block, or an address that is no block, has no chain. */
static void test_no_chain(void **state)
{
    (void)state;
    struct lts_snapshot *s = fixture_snapshot(
        &(struct spec){.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .reach = true});
    const struct lts_block **index = retention_index(s);
    assert_non_null(index);
    struct retention r;
    assert_int_equal(retention_trace(s, index, FIRST_BLOCK, &r), -1);
    assert_int_equal(retention_trace(s, index, FIRST_BLOCK + 29 * 0x100, &r), -1);
    assert_int_equal(retention_trace(s, index, 0x1234, &r), -1);
    free(index);
    lts_close(s);
    fixture_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_from_the_global),
        cmocka_unit_test(test_no_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
