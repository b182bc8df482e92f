/* test_render_json.c — render_json.c, the JSON report of docs/REPORT.md ("JSON"), on models
 * built in memory (model_fixture.h): one valid document with the documented keys, groups by
 * bytes and only the shown ones listed; --diff's series; a reachability scan's totals, split
 * and retention chain; samples, strings and --grep counts of a census; and every string from
 * the snapshot escaped (bytes outside printable ASCII, and '<', as \u00XX). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "content.h"
#include "render.h"
#include "render_fixture.h"

/* A JSON report of the model: valid, and kept in c. */
static const char *report(struct capture *c, const struct model *m)
{
    render_json(capture_begin(c), m);
    const char *text = capture_end(c);
    assert_true(json_valid(text, c->size));
    return text;
}

/* Where needle is in text; fails the test when it is not. */
static const char *find(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);
    if (!p)
        fail_msg("not in the report: %s", needle);
    return p;
}

static void test_document_and_order(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 7000000000, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct capture c;
    const char *text = report(&c, &m);
    find(text, "\"format\": \"leaktag-report\"");
    find(text, "\"version\": 1");
    find(text, "\"process\": {\"pid\": 4242, \"exe\": \"server\"");
    find(text, "\"time_unix\": 7");
    find(text, "\"reason\": \"test\"");
    find(text, "\"sampled\": false");
    /* 30 x 100 + 5 x 1,000 bytes in 35 blocks, all of them shown */
    find(text, "\"totals\": {\"live_bytes\": 8000, \"live_blocks\": 35, \"shown_bytes\": 8000, "
               "\"shown_blocks\": 35");
    find(text, "\"grouping\": {\"by\": \"stack\", \"fold\": null");
    find(text, "\"groups\": 2");
    /* no scan, one snapshot: none of the keys that come with them */
    assert_null(strstr(text, "reachability"));
    assert_null(strstr(text, "\"compared\""));
    assert_null(strstr(text, "\"delta_bytes\""));
    assert_null(strstr(text, "\"retained_by\""));
    /* the cache (5,000 bytes) is rank 1, the leak (3,000) rank 2 */
    const char *first = find(text, "{\"rank\": 1,"), *second = find(text, "{\"rank\": 2,");
    const char *cache = find(text, "\"bytes\": 5000, \"blocks\": 5,");
    const char *leak = find(text, "\"bytes\": 3000, \"blocks\": 30,");
    assert_true(first < cache && cache < second && second < leak);
    find(text, "\"estimated\": false, \"sampled_blocks\": 30");
    /* the leak's blocks are 0 to 29 s old, the cache's 0.5 s */
    find(text, "\"min_age_s\": 0.00, \"max_age_s\": 29.00");
    find(text, "\"min_age_s\": 0.50, \"max_age_s\": 0.50");
    /* a frame in no module: named by its address, not symbolized, no file, no module */
    const char *frame = find(leak, "{\"function\": \"0x401000\"");
    find(frame, "\"file\": null");
    find(frame, "\"module\": null");
    find(frame, "\"address\": \"0x401000\"");
    find(frame, "\"symbolized\": false}");
    /* the leak's thread, worker-1 (family worker-*), owns all 30 blocks */
    find(leak, "\"threads\": 1, \"blocks\": 30, \"bytes\": 3000}");
    find(text, "{\"tid\": 101, \"name\": \"worker-1\", \"family\": \"worker-*\", \"alive\": true");
    capture_free(&c);
    fixture_release(&m);

    /* --top 1: one group listed, both counted */
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK, .top = 1});
    text = report(&c, &m);
    find(text, "\"groups\": 2");
    assert_int_equal(count_of(text, "\"rank\": "), 1);
    find(text, "{\"rank\": 1,");
    assert_null(strstr(text, "\"bytes\": 3000"));
    capture_free(&c);
    fixture_release(&m);
}

