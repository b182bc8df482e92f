/* test_model.c — the report's core (group.c through model.c) on snapshots built in memory
 * with the snapshot library, no shim: exact sums per group, the weights of a sampled
 * snapshot, --min-age, grouping by thread family, the series of three snapshots, and the
 * census's --grep counts. Every
 * expectation comes from the blocks the test writes, not from the code under test. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "format.h"
#include "model.h"
#include "reader.h"
#include "record.h"
#include "retention.h"
#include "writer.h"

/* Two stacks of one frame each: a growing "leak" and a constant "cache". */
#define LEAK_FRAME 0x401000u
#define CACHE_FRAME 0x402000u
#define LEAK_SIZE 100u
#define CACHE_SIZE 1000u
#define CACHE_BLOCKS 5u
#define GLOBALS 0x600000u /* the writable mapping that holds the cache's head */

struct spec {
    uint64_t time_ns;
    uint32_t leak_blocks;     /* of LEAK_SIZE bytes from the leak stack, in thread 1 */
    uint32_t cache_blocks;    /* of CACHE_SIZE bytes from the cache stack, in thread 2 */
    uint64_t sample_interval; /* 0: every block recorded */
    bool census;              /* a sample of every leak block: the article's requests */
    bool reach;               /* a reachability scan: the leak lost, the cache held by a
                                 global through a chain of its blocks */
};

static uint8_t *images[8];
static size_t nimages;

