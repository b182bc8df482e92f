/* test_model.c — model.c, everything a renderer shows, on snapshots built in memory
 * (model_fixture.h): which groups are shown (--top, --min-bytes, --lost), the chain that
 * keeps a shown reachable group alive, the newest snapshot's totals. */
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

static void test_shown(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK, .top = 1});
    assert_true(model_shows(&m, 0));
    assert_false(model_shows(&m, 1));
    fixture_release(&m);
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK, .min_bytes = 4000});
    assert_true(model_shows(&m, 0));  /* the cache, 5,000 bytes */
    assert_false(model_shows(&m, 1)); /* the leak, 3,000 */
    fixture_release(&m);
}

/* --lost shows the groups with lost blocks only; a shown reachable group gets its chain. */
static void test_lost_and_retained(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .reach = true};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    const struct group *leak = fixture_group_of(&m.grouping, 1),
                       *cache = fixture_group_of(&m.grouping, 2);
    assert_int_equal(m.lost_groups, 1);
    /* the cache's example is its first block, held by the global itself */
    assert_non_null(cache->retained);
    assert_non_null(cache->retained->root);
    assert_int_equal(cache->retained->root->type, LT_ROOT_TYPE_MAPPING);
    assert_int_equal(cache->retained->root_word, GLOBALS + 8);
    assert_int_equal(cache->retained->hops, 1);
    assert_null(leak->retained);
    fixture_release(&m);
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK, .lost_only = true});
    for (size_t i = 0; i < m.grouping.ngroups; i++)
        assert_int_equal(model_shows(&m, i), m.grouping.groups[i].stack == 1);
    fixture_release(&m);
}

/* The newest snapshot's totals and its thread inventory. */
static void test_totals_and_threads(void **state)
{
    (void)state;
    struct spec sp[2] = {{.time_ns = 1000, .leak_blocks = 10, .cache_blocks = CACHE_BLOCKS},
                         {.time_ns = 2000, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS}};
    struct model m;
    fixture_model(&m, sp, 2, &(struct model_options){.group.by = GROUP_BY_STACK});
    assert_int_equal(m.nsnaps, 2);
    assert_int_equal(m.live_blocks, 30 + CACHE_BLOCKS);
    assert_int_equal(m.live_bytes, 30 * LEAK_SIZE + CACHE_BLOCKS * CACHE_SIZE);
    /* three threads of three name families: main, worker-*, cache-* */
    assert_int_equal(m.threads.alive, 3);
    assert_int_equal(m.threads.nfamilies, 3);
    fixture_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shown),
        cmocka_unit_test(test_lost_and_retained),
        cmocka_unit_test(test_totals_and_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
