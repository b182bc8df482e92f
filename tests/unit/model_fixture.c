/* model_fixture.c — see model_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "content.h"
#include "format.h"
#include "model_fixture.h"
#include "record.h"
#include "writer.h"

static uint8_t *images[8];
static size_t nimages;

/* A snapshot as the shim writes one, with what these tests need, parsed from memory. */
struct lts_snapshot *fixture_snapshot(const struct spec *sp)
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
    uint64_t addr = FIRST_BLOCK;
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
            lts_put_sample(&w, &(struct lts_sample){FIRST_BLOCK + (uint64_t)i * 0x100, 1,
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
        uint64_t a = FIRST_BLOCK;
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

void fixture_model(struct model *m, const struct spec *specs, size_t n,
                   const struct model_options *opt)
{
    struct analysis *snaps = calloc(n, sizeof(*snaps));
    assert_non_null(snaps);
    for (size_t i = 0; i < n; i++) {
        snaps[i].path = "in memory";
        snaps[i].snap = fixture_snapshot(&specs[i]);
    }
    FILE *warn = fopen("/dev/null", "w");
    struct lts_error err;
    if (model_build(m, snaps, n, opt, warn, &err) != 0)
        fail_msg("model_build: %s", err.message);
    fclose(warn);
}

struct content_regex *fixture_census_model(struct model *m)
{
    struct lts_error err;
    struct content_regex *re = content_regex_compile(FIXTURE_GREP, &err);
    assert_non_null(re);
    struct spec sp = {
        .time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .census = true};
    fixture_model(m, &sp, 1,
                  &(struct model_options){.group.by = GROUP_BY_STACK,
                                          .group.grep = re,
                                          .grep_pattern = FIXTURE_GREP,
                                          .count_contents = true,
                                          .keep_samples = 2});
    return re;
}

void fixture_release(struct model *m)
{
    if (m)
        model_free(m); /* the snapshots and the analysis array with them */
    while (nimages)
        free(images[--nimages]);
}

const struct group *fixture_group_of(const struct grouping *g, uint32_t stack)
{
    for (size_t i = 0; i < g->ngroups; i++)
        if (g->groups[i].stack == stack)
            return &g->groups[i];
    fail_msg("no group of stack %u", stack);
    return NULL;
}