/* A snapshot as the shim writes one, with what these tests need, parsed from memory. */
static struct lts_snapshot *build(const struct spec *sp)
{
    int fd = memfd_create("model", 0);
    assert_true(fd >= 0);
    static char buf[4096];
    struct lts_writer w;
    lts_writer_init(&w, fd, buf, sizeof(buf));
    lts_writer_begin(&w, LT_SECTION_META);
    lts_put_meta_uint(&w, "pid", 4242);
    lts_put_meta_uint(&w, "time_unix_ns", sp->time_ns);
    lts_put_meta_text(&w, "exe", "server", 6);
    lts_put_meta_text(&w, "reason", "test", 4);
    lts_put_meta_uint(&w, "pointer_bits", 64);
    if (sp->sample_interval)
        lts_put_meta_uint(&w, "sample_interval_bytes", sp->sample_interval);
    lts_writer_end(&w);
    static const uint64_t leak_frames[] = {LEAK_FRAME}, cache_frames[] = {CACHE_FRAME};
    lts_writer_begin(&w, LT_SECTION_STACKS);
    lts_put_stack(&w, &(struct lts_stack){0, NULL});
    lts_put_stack(&w, &(struct lts_stack){1, leak_frames});
    lts_put_stack(&w, &(struct lts_stack){1, cache_frames});
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_THREADS);
    const char *names[] = {"main", "worker-1", "cache-0"};
    for (uint32_t i = 0; i < 3; i++)
        lts_put_thread(
            &w, &(struct lts_thread){.idx = i, .tid = 100 + i, .name = names[i], .state = 1});
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_BLOCKS);
    uint64_t addr = 0x10000000;
    for (uint32_t i = 0; i < sp->leak_blocks; i++, addr += 0x100)
        lts_put_block(&w, &(struct lts_block){addr, LEAK_SIZE, 1, 1, /* age */ i * 100, 0});
    for (uint32_t i = 0; i < sp->cache_blocks; i++, addr += 0x1000)
        lts_put_block(&w, &(struct lts_block){addr, CACHE_SIZE, 2, 2, 50, 0});
    lts_writer_end(&w);
    if (sp->census) {
        /* block i holds "GET /q?channelid=4099&seq=i" (every third: channelid=4100), twice */
        lts_writer_begin(&w, LT_SECTION_SAMPLES);
        for (uint32_t i = 0; i < sp->leak_blocks; i++) {
            char text[LEAK_SIZE];
            int n = snprintf(text, sizeof(text), "GET /q?channelid=%d&seq=%u GET channelid=%d",
                             i % 3 ? 4099 : 4100, i, i % 3 ? 4099 : 4100);
            lts_put_sample(&w, &(struct lts_sample){0x10000000 + (uint64_t)i * 0x100, 1,
                                                    (uint32_t)n, (const uint8_t *)text});
        }
        lts_writer_end(&w);
    }
    if (sp->reach) {
        /* REACH is in address order: the leak's blocks first, then the cache's */
        lts_writer_begin(&w, LT_SECTION_REACH_SCAN);
        lts_put_reach_scan(
            &w, &(struct lts_reach_scan){
                    .status = 0, .why = "", .blocks = sp->leak_blocks + sp->cache_blocks});
        lts_writer_end(&w);
        lts_writer_begin(&w, LT_SECTION_REACH_ROOTS);
        lts_put_reach_root(
            &w, &(struct lts_reach_root){LT_ROOT_TYPE_MAPPING, 0, GLOBALS, GLOBALS + 0x1000});
        lts_writer_end(&w);
        lts_writer_begin(&w, LT_SECTION_REACH);
        uint64_t a = 0x10000000;
        for (uint32_t i = 0; i < sp->leak_blocks; i++, a += 0x100)
            lts_put_reach(&w,
                          &(struct lts_reach){a, LT_VERDICT_DEFINITELY_LOST, LT_VIA_NONE, 0, 0});
        /* cache[0] from the global at GLOBALS+8, cache[i] from cache[i-1]'s first word */
        for (uint32_t i = 0; i < sp->cache_blocks; i++, a += 0x1000)
            lts_put_reach(&w, &(struct lts_reach){
                                  a, LT_VERDICT_REACHABLE, i ? LT_VIA_BLOCK : LT_VIA_ROOT,
                                  i ? sp->leak_blocks + i - 1 : 0, i ? a - 0x1000 : GLOBALS + 8});
        lts_writer_end(&w);
    }
    lts_writer_begin(&w, LT_SECTION_COUNTERS);
    lts_put_counter(&w, "live_blocks", sp->leak_blocks + sp->cache_blocks);
    lts_put_counter(&w, "live_bytes",
                    (uint64_t)sp->leak_blocks * LEAK_SIZE +
                        (uint64_t)sp->cache_blocks * CACHE_SIZE);
    lts_writer_end(&w);
    assert_int_equal(lts_writer_finish(&w), 0); /* and END */
    off_t size = lseek(fd, 0, SEEK_END);
    assert_true(size > 0);
    uint8_t *image = malloc((size_t)size);
    assert_int_equal(pread(fd, image, (size_t)size, 0), size);
    close(fd);
    images[nimages++] = image; /* the parsed snapshot points into it */
    struct lts_snapshot *s = NULL;
    struct lts_error err;
    if (lts_parse(image, (size_t)size, &s, &err) != 0)
        fail_msg("lts_parse: %s", err.message);
    return s;
}

static void build_model(struct model *m, const struct spec *specs, size_t n,
                        const struct model_options *opt)
{
    struct analysis *snaps = calloc(n, sizeof(*snaps));
    assert_non_null(snaps);
    for (size_t i = 0; i < n; i++) {
        snaps[i].path = "in memory";
        snaps[i].snap = build(&specs[i]);
    }
    FILE *warn = fopen("/dev/null", "w");
    struct lts_error err;
    if (model_build(m, snaps, n, opt, warn, &err) != 0)
        fail_msg("model_build: %s", err.message);
    fclose(warn);
}

static void release(struct model *m)
{
    model_free(m); /* the snapshots and the analysis array with them */
    while (nimages)
        free(images[--nimages]);
}

