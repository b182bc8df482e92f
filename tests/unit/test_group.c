/* test_group.c — group.c, blocks into groups and snapshots into series, on snapshots built in
 * memory (model_fixture.h): exact sums per group, --min-age, grouping by thread family, the
 * weights of a sampled snapshot, live totals, the series of three snapshots and its growth,
 * the reachability split. Grouping needs the model's frames and symbols, so most cases enter
 * through model_build; the weights, totals and a block's state are called alone. */
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

#include "group.h"
#include "model_fixture.h"

static void test_exact_sums(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    assert_int_equal(m.grouping.ngroups, 2);
    const struct group *leak = fixture_group_of(&m.grouping, 1), *cache = fixture_group_of(&m.grouping, 2);
    assert_int_equal(leak->blocks, 30);
    assert_int_equal(leak->bytes, 30 * LEAK_SIZE);
    assert_int_equal(leak->sampled_blocks, 30);
    assert_int_equal(cache->blocks, CACHE_BLOCKS);
    assert_int_equal(cache->bytes, CACHE_BLOCKS * CACHE_SIZE);
    assert_int_equal(leak->min_age_cs, 0);
    assert_int_equal(leak->max_age_cs, 29 * 100);
    /* sorted by bytes: the cache (5,000) before the leak (3,000) */
    assert_ptr_equal(&m.grouping.groups[0], cache);
    assert_int_equal(m.live_blocks, 30 + CACHE_BLOCKS);
    assert_int_equal(m.live_bytes, 30 * LEAK_SIZE + CACHE_BLOCKS * CACHE_SIZE);
    fixture_release(&m);
}

static void test_min_age(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    /* leak ages are 0, 100, ..., 2900 cs: 15 of them are at least 1500 cs old; the cache's
     * 50 cs are too young */
    fixture_model(&m, &sp, 1,
                &(struct model_options){.group.by = GROUP_BY_STACK, .group.min_age_cs = 1500});
    assert_int_equal(m.grouping.ngroups, 1);
    const struct group *leak = fixture_group_of(&m.grouping, 1);
    assert_int_equal(leak->blocks, 15);
    assert_int_equal(leak->bytes, 15 * LEAK_SIZE);
    assert_int_equal(leak->min_age_cs, 1500);
    fixture_release(&m);
}

static void test_by_thread_family(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 7, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_THREAD});
    assert_int_equal(m.grouping.ngroups, 2);
    for (size_t i = 0; i < m.grouping.ngroups; i++) {
        const struct group *g = &m.grouping.groups[i];
        if (strstr(g->key, "worker")) {
            assert_int_equal(g->blocks, 7);
            assert_int_equal(g->bytes, 7 * LEAK_SIZE);
        } else {
            assert_non_null(strstr(g->key, "cache"));
            assert_int_equal(g->blocks, CACHE_BLOCKS);
        }
    }
    fixture_release(&m);
}

static void test_sampled_weights(void **state)
{
    (void)state;
    const uint64_t mean = 512 * 1024;
    struct spec sp = {
        .time_ns = 1, .leak_blocks = 40, .cache_blocks = CACHE_BLOCKS, .sample_interval = mean};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    const struct group *leak = fixture_group_of(&m.grouping, 1), *cache = fixture_group_of(&m.grouping, 2);
    double w_leak = 1.0 / (1.0 - exp(-(double)LEAK_SIZE / (double)mean));
    double w_cache = 1.0 / (1.0 - exp(-(double)CACHE_SIZE / (double)mean));
    assert_int_equal(leak->sampled_blocks, 40);
    assert_true(fabs(leak->est_blocks - 40 * w_leak) < 1e-6 * 40 * w_leak);
    assert_true(fabs(leak->est_bytes - 40 * w_leak * LEAK_SIZE) < 1e-6 * 40 * w_leak * LEAK_SIZE);
    assert_true(fabs(cache->est_bytes - CACHE_BLOCKS * w_cache * CACHE_SIZE) <
                1e-6 * CACHE_BLOCKS * w_cache * CACHE_SIZE);
    /* the integer figures are the estimates, rounded */
    assert_true(llabs((long long)leak->bytes - llround(leak->est_bytes)) <= 1);
    assert_true(llabs((long long)leak->blocks - llround(leak->est_blocks)) <= 1);
    fixture_release(&m);
}

/* The weight of a recorded block, alone: 1 without sampling; 1 / (1 - e^(-size/mean)). */
static void test_block_weight(void **state)
{
    (void)state;
    assert_true(group_block_weight(100, 0) == 1.0);
    assert_true(fabs(group_block_weight(512 * 1024, 512 * 1024) - 1.0 / (1.0 - exp(-1.0))) < 1e-12);
    /* a block much larger than the mean is always sampled: weight 1 */
    assert_true(fabs(group_block_weight(100u << 20, 512 * 1024) - 1.0) < 1e-12);
    /* a tiny block stands for about mean / size blocks */
    assert_true(fabs(group_block_weight(1, 1u << 20) / (double)(1u << 20) - 1.0) < 1e-3);
}