/* --diff: the leak grew from 10 to 30 blocks, the cache stayed. */
static void test_diff_series(void **state)
{
    (void)state;
    struct spec sp[2] = {{.time_ns = 1000000000, .leak_blocks = 10, .cache_blocks = CACHE_BLOCKS},
                         {.time_ns = 2000000000, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS}};
    struct model m;
    fixture_model(&m, sp, 2, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct capture c;
    const char *text = report(&c, &m);
    const char *compared = find(text, "\"compared\": [");
    const char *old = find(compared, "\"time_unix\": 1, \"live_bytes\": 6000}");
    const char *now = find(compared, "\"time_unix\": 2, \"live_bytes\": 8000}");
    assert_true(old < now);
    /* the suspect first, although the cache holds more */
    const char *first = find(text, "{\"rank\": 1,");
    const char *leak = find(text, "\"bytes\": 3000, \"blocks\": 30,");
    const char *second = find(text, "{\"rank\": 2,");
    assert_true(first < leak && leak < second);
    find(leak, "\"delta_bytes\": 2000, \"delta_blocks\": 20, \"grew_every_interval\": true, "
               "\"series_bytes\": [1000, 3000], \"series_blocks\": [10, 30]");
    find(second, "\"delta_bytes\": 0, \"delta_blocks\": 0, \"grew_every_interval\": false, "
                 "\"series_bytes\": [5000, 5000], \"series_blocks\": [5, 5]");
    capture_free(&c);
    fixture_release(&m);
}

/* A scan: the leak's 30 blocks definitely lost, the cache's 5 reachable from a global at
 * GLOBALS + 8 through the first of them. */
static void test_reachability(void **state)
{
    (void)state;
    struct spec sp = {
        .time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .reach = true};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct capture c;
    const char *text = report(&c, &m);
    find(text, "\"reachability_scan\": {\"ok\": true, \"error\": null");
    find(text, "\"blocks_scanned\": 35");
    find(text, "\"roots\": 1}");
    const char *totals = find(text, "\"totals\": {");
    find(totals, "\"reachability\": {\"definitely_lost\": {\"blocks\": 30, \"bytes\": 3000}, "
                 "\"indirectly_lost\": {\"blocks\": 0, \"bytes\": 0}, \"possibly_lost\": "
                 "{\"blocks\": 0, \"bytes\": 0}, \"reachable\": {\"blocks\": 5, \"bytes\": 5000}, "
                 "\"not_scanned\": {\"blocks\": 0, \"bytes\": 0}}");
    find(text, "\"groups_with_lost\": 1");
    /* lost bytes first: the leak is rank 1 */
    const char *first = find(text, "{\"rank\": 1,");
    const char *leak = find(text, "\"bytes\": 3000, \"blocks\": 30,");
    const char *second = find(text, "{\"rank\": 2,");
    assert_true(first < leak && leak < second);
    find(leak, "\"reachability\": {\"definitely_lost\": {\"blocks\": 30, \"bytes\": 3000}");
    /* only the cache is retained: by the mapping's word, one reference, to its first block */
    assert_int_equal(count_of(text, "\"retained_by\""), 1);
    const char *retained = find(second, "\"retained_by\": {\"root\": {\"kind\": \"mapping\"");
    find(retained, "\"address\": \"0x600008\"");
    find(retained, "\"references\": 1, \"chain\": [");
    char block[64];
    snprintf(block, sizeof(block), "{\"address\": \"0x%x\", \"size\": %u",
             FIRST_BLOCK + 30 * 0x100, CACHE_SIZE);
    find(retained, block);
    find(second, "\"reachable\": {\"blocks\": 5, \"bytes\": 5000}");
    capture_free(&c);
    fixture_release(&m);
}

/* A census: each leak block holds "GET /q?channelid=C&seq=i GET channelid=C" (C = 4100 for
 * every third block, 4099 for the others); two samples listed; --grep counts. */
static void test_samples_strings_grep(void **state)
{
    (void)state;
    struct model m;
    struct content_regex *re = fixture_census_model(&m);
    struct capture c;
    const char *text = report(&c, &m);
    const char *leak = find(text, "\"bytes\": 3000, \"blocks\": 30,");
    find(leak, "\"samples_captured\": 30,");
    /* block 0's sample, as hex and as text */
    const char *sample0 = "GET /q?channelid=4100&seq=0 GET channelid=4100";
    size_t n = strlen(sample0);
    char hex[2 * 64 + 1], want[512];
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)sample0[i]);
    snprintf(want, sizeof(want),
             "{\"address\": \"0x%x\", \"size\": %u, \"captured\": %zu, \"shown\": %zu, "
             "\"hex\": \"%s\", \"text\": \"%s\"}",
             FIRST_BLOCK, LEAK_SIZE, n, n, hex, sample0);
    find(leak, want);
    find(leak, "{\"address\": \"0x10000100\", \"size\": 100,");
    assert_null(strstr(leak, "\"address\": \"0x10000200\"")); /* --samples 2 */
    /* tokens of 4 bytes and more, cut at whitespace and '&': "/q?channelid=C", "seq=i",
     * "channelid=C" once per block; as shapes, 30 each */
    find(leak, "{\"text\": \"channelid=4099\", \"count\": 20}");
    find(leak, "{\"text\": \"/q?channelid=4100\", \"count\": 10}");
    find(leak, "\"strings_blocks_searched\": 30");
    find(leak, "{\"text\": \"channelid=#\", \"count\": 30}");
    /* every block matches twice: 60 matches, 40 + 20 of them, in 20 + 10 blocks */
    find(leak, "\"grep\": {\"pattern\": \"channelid=\\\\d+\", \"matches\": 60, "
               "\"blocks_searched\": 30, \"blocks_matched\": 30, \"distinct\": "
               "[{\"text\": \"channelid=4099\", \"count\": 40, \"blocks\": 20}, "
               "{\"text\": \"channelid=4100\", \"count\": 20, \"blocks\": 10}]}");
    capture_free(&c);
    fixture_release(&m);
    content_regex_free(re);
}

/* Hostile text where a snapshot carries names: the exe, the reason, a thread's name. */
static void hostile(struct lts_snapshot *s, size_t i)
{
    (void)i;
    s->exe = "srv\"</script>\x1b[2J\n";
    s->reason = "a\\b\r";
    s->threads[1].name = "w\t<x>\x7f\xff-1";
}

static void test_strings_escaped(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    render_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK}, hostile);
    struct capture c;
    const char *text = report(&c, &m);
    find(text, "\"exe\": \"srv\\\"\\u003c/script>\\u001b[2J\\n\"");
    find(text, "\"reason\": \"a\\\\b\\r\"");
    find(text, "\"name\": \"w\\t\\u003cx>\\u007f\\u00ff-1\"");
    /* nothing but printable ASCII and the document's own newlines; no '<' at all */
    for (size_t i = 0; i < c.size; i++) {
        unsigned char b = (unsigned char)text[i];
        if (b != '\n' && (b < 0x20 || b >= 0x7f || b == '<'))
            fail_msg("byte 0x%02x at offset %zu", b, i);
    }
    capture_free(&c);
    fixture_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_and_order),
        cmocka_unit_test(test_diff_series),
        cmocka_unit_test(test_reachability),
        cmocka_unit_test(test_samples_strings_grep),
        cmocka_unit_test(test_strings_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