/* The group whose representative stack is `stack` (1: leak, 2: cache). */
static const struct group *group_of(const struct model *m, uint32_t stack)
{
    for (size_t i = 0; i < m->grouping.ngroups; i++)
        if (m->grouping.groups[i].stack == stack)
            return &m->grouping.groups[i];
    fail_msg("no group of stack %u", stack);
    return NULL;
}

static void test_exact_sums(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    build_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    assert_int_equal(m.grouping.ngroups, 2);
    const struct group *leak = group_of(&m, 1), *cache = group_of(&m, 2);
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
    release(&m);
}

static void test_min_age(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    /* leak ages are 0, 100, ..., 2900 cs: 15 of them are at least 1500 cs old; the cache's
     * 50 cs are too young */
    build_model(&m, &sp, 1,
                &(struct model_options){.group.by = GROUP_BY_STACK, .group.min_age_cs = 1500});
    assert_int_equal(m.grouping.ngroups, 1);
    const struct group *leak = group_of(&m, 1);
    assert_int_equal(leak->blocks, 15);
    assert_int_equal(leak->bytes, 15 * LEAK_SIZE);
    assert_int_equal(leak->min_age_cs, 1500);
    release(&m);
}

static void test_by_thread_family(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 7, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    build_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_THREAD});
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
    release(&m);
}

/* Each sampled block stands for 1 / P(sampled) = 1 / (1 - e^(-size/mean)) blocks. */
static void test_sampled_weights(void **state)
{
    (void)state;
    const uint64_t mean = 512 * 1024;
    struct spec sp = {
        .time_ns = 1, .leak_blocks = 40, .cache_blocks = CACHE_BLOCKS, .sample_interval = mean};
    struct model m;
    build_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    const struct group *leak = group_of(&m, 1), *cache = group_of(&m, 2);
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
    release(&m);
}

/* Three snapshots: the leak grows by 10 blocks each time, the cache stays. */
static void test_series_of_three(void **state)
{
    (void)state;
    struct spec sp[3] = {{.time_ns = 1000, .leak_blocks = 10, .cache_blocks = CACHE_BLOCKS},
                         {.time_ns = 2000, .leak_blocks = 20, .cache_blocks = CACHE_BLOCKS},
                         {.time_ns = 3000, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS}};
    struct model m;
    build_model(&m, sp, 3, &(struct model_options){.group.by = GROUP_BY_STACK});
    assert_int_equal(m.grouping.nsnapshots, 3);
    assert_int_equal(m.grouping.ngroups, 2);
    const struct group *leak = group_of(&m, 1), *cache = group_of(&m, 2);
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
    release(&m);
}

/* --top and --min-bytes decide what is shown, after sorting. */
static void test_shown(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    build_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK, .top = 1});
    assert_true(model_shows(&m, 0));
    assert_false(model_shows(&m, 1));
    release(&m);
    build_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK, .min_bytes = 4000});
    assert_true(model_shows(&m, 0));  /* the cache, 5,000 bytes */
    assert_false(model_shows(&m, 1)); /* the leak, 3,000 */
    release(&m);
}

/* The census (census.c): --grep counts every match and, per block, each distinct one once;
 * strings are counted over every sample of the shown groups only. */