/* Live totals of a snapshot: its counters when exact, the weighted sums when sampled. */
static void test_live_totals(void **state)
{
    (void)state;
    uint64_t blocks, bytes;
    struct lts_snapshot *s =
        fixture_snapshot(&(struct spec){.time_ns = 1, .leak_blocks = 30, .cache_blocks = 5});
    group_live_totals(s, &blocks, &bytes);
    assert_int_equal(blocks, 35);
    assert_int_equal(bytes, 30 * LEAK_SIZE + 5 * CACHE_SIZE);
    lts_close(s);
    const uint64_t mean = 4096;
    s = fixture_snapshot(
        &(struct spec){.time_ns = 1, .leak_blocks = 30, .cache_blocks = 5, .sample_interval = mean});
    group_live_totals(s, &blocks, &bytes);
    double est = 30 * LEAK_SIZE * group_block_weight(LEAK_SIZE, mean) +
                 5 * CACHE_SIZE * group_block_weight(CACHE_SIZE, mean);
    assert_true(llabs((long long)bytes - llround(est)) <= 1);
    assert_true(bytes > 30 * LEAK_SIZE + 5 * CACHE_SIZE); /* not the recorded sum */
    lts_close(s);
    fixture_release(NULL);
}

/* A reachability scan: each group's split, and the state of one block. */
static void test_reach_split(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .reach = true};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    const struct group *leak = fixture_group_of(&m.grouping, 1),
                       *cache = fixture_group_of(&m.grouping, 2);
    assert_true(m.grouping.has_reach);
    assert_true(leak->has_reach);
    assert_int_equal(leak->reach.blocks[LT_VERDICT_DEFINITELY_LOST], 30);
    assert_int_equal(leak->reach.bytes[LT_VERDICT_DEFINITELY_LOST], 30 * LEAK_SIZE);
    assert_int_equal(leak->reach.blocks[LT_VERDICT_REACHABLE], 0);
    assert_int_equal(cache->reach.blocks[LT_VERDICT_REACHABLE], CACHE_BLOCKS);
    assert_int_equal(cache->reach.blocks[LT_VERDICT_DEFINITELY_LOST], 0);
    assert_int_equal(m.grouping.reach.bytes[LT_VERDICT_DEFINITELY_LOST], 30 * LEAK_SIZE);
    assert_int_equal(m.grouping.reach.bytes[LT_VERDICT_REACHABLE], CACHE_BLOCKS * CACHE_SIZE);
    const struct lts_snapshot *s = m.snaps[0].snap;
    assert_int_equal(group_reach_state(s, FIRST_BLOCK), LT_VERDICT_DEFINITELY_LOST);
    assert_int_equal(group_reach_state(s, FIRST_BLOCK + 30 * 0x100), LT_VERDICT_REACHABLE);
    fixture_release(&m);
    /* without a scan: no split, and no state */
    sp.reach = false;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    assert_false(m.grouping.has_reach);
    assert_false(fixture_group_of(&m.grouping, 1)->has_reach);
    assert_int_equal(group_reach_state(m.snaps[0].snap, FIRST_BLOCK), -1);
    fixture_release(&m);
}

static void test_series_of_three(void **state)
{
    (void)state;
    struct spec sp[3] = {{.time_ns = 1000, .leak_blocks = 10, .cache_blocks = CACHE_BLOCKS},
                         {.time_ns = 2000, .leak_blocks = 20, .cache_blocks = CACHE_BLOCKS},
                         {.time_ns = 3000, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS}};
    struct model m;
    fixture_model(&m, sp, 3, &(struct model_options){.group.by = GROUP_BY_STACK});
    assert_int_equal(m.grouping.nsnapshots, 3);
    assert_int_equal(m.grouping.ngroups, 2);
    const struct group *leak = fixture_group_of(&m.grouping, 1), *cache = fixture_group_of(&m.grouping, 2);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(leak->series_blocks[i], 10 * (i + 1));
        assert_int_equal(leak->series_bytes[i], 10 * (i + 1) * LEAK_SIZE);
        assert_int_equal(cache->series_bytes[i], CACHE_BLOCKS * CACHE_SIZE);
    }
    assert_int_equal(leak->delta_blocks, 20);
    assert_int_equal(leak->delta_bytes, 20 * LEAK_SIZE);
    assert_true(leak->grew_every_interval);
    assert_int_equal(cache->delta_bytes, 0);
    assert_false(cache->grew_every_interval);
    /* with several snapshots, growth orders the groups: the leak first */
    assert_ptr_equal(&m.grouping.groups[0], leak);
    assert_ptr_equal(leak->from, &m.snaps[2]);
    fixture_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_sums),
        cmocka_unit_test(test_min_age),
        cmocka_unit_test(test_by_thread_family),
        cmocka_unit_test(test_sampled_weights),
        cmocka_unit_test(test_block_weight),
        cmocka_unit_test(test_live_totals),
        cmocka_unit_test(test_reach_split),
        cmocka_unit_test(test_series_of_three),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
