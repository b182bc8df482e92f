/* test_census.c — census.c, what the shown groups' samples hold, on snapshots built in memory
 * (model_fixture.h) whose every leak block carries the article's request text: --grep counts
 * per match and per block, the samples kept for a renderer, and only shown groups counted. */
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

#include "census.h"
#include "content.h"
#include "model_fixture.h"

static void test_census_grep(void **state)
{
    (void)state;
    struct model m;
    struct content_regex *re = fixture_census_model(&m);
    const struct group *leak = fixture_group_of(&m.grouping, 1), *cache = fixture_group_of(&m.grouping, 2);
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
    fixture_release(&m);
    content_regex_free(re);
}

/* census_count alone: only the groups it is told are shown are counted. */
static void test_counts_shown_groups_only(void **state)
{
    (void)state;
    struct lts_error err;
    struct content_regex *re = content_regex_compile("channelid=\\d+", &err);
    assert_non_null(re);
    struct spec sp = {
        .time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .census = true};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    const struct group *leak = fixture_group_of(&m.grouping, 1);
    assert_int_equal(leak->grep_searched, 0); /* the model was not asked to count */
    bool shown[2] = {false, false};
    assert_int_equal(census_count(m.snaps, m.nsnaps, &m.grouping, shown, re, 0, &err), 0);
    assert_int_equal(leak->grep_searched, 0);
    assert_int_equal(leak->grep_matched, 0);
    for (size_t i = 0; i < m.grouping.ngroups; i++)
        shown[i] = &m.grouping.groups[i] == leak;
    fixture_release(&m);
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    leak = fixture_group_of(&m.grouping, 1);
    assert_int_equal(census_count(m.snaps, m.nsnaps, &m.grouping, shown, re, 0, &err), 0);
    assert_int_equal(leak->grep_searched, 30);
    assert_int_equal(leak->grep_matched, 30);
    assert_null(leak->samples[0].bytes); /* keep 0: no bytes kept for a renderer */
    fixture_release(&m);
    content_regex_free(re);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_census_grep),
        cmocka_unit_test(test_counts_shown_groups_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