static void test_census_grep(void **state)
{
    (void)state;
    struct lts_error err;
    struct content_regex *re = content_regex_compile("channelid=\\d+", &err);
    assert_non_null(re);
    struct spec sp = {
        .time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .census = true};
    struct model m;
    build_model(&m, &sp, 1,
                &(struct model_options){.group.by = GROUP_BY_STACK,
                                        .group.grep = re,
                                        .count_contents = true,
                                        .keep_samples = 2});
    const struct group *leak = group_of(&m, 1), *cache = group_of(&m, 2);
    assert_int_equal(leak->nsamples, 30);
    assert_int_equal(leak->grep_searched, 30);
    assert_int_equal(leak->grep_matched, 30);
    /* blocks 0, 3, ..., 27 say 4100 (10 of them), the other 20 say 4099; twice each */
    size_t n = 0, nb = 0;
    const struct content_entry *e = content_histogram_sorted(leak->matches, &n);
    const struct content_entry *b = content_histogram_sorted(leak->match_blocks, &nb);
    assert_int_equal(n, 2);
    assert_int_equal(nb, 2);
    assert_string_equal(e[0].text, "channelid=4099");
    assert_int_equal(e[0].count, 40);
    assert_string_equal(e[1].text, "channelid=4100");
    assert_int_equal(e[1].count, 20);
    assert_string_equal(b[0].text, "channelid=4099");
    assert_int_equal(b[0].count, 20);
    assert_int_equal(b[1].count, 10);
    /* the first two samples' bytes are kept for a renderer, the rest are not */
    assert_non_null(leak->samples[0].bytes);
    assert_non_null(leak->samples[1].bytes);
    assert_null(leak->samples[2].bytes);
    /* the cache has no samples: nothing counted */
    assert_int_equal(cache->grep_searched, 0);
    release(&m);
    content_regex_free(re);
}

/* A reachability scan: the split per group, --lost, and the chain that holds the cache. */
static void test_reach_and_retention(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .reach = true};
    struct model m;
    build_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    const struct group *leak = group_of(&m, 1), *cache = group_of(&m, 2);
    assert_true(leak->has_reach);
    assert_int_equal(leak->reach.blocks[LT_VERDICT_DEFINITELY_LOST], 30);
    assert_int_equal(leak->reach.bytes[LT_VERDICT_DEFINITELY_LOST], 30 * LEAK_SIZE);
    assert_int_equal(leak->reach.blocks[LT_VERDICT_REACHABLE], 0);
    assert_int_equal(cache->reach.blocks[LT_VERDICT_REACHABLE], CACHE_BLOCKS);
    assert_int_equal(cache->reach.blocks[LT_VERDICT_DEFINITELY_LOST], 0);
    assert_int_equal(m.lost_groups, 1);
    /* the cache's example is its first block, held by the global itself */
    assert_non_null(cache->retained);
    assert_non_null(cache->retained->root);
    assert_int_equal(cache->retained->root->type, LT_ROOT_TYPE_MAPPING);
    assert_int_equal(cache->retained->root_word, GLOBALS + 8);
    assert_int_equal(cache->retained->hops, 1);
    assert_null(leak->retained);
    /* the last cache block: five links from the global, each found in the one before */
    const struct lts_block **index = retention_index(m.snaps[0].snap);
    assert_non_null(index);
    struct retention r;
    uint64_t last = 0x10000000 + 30 * 0x100 + (CACHE_BLOCKS - 1) * 0x1000;
    assert_int_equal(retention_trace(m.snaps[0].snap, index, last, &r), 0);
    assert_int_equal(r.hops, CACHE_BLOCKS);
    assert_int_equal(r.links[r.nlinks - 1].addr, last);
    assert_int_equal(r.links[0].addr, 0x10000000 + 30 * 0x100);
    assert_non_null(r.links[0].block);
    assert_int_equal(r.links[0].block->size, CACHE_SIZE);
    /* a lost block has no chain */
    assert_int_equal(retention_trace(m.snaps[0].snap, index, 0x10000000, &r), -1);
    free(index);
    release(&m);
    /* --lost shows the groups with lost blocks only */
    build_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK, .lost_only = true});
    for (size_t i = 0; i < m.grouping.ngroups; i++)
        assert_int_equal(model_shows(&m, i), m.grouping.groups[i].stack == 1);
    release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_sums),       cmocka_unit_test(test_min_age),
        cmocka_unit_test(test_by_thread_family), cmocka_unit_test(test_sampled_weights),
        cmocka_unit_test(test_series_of_three),  cmocka_unit_test(test_shown),
        cmocka_unit_test(test_census_grep),      cmocka_unit_test(test_reach_and_retention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
